"""Parametric OOD distortions of the model-vs-human benchmark, for any image set, vectorised in torch.

Each distortion maps a batch ``[B, 3, H, W]`` of float images in ``[0, 1]`` to a batch of the same
shape, at one condition level; random ones draw from an explicit :class:`torch.Generator`.
Definitions follow Geirhos et al. (2018, "Generalisation in humans and deep neural networks";
https://github.com/rgeirhos/generalisation-humans-DNNs, ``code/image_manipulation.py``):

* every distortion except ``colour`` and ``false-colour`` first converts to greyscale
  (luminance ``0.2125 R + 0.7154 G + 0.0721 B``), as the benchmark's stimuli are grey;
* ``contrast`` c: ``(1 - c) / 2 + c * x``;
* ``uniform-noise`` w: 30 % contrast, then ``+ U[-w, w]`` per pixel, clipped;
* ``low-pass`` s: Gaussian blur with standard deviation s pixels, border filled with the
  benchmark's mean grey 0.4423, clipped;
* ``high-pass`` s: ``x - lowpass_s(x)``, shifted so its mean is 0.4423, clipped (``inf`` = no filter);
* ``phase-scrambling`` w: every Fourier phase shifted by ``U[-w, w]`` degrees, conjugate-symmetric
  so the image stays real, amplitudes kept;
* ``power-equalisation``: Fourier amplitudes replaced by a reference amplitude spectrum (default the
  batch mean), phases kept;
* ``false-colour``: opponent colours (L-M and S-(L+M) axes of a DKL-like space negated, with the
  benchmark's cone and opponent matrices; a linear display is assumed, the monitor gamma table
  of the original is not applied);
* ``rotation`` by 0/90/180/270 degrees (exact pixel permutation);
* ``eidolon``: an eidolon-style partially coherent disarray (Koenderink et al. 2017): the image's
  band-pass levels are displaced by smooth random fields of standard deviation ``reach`` pixels,
  the fields shared across levels with weight ``coherence``; ``grain`` sets their smoothness.
  This is an approximation of the Eidolon factory, not a port of it.

:data:`CONDITION_LEVELS` holds the benchmark's levels per data set.

Example:
    >>> gen = torch.Generator().manual_seed(0)
    >>> noisy = distort(images, "uniform-noise", 0.35, generator=gen)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "CONDITION_LEVELS",
    "DISTORTIONS",
    "BG_GREY",
    "distort",
    "greyscale",
    "contrast",
    "uniform_noise",
    "low_pass",
    "high_pass",
    "phase_scrambling",
    "power_equalisation",
    "false_colour",
    "rotation",
    "eidolon",
    "gaussian_blur",
]

logger = logging.getLogger(__name__)

BG_GREY = 0.4423  # mean pixel value of the benchmark's images (filter border and high-pass mean)
_LUMA = (0.2125, 0.7154, 0.0721)

#: The benchmark's condition levels per data set (model-vs-human ``datasets/experiments.py``).
CONDITION_LEVELS: dict[str, tuple] = {
    "colour": ("colour", "greyscale"),
    "contrast": (1.0, 0.5, 0.3, 0.15, 0.10, 0.05, 0.03, 0.01),
    "high-pass": (math.inf, 3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4),
    "low-pass": (0, 1, 3, 5, 7, 10, 15, 40),
    "phase-scrambling": (0, 30, 60, 90, 120, 150, 180),
    "power-equalisation": ("original", "equalised"),
    "false-colour": ("true", "opponent"),
    "rotation": (0, 90, 180, 270),
    "eidolonI": tuple((2**k, 1.0, 10.0) for k in range(8)),
    "eidolonII": tuple((2**k, 0.3, 10.0) for k in range(8)),
    "eidolonIII": tuple((2**k, 0.0, 10.0) for k in range(8)),
    "uniform-noise": (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9),
}


def _check(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape [B, 3, H, W], got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}")
    return images


def greyscale(images: torch.Tensor) -> torch.Tensor:
    """Luminance, replicated to 3 channels: ``[B, 3, H, W] -> [B, 3, H, W]``."""
    w = torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    grey = (_check(images) * w).sum(dim=1, keepdim=True)  # [B, 1, H, W]
    return grey.expand(-1, 3, -1, -1).contiguous()


def _grey1(images: torch.Tensor) -> torch.Tensor:
    return greyscale(images)[:, :1]  # [B, 1, H, W]


def _rgb(grey: torch.Tensor) -> torch.Tensor:
    return grey.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()  # [B, 1, H, W] -> [B, 3, H, W]


def contrast(images: torch.Tensor, level: float) -> torch.Tensor:
    """Greyscale at contrast ``level`` in [0, 1] (1 = unchanged): ``(1 - c) / 2 + c x``."""
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"contrast level must be in [0, 1], got {level}")
    return (1 - level) / 2 + level * greyscale(images)


def uniform_noise(images: torch.Tensor, width: float, generator: torch.Generator,
                  contrast_level: float = 0.3) -> torch.Tensor:
    """Greyscale, contrast 0.3, plus uniform noise in ``[-width, width]``, clipped to [0, 1]."""
    grey = contrast(images, contrast_level)[:, :1]  # [B, 1, H, W]
    noise = torch.rand(grey.shape, generator=generator, dtype=grey.dtype, device=grey.device)
    return _rgb(grey + (2 * noise - 1) * width)


def _gauss_kernel(std: float, dtype: torch.dtype, device: torch.device, truncate: float = 4.0) -> torch.Tensor:
    radius = max(1, int(truncate * std + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / std) ** 2)
    return k / k.sum()  # [2r + 1]


def gaussian_blur(grey: torch.Tensor, std: float, fill: float = BG_GREY) -> torch.Tensor:
    """Separable Gaussian blur of ``[B, 1, H, W]`` with a constant border ``fill`` (std in pixels)."""
    if std <= 0:
        return grey
    k = _gauss_kernel(std, grey.dtype, grey.device)
    r = (len(k) - 1) // 2
    out = F.pad(grey, (r, r, r, r), mode="constant", value=fill)
    out = F.conv2d(out, k.view(1, 1, 1, -1))  # rows: [B, 1, H + 2r, W]
    return F.conv2d(out, k.view(1, 1, -1, 1))  # cols: [B, 1, H, W]


def low_pass(images: torch.Tensor, std: float) -> torch.Tensor:
    """Greyscale Gaussian low-pass with standard deviation ``std`` pixels (0 = unchanged)."""
    return _rgb(gaussian_blur(_grey1(images), float(std)))


def high_pass(images: torch.Tensor, std: float) -> torch.Tensor:
    """Greyscale ``x - lowpass_std(x)`` re-centred on the mean grey 0.4423 (``inf`` = unfiltered grey)."""
    grey = _grey1(images)
    if math.isinf(std):
        return _rgb(grey)
    band = grey - gaussian_blur(grey, float(std))
    return _rgb(band + (BG_GREY - band.mean(dim=(2, 3), keepdim=True)))


def _conjugate_odd(field: torch.Tensor) -> torch.Tensor:
    """Make ``[B, H, W]`` odd under ``k -> -k`` (mod size): keep one of each conjugate pair, negate its mate."""
    b, h, w = field.shape
    ky = torch.arange(h, device=field.device)
    kx = torch.arange(w, device=field.device)
    lin = ky[:, None] * w + kx[None, :]  # [H, W]
    neg = ((-ky) % h)[:, None] * w + ((-kx) % w)[None, :]  # linear index of -k
    flat = field.reshape(b, -1)
    mate = flat[:, neg.reshape(-1)].reshape(b, h, w)
    return torch.where(lin > neg, field, torch.where(lin < neg, -mate, torch.zeros_like(field)))


def phase_scrambling(images: torch.Tensor, width: float, generator: torch.Generator) -> torch.Tensor:
    """Shift every Fourier phase of the greyscale image by ``U[-width, width]`` degrees."""
    grey = _grey1(images)[:, 0].to(torch.float64)  # [B, H, W]
    spectrum = torch.fft.fft2(grey)
    noise = torch.rand(grey.shape, generator=generator, dtype=torch.float64, device=grey.device)
    shift = _conjugate_odd((2 * noise - 1) * math.radians(width))
    out = torch.fft.ifft2(spectrum * torch.exp(1j * shift)).real
    return _rgb(out.to(images.dtype)[:, None])


def power_equalisation(images: torch.Tensor, amplitude: torch.Tensor | None = None) -> torch.Tensor:
    """Replace the greyscale Fourier amplitudes by ``amplitude`` ``[H, W]`` (default: batch mean), keep phases."""
    grey = _grey1(images)[:, 0].to(torch.float64)  # [B, H, W]
    spectrum = torch.fft.fft2(grey)
    target = spectrum.abs().mean(dim=0) if amplitude is None else amplitude.to(torch.float64)
    if target.shape != grey.shape[1:]:
        raise ValueError(f"amplitude spectrum shape {tuple(target.shape)} != image shape {tuple(grey.shape[1:])}")
    out = torch.fft.ifft2(target * torch.exp(1j * spectrum.angle())).real
    return _rgb(out.to(images.dtype)[:, None])


# Cone fundamentals of the display primaries and DKL-like opponent matrix (generalisation-humans-DNNs).
_M = ((0.1619982647, 0.208049264, 0.0389347448),
      (0.0330275785, 0.2496504557, 0.0618343518),
      (0.0015524055, 0.0198861001, 0.1890224274))
_WHITE_CONES = (0.20449114, 0.17225619, 0.10523047)
_N = ((9.27590805, 9.27590805, 0.0),
      (7.86421647, -9.33587662, 0.0),
      (-3.39709047, -3.39709047, 12.16230246))


def false_colour(images: torch.Tensor) -> torch.Tensor:
    """Opponent colours: negate the L-M and S-(L+M) axes around the white point, keep luminance."""
    x = _check(images).to(torch.float64)
    m = torch.tensor(_M, dtype=torch.float64, device=x.device)
    n = torch.tensor(_N, dtype=torch.float64, device=x.device)
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64, device=x.device))
    white = torch.tensor(_WHITE_CONES, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    # rgb -> cones -> opponent -> flip -> cones -> rgb, as one 3x3 map around the white point
    forward = torch.linalg.inv(m) @ torch.linalg.inv(n) @ flip @ n  # [3, 3] acting on cone contrasts
    cones = torch.einsum("ij,bjhw->bihw", m, x) - white
    out = torch.einsum("ij,bjhw->bihw", forward, cones) + torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), white)
    return out.clamp(0, 1).to(images.dtype)


def rotation(images: torch.Tensor, angle: int) -> torch.Tensor:
    """Greyscale image rotated counter-clockwise by ``angle`` in {0, 90, 180, 270} degrees (exact)."""
    if angle % 90 != 0:
        raise ValueError(f"rotation angle must be a multiple of 90 degrees, got {angle}")
    return torch.rot90(greyscale(images), k=(angle // 90) % 4, dims=(2, 3))


def _gauss_transfer(stds: torch.Tensor, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """Fourier transfer functions ``[L, H, W]`` of Gaussian blurs with the given stds (pixels, periodic)."""
    fy = torch.fft.fftfreq(h, dtype=like.dtype, device=like.device)[:, None]
    fx = torch.fft.fftfreq(w, dtype=like.dtype, device=like.device)[None, :]
    f2 = fy**2 + fx**2  # [H, W] cycles/pixel squared
    return torch.exp(-2 * math.pi**2 * stds.view(-1, 1, 1) ** 2 * f2)


def _smooth_fields(shape: tuple[int, ...], grain: float, generator: torch.Generator,
                   like: torch.Tensor) -> torch.Tensor:
    """Gaussian noise of ``shape`` (last two dims H, W) blurred with std ``grain``, unit std per map."""
    noise = torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)
    h, w = shape[-2:]
    transfer = _gauss_transfer(torch.tensor([float(grain)], dtype=like.dtype), h, w, like)[0]
    smooth = torch.fft.ifft2(torch.fft.fft2(noise) * transfer).real
    return smooth / smooth.std(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def eidolon(images: torch.Tensor, reach: float, coherence: float, grain: float,
            generator: torch.Generator) -> torch.Tensor:
    """Eidolon-style partially coherent disarray of the greyscale image (see module docstring).

    Args:
        images: ``[B, 3, H, W]`` in [0, 1].
        reach: Displacement standard deviation in pixels (0 = unchanged).
        coherence: In [0, 1]; weight of the displacement field shared by all scale levels.
        grain: Smoothness (Gaussian std in pixels) of the displacement fields.
        generator: Source of the random fields.
    """
    if not 0.0 <= coherence <= 1.0:
        raise ValueError(f"coherence must be in [0, 1], got {coherence}")
    grey = _grey1(images)  # [B, 1, H, W]
    b, _, h, w = grey.shape
    n_levels = max(1, int(math.log2(min(h, w))))
    # band-pass levels (periodic Gaussian scale space): grey = sum(bands)
    stds = torch.cat([torch.zeros(1), 2.0 ** torch.arange(n_levels, dtype=torch.float64)]).to(grey.dtype)
    transfer = _gauss_transfer(stds, h, w, grey)  # [L + 1, H, W]
    transfer = torch.cat([transfer[:-1] - transfer[1:], transfer[-1:]])  # band-pass + coarsest low-pass
    bands = torch.fft.ifft2(torch.fft.fft2(grey) * transfer).real  # [B, L + 1, H, W]
    n_bands = bands.shape[1]
    common = _smooth_fields((b, 1, 2, h, w), grain, generator, grey)
    own = _smooth_fields((b, n_bands, 2, h, w), grain, generator, grey)
    field = coherence * common + math.sqrt(max(0.0, 1 - coherence**2)) * own  # [B, L + 1, 2, H, W]
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, dtype=grey.dtype, device=grey.device),
                            torch.linspace(-1, 1, w, dtype=grey.dtype, device=grey.device), indexing="ij")
    base = torch.stack([xs, ys], dim=-1)  # [H, W, 2] (x, y) in [-1, 1]
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], dtype=grey.dtype, device=grey.device)
    grid = base + reach * field.permute(0, 1, 3, 4, 2) * scale  # [B, L + 1, H, W, 2]
    warped = F.grid_sample(bands.reshape(b * n_bands, 1, h, w), grid.reshape(b * n_bands, h, w, 2),
                           mode="bilinear", padding_mode="border", align_corners=True)
    return _rgb(warped.reshape(b, n_bands, h, w).sum(dim=1, keepdim=True))


def _colour(images: torch.Tensor, level: str) -> torch.Tensor:
    if level not in ("colour", "greyscale"):
        raise ValueError(f"colour level must be 'colour' or 'greyscale', got {level!r}")
    return _check(images).clone() if level == "colour" else greyscale(images)


def _false(images: torch.Tensor, level: str) -> torch.Tensor:
    if level not in ("true", "opponent"):
        raise ValueError(f"false-colour level must be 'true' or 'opponent', got {level!r}")
    return _check(images).clone() if level == "true" else false_colour(images)


def _power(images: torch.Tensor, level: str, amplitude: torch.Tensor | None = None) -> torch.Tensor:
    if level not in ("original", "equalised"):
        raise ValueError(f"power-equalisation level must be 'original' or 'equalised', got {level!r}")
    return greyscale(images) if level == "original" else power_equalisation(images, amplitude)


#: data-set name -> (function(images, level, generator) -> images, needs a generator)
DISTORTIONS: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {
    "colour": (lambda x, v, g: _colour(x, v), False),
    "contrast": (lambda x, v, g: contrast(x, v), False),
    "high-pass": (lambda x, v, g: high_pass(x, v), False),
    "low-pass": (lambda x, v, g: low_pass(x, v), False),
    "phase-scrambling": (lambda x, v, g: phase_scrambling(x, v, g), True),
    "power-equalisation": (lambda x, v, g: _power(x, v), False),
    "false-colour": (lambda x, v, g: _false(x, v), False),
    "rotation": (lambda x, v, g: rotation(x, v), False),
    "eidolonI": (lambda x, v, g: eidolon(x, *v, generator=g), True),
    "eidolonII": (lambda x, v, g: eidolon(x, *v, generator=g), True),
    "eidolonIII": (lambda x, v, g: eidolon(x, *v, generator=g), True),
    "uniform-noise": (lambda x, v, g: uniform_noise(x, v, g), True),
}


def distort(images: torch.Tensor, name: str, level: object, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the benchmark distortion ``name`` at ``level`` to ``[B, 3, H, W]`` images in [0, 1].

    Raises:
        KeyError: for an unknown distortion name (listing the known ones).
        ValueError: if a random distortion gets no generator, or on a bad level or image shape.
    """
    if name not in DISTORTIONS:
        raise KeyError(f"unknown distortion {name!r}; known: {', '.join(DISTORTIONS)}")
    fn, random = DISTORTIONS[name]
    if random and generator is None:
        raise ValueError(f"distortion {name!r} is random: pass an explicit torch.Generator")
    return fn(_check(images), level, generator)
