"""Digital corruptions (ImageNet-C): brightness, contrast, saturate, elastic transform, pixelate, JPEG.

Constants per severity 1..5 are those of Hendrycks & Dietterich (2019), ``make_imagenet_c.py``.
Brightness and saturate edit V and S of HSV (skimage conventions) in closed form on RGB.
"""

from __future__ import annotations

import functools
import logging

import torch
import torch.nn.functional as F

from humanalign.perturb.corruptions._common import corruption, gaussian_smooth, uniform
from humanalign.perturb.corruptions.jpeg import jpeg_roundtrip

__all__ = [
    "BRIGHTNESS",
    "CONTRAST",
    "SATURATE",
    "ELASTIC",
    "PIXELATE",
    "JPEG_QUALITY",
    "box_resize_matrix",
    "brightness",
    "contrast",
    "saturate",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
]

logger = logging.getLogger(__name__)

BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value
CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)  # factor on deviations from the channel mean
SATURATE = ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2))  # S -> S * a + b
# (alpha, sigma, affine jitter) in px for 224-px images; ImageNet-C wrote 244 * k (sic, "should
# have been 224") and we keep its numbers exactly, scaling them by min(H, W) / 224 for other sizes.
ELASTIC = (
    (244 * 2, 244 * 0.7, 244 * 0.1),
    (244 * 2, 244 * 0.08, 244 * 0.2),
    (244 * 0.05, 244 * 0.01, 244 * 0.02),
    (244 * 0.07, 244 * 0.01, 244 * 0.02),
    (244 * 0.12, 244 * 0.01, 244 * 0.02),
)
PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)  # downscale factor
JPEG_QUALITY = (25, 18, 15, 10, 7)


@corruption("brightness", BRIGHTNESS, family="weather", parameter="HSV value offset")
def brightness(x: torch.Tensor, c: float, generator: torch.Generator | None) -> torch.Tensor:
    """Raise HSV value by ``c`` (clipped), keeping hue and saturation; ``[B, 3, H, W] -> same``.

    Scaling V with H and S fixed multiplies all channels by ``V' / V``; black pixels become grey V'.
    """
    v = x.max(1, keepdim=True).values
    v_new = (v + c).clamp(0, 1)
    scaled = x * (v_new / v.clamp(min=1e-12))
    return torch.where(v > 0, scaled, v_new.expand_as(x)).clamp(0, 1)


@corruption("contrast", CONTRAST, family="digital", parameter="contrast factor")
def contrast(x: torch.Tensor, c: float, generator: torch.Generator | None) -> torch.Tensor:
    """Shrink deviations from each image's per-channel mean by the factor ``c``; ``[B, 3, H, W] -> same``."""
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * c + mean).clamp(0, 1)


@corruption("saturate", SATURATE, family="digital", parameter="S -> S * a + b",
            source="ImageNet-C (validation corruption)")
def saturate(x: torch.Tensor, params: tuple[float, float], generator: torch.Generator | None) -> torch.Tensor:
    """Change HSV saturation to ``clip(S * a + b)``, keeping hue and value; ``[B, 3, H, W] -> same``.

    With V and H fixed each channel moves as ``V - (S'/S) (V - x)``. Grey pixels (S = 0) have hue 0
    (red) in skimage, so a positive offset ``b`` tints them red: ``(V, V(1-S'), V(1-S'))``.
    """
    a, b = params
    v = x.max(1, keepdim=True).values
    delta = v - x.min(1, keepdim=True).values
    s = torch.where(v > 0, delta / v.clamp(min=1e-12), torch.zeros_like(v))
    s_new = (s * a + b).clamp(0, 1)
    coloured = v - (s_new / s.clamp(min=1e-12)) * (v - x)
    grey = torch.cat([v, v * (1 - s_new), v * (1 - s_new)], 1)
    return torch.where(delta > 0, coloured, grey).clamp(0, 1)


def _affine_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """2x3 affine maps ``[B, 2, 3]`` taking 3 ``src`` points to ``dst`` points (``[B, 3, 2]``, x-y)."""
    ones = torch.ones(*src.shape[:-1], 1, dtype=src.dtype, device=src.device)
    a = torch.cat([src, ones], -1)  # [B, 3, 3]
    return torch.linalg.solve(a, dst).transpose(1, 2)  # [B, 2, 3]


@corruption("elastic_transform", ELASTIC, family="digital",
            parameter="(alpha px, sigma px, affine jitter px) at 224 px")
