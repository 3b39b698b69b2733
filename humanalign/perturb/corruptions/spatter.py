"""Spatter corruption (ImageNet-C validation corruption): water drops (severity 1-3) or mud (4-5).

Constants per severity 1..5 are those of Hendrycks & Dietterich (2019). The water branch of the
original uses OpenCV (Canny edges, an L2 distance transform truncated at 20 px, histogram
equalisation and an emboss filter) to shade the drops; here each step is a torch equivalent:
Canny edges (L1 Sobel magnitude, non-maximum suppression in 4 directions, then hysteresis with thresholds
50/150 grown 8 steps), and an octagonal (alternating square/cross dilation) distance truncated at 20 px.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from humanalign.perturb.corruptions._common import corruption, filter2d, gaussian_smooth

__all__ = ["SPATTER", "spatter", "equalize_hist"]

logger = logging.getLogger(__name__)

# (liquid mean, liquid std, smoothing sigma, threshold, shading gain / mud sigma, mud?)
SPATTER = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)
_WATER = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise (RGB)
_MUD = (63 / 255, 42 / 255, 20 / 255)  # mud brown (RGB)
_EMBOSS = ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0))


def equalize_hist(v: torch.Tensor) -> torch.Tensor:
    """Per-image histogram equalisation of 8-bit values ``v [B, 1, H, W]`` (as ``cv2.equalizeHist``)."""
    b = v.shape[0]
    idx = v.long().clamp(0, 255).flatten(1)  # [B, N]
    n = idx.shape[1]
    hist = torch.bincount((idx + 256 * torch.arange(b, device=v.device)[:, None]).flatten(),
                          minlength=256 * b).view(b, 256).to(v.dtype)
    cdf = hist.cumsum(1)
    first = torch.where(hist > 0, cdf, torch.full_like(cdf, float("inf"))).min(1, keepdim=True).values
    denom = (n - first).clamp(min=1)
    lut = torch.round((cdf - first).clamp(min=0) * 255 / denom)  # [B, 256]
    return lut.gather(1, idx).view_as(v)


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[y, x] = x[y + dy, x + dx]`` with edge replication, for ``x [B, 1, H, W]``."""
    h, w = x.shape[-2:]
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return p[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def _edges(u8: torch.Tensor, low: float = 50.0, high: float = 150.0, grow: int = 8) -> torch.Tensor:
    """Canny edges of 8-bit values ``[B, 1, H, W]``: L1 Sobel magnitude, non-maximum suppression along
    the gradient direction (4 bins), and hysteresis grown ``grow`` steps from the strong edges."""
    sobel = torch.tensor(((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0)), device=u8.device, dtype=u8.dtype)
    gx = filter2d(u8, sobel, mode="nearest")
    gy = filter2d(u8, sobel.T, mode="nearest")
    mag = gx.abs() + gy.abs()
    ax, ay = gx.abs(), gy.abs()
    horizontal = ay <= ax * 0.41421356  # tan(22.5 deg)
    vertical = ay > ax * 2.41421356  # tan(67.5 deg)
    same_sign = (gx * gy) > 0
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for mask, (dy, dx) in ((horizontal, (0, 1)), (vertical, (1, 0)),
                           (~horizontal & ~vertical & same_sign, (1, 1)),
                           (~horizontal & ~vertical & ~same_sign, (1, -1))):
        peak = (mag > _shift(mag, -dy, -dx)) & (mag >= _shift(mag, dy, dx))
        keep |= mask & peak
    thin = mag * keep
    weak = thin > low
    edges = thin > high
    for _ in range(grow):
        edges = edges | (weak & _dilate(edges, square=True))
    return edges


def _dilate(r: torch.Tensor, square: bool) -> torch.Tensor:
    """Binary dilation of a bool mask ``r [B, 1, H, W]`` by a 3x3 square or a plus-shaped cross."""
    p = F.pad(r.view(torch.uint8), (1, 1, 1, 1)).view(torch.bool)
    vertical = p[:, :, :-2, 1:-1] | p[:, :, 2:, 1:-1] | r
    horizontal = p[:, :, 1:-1, :-2] | p[:, :, 1:-1, 2:]
    if not square:
        return vertical | horizontal
    pv = F.pad(vertical.view(torch.uint8), (1, 1, 0, 0)).view(torch.bool)
    return pv[..., :-2] | pv[..., 2:] | vertical


def _truncated_distance(edges: torch.Tensor, limit: int = 20) -> torch.Tensor:
    """Steps of alternating square/cross dilation until an edge is reached (an octagonal distance), capped."""
    reached = edges.to(torch.bool)
    dist = torch.zeros(edges.shape, dtype=torch.uint8, device=edges.device)
    for i in range(limit):
        dist += ~reached
        reached = _dilate(reached, square=(i % 2 == 0))
    return dist.float()


@corruption("spatter", SPATTER, family="weather", parameter="(mean, std, sigma, threshold, gain/sigma, mud)",
            source="ImageNet-C (validation)")
def spatter(x: torch.Tensor, params: tuple[float, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Water drops (severity 1-3) or mud splashes (4-5) on the lens; ``[B, 3, H, W] -> same``."""
    mean, std, sigma, threshold, gain, mud = params
    b, _, h, w = x.shape
    liquid = mean + std * torch.randn((b, 1, h, w), generator=generator, device=x.device, dtype=x.dtype)
    liquid = gaussian_smooth(liquid, sigma)
    liquid = torch.where(liquid < threshold, torch.zeros_like(liquid), liquid)
    if mud:
        m = gaussian_smooth((liquid > threshold).to(x.dtype), gain)
        m = torch.where(m < 0.8, torch.zeros_like(m), m)
        color = torch.tensor(_MUD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * (1 - m) + color * m).clamp(0, 1)
    u8 = torch.floor((liquid * 255).clamp(0, 255))
    dist = _truncated_distance(_edges(u8)).to(x.dtype)
    box = torch.full((3, 3), 1 / 9, device=x.device, dtype=x.dtype)
    dist = torch.floor(filter2d(dist, box))
    dist = equalize_hist(dist)
    dist = torch.round(filter2d(dist, torch.tensor(_EMBOSS, device=x.device, dtype=x.dtype))).clamp(0, 255)
    dist = filter2d(dist, box)
    m = u8 * dist
    m = m / m.flatten(1).max(1).values.clamp(min=1e-12).view(b, 1, 1, 1) * gain
    color = torch.tensor(_WATER, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x + m * color).clamp(0, 1)