def elastic_transform(x: torch.Tensor, params: tuple[float, float, float],
                      generator: torch.Generator | None) -> torch.Tensor:
    """Random affine warp, then a smooth random displacement field; ``[B, 3, H, W] -> same``.

    As ImageNet-C: three points around the centre are jittered uniformly by up to the affine
    constant (reflect-101 borders); then each pixel reads the warped image at ``(y + dy, x + dx)``
    where ``dx, dy`` are uniform(-1, 1) noise smoothed by a Gaussian (sigma, truncate 3, reflect)
    times alpha.
    """
    b, _, h, w = x.shape
    k = min(h, w) / 224
    alpha, sigma, jitter = (p * k for p in params)  # px at this image size
    dt = x.dtype
    centre = torch.tensor([w // 2, h // 2], dtype=dt, device=x.device)
    sq = min(h, w) // 3
    src = torch.stack([centre + sq, centre + torch.tensor([sq, -sq], dtype=dt, device=x.device), centre - sq])
    src = src.expand(b, 3, 2)
    dst = src + uniform((b, 3, 2), -jitter, jitter, x, generator)
    inv = _affine_from_points(dst, src)  # output pixel -> source pixel (x, y)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=dt, device=x.device),
                            torch.arange(w, dtype=dt, device=x.device), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, h * w, 3)
    srcxy = (pts @ inv.transpose(1, 2)).view(b, h, w, 2)
    grid = torch.stack([2 * srcxy[..., 0] / max(w - 1, 1) - 1, 2 * srcxy[..., 1] / max(h - 1, 1) - 1], -1)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    noise = uniform((b, 2, h, w), -1.0, 1.0, x, generator)
    disp = gaussian_smooth(noise, sigma, truncate=3.0, mode="reflect") * alpha  # [B, 2, H, W] (dx, dy)
    sx, sy = xs + disp[:, 0], ys + disp[:, 1]
    grid = torch.stack([(2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1], -1)
    out = F.grid_sample(warped, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.clamp(0, 1)


@functools.lru_cache(maxsize=32)
def _box_matrix_cpu(n_out: int, n_in: int) -> torch.Tensor:
    """PIL's BOX resampling weights, ``[n_out, n_in]`` (``precompute_coeffs`` in ``libImaging/Resample.c``).

    Output pixel ``i`` has centre ``c = (i + 0.5) * scale``; input pixel ``j`` in the rounded window
    ``[int(c - support + 0.5), int(c + support + 0.5))`` gets weight 1 if ``(j - c + 0.5) / scale`` lies in
    ``(-0.5, 0.5]`` (its centre falls in the box), else 0; rows are normalised. The float64 operations are
    PIL's, in its order, so ties at box edges fall the same way.
    """
    scale = float(n_in) / n_out
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    inv = 1.0 / filterscale
    centre = (torch.arange(n_out, dtype=torch.float64) + 0.5) * scale  # [n_out]
    xmin = (centre - support + 0.5).trunc().clamp(min=0)  # C (int) truncation; arguments are positive
    xmax = (centre + support + 0.5).trunc().clamp(max=n_in)
    j = torch.arange(n_in, dtype=torch.float64)[None]  # [1, n_in]
    arg = ((j - centre[:, None]) + 0.5) * inv
    inside = (arg > -0.5) & (arg <= 0.5) & (j >= xmin[:, None]) & (j < xmax[:, None])
    weights = inside.to(torch.float64)
    return weights / weights.sum(1, keepdim=True).clamp(min=1.0)


@functools.lru_cache(maxsize=32)
def _nearest_index_cpu(n_out: int, n_in: int) -> torch.Tensor:
    """Source index per output pixel of PIL's NEAREST resize (``ImagingScaleAffine`` in ``Geometry.c``).

    PIL accumulates the position ``x = step / 2, x += step`` in float64 and truncates it; the running sum
    (not ``(i + 0.5) * step``) decides the ties, so it is reproduced step by step.
    """
    step = float(n_in) / n_out
    pos, out = step * 0.5, []
    for _ in range(n_out):
        out.append(min(int(pos), n_in - 1))
        pos += step
    return torch.tensor(out, dtype=torch.long)


def box_resize_matrix(n_out: int, n_in: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[n_out, n_in]`` matrix of PIL ``Image.BOX`` resampling (0/1 weights by pixel centre, normalised)."""
    return _box_matrix_cpu(int(n_out), int(n_in)).to(device=device, dtype=dtype)


@corruption("pixelate", PIXELATE, family="digital", parameter="downscale factor")
def pixelate(x: torch.Tensor, c: float, generator: torch.Generator | None) -> torch.Tensor:
    """PIL-BOX-downsample by the factor ``c``, upsample back with nearest neighbours; ``[B, 3, H, W] -> same``.

    As ``imagecorruptions``/ImageNet-C: ``resize((int(W c), int(H c)), BOX)`` then ``resize((W, H), NEAREST)``
    on an 8-bit image. PIL resamples horizontally then vertically and rounds half up to uint8 after each pass;
    so do we (in float64), so uint8-valued inputs give PIL's pixels exactly and the output lies on the 8-bit
    grid like the reference's.
    """
    h, w = x.shape[-2:]
    small_h, small_w = max(int(h * c), 1), max(int(w * c), 1)
    x64 = x.to(torch.float64)
    wide = _round_half_up_u8(x64 @ box_resize_matrix(small_w, w, x.device, torch.float64).T)  # [B, 3, H, w']
    small = _round_half_up_u8(box_resize_matrix(small_h, h, x.device, torch.float64) @ wide)  # [B, 3, h', w']
    rows, cols = _nearest_index_cpu(h, small_h).to(x.device), _nearest_index_cpu(w, small_w).to(x.device)
    return small.index_select(-2, rows).index_select(-1, cols).clamp(0, 1).to(x.dtype)


def _round_half_up_u8(v: torch.Tensor) -> torch.Tensor:
    """PIL's 8-bit rounding of a resampling pass, ``floor(255 v + 0.5) / 255``; the 1e-4 absorbs float error."""
    return torch.floor(v * 255 + (0.5 + 1e-4)).clamp(0, 255) / 255


@corruption("jpeg_compression", JPEG_QUALITY, family="digital", parameter="JPEG quality")
def jpeg_compression(x: torch.Tensor, quality: int, generator: torch.Generator | None) -> torch.Tensor:
    """Baseline 4:2:0 JPEG round trip at ``quality`` (torch, see ``jpeg.py``); ``[B, 3, H, W] -> same``."""
    return jpeg_roundtrip(x, quality)
