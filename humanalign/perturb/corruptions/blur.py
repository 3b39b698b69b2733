"""Blur corruptions (ImageNet-C): defocus, glass, motion, zoom and gaussian blur.

Constants per severity 1..5 are those of Hendrycks & Dietterich (2019), ``make_imagenet_c.py``
(motion blur follows the ``imagecorruptions`` re-implementation of ImageMagick's motion blur).
Each function takes float images ``[B, 3, H, W]`` in [0, 1] and returns the same shape.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from humanalign.perturb.corruptions._common import (
    clipped_zoom,
    corruption,
    filter2d,
    gaussian_smooth,
    motion_blur_batch,
    uniform,
)

__all__ = [
    "DEFOCUS_BLUR",
    "GLASS_BLUR",
    "MOTION_BLUR",
    "ZOOM_BLUR_FACTORS",
    "GAUSSIAN_BLUR_SIGMA",
    "disk_kernel",
    "local_shuffle",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "gaussian_blur",
]

logger = logging.getLogger(__name__)

DEFOCUS_BLUR = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))  # (disk radius, alias blur sigma)
GLASS_BLUR = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))  # (sigma, max delta, iterations)
MOTION_BLUR = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))  # (radius, sigma)
ZOOM_BLUR_FACTORS = tuple(
    tuple(float(f) for f in np.arange(1, stop, step))
    for stop, step in ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03))
)
GAUSSIAN_BLUR_SIGMA = (1, 2, 3, 4, 6)


def _cv2_gaussian_taps(ksize: int, sigma: float) -> torch.Tensor:
    x = torch.arange(ksize, dtype=torch.float64) - (ksize - 1) / 2
    taps = torch.exp(-(x**2) / (2 * sigma**2))
    return taps / taps.sum()


def disk_kernel(radius: int, alias_blur: float) -> torch.Tensor:
    """The anti-aliased disk of ImageNet-C defocus blur (float64 ``[K, K]``, sums to 1).

    A binary disk on a grid of half-width ``max(8, radius)``, normalised, then smoothed by a 3x3
    (radius <= 8) or 5x5 Gaussian of sigma ``alias_blur`` with reflect-101 borders (``cv2.GaussianBlur``).
    """
    half = 8 if radius <= 8 else radius
    ksize = 3 if radius <= 8 else 5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).double()
    disk = disk / disk.sum()
    taps = _cv2_gaussian_taps(ksize, alias_blur)
    smooth = filter2d(disk[None, None], torch.outer(taps, taps), mode="mirror")[0, 0]
    return smooth


def local_shuffle(x: torch.Tensor, max_delta: int, generator: torch.Generator | None,
                  stride: int | None = None) -> torch.Tensor:
    """One pass of glass blur's local pixel "swaps", vectorised.

    ImageNet-C visits every pixel ``(h, w)`` with ``max_delta < h <= H - max_delta`` (same for w)
    in descending order and executes ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with
    ``(h', w') = (h + dy, w + dx)``, ``dx, dy`` uniform in ``[-max_delta, max_delta)``. On NumPy
    views this tuple assignment is a *copy*, ``x[h, w] <- x[h', w']`` (the second assignment writes
    the already-copied value back), so values hop along chains of visited pixels. We reproduce the
    copy: pixels on a grid of stride ``stride`` (default ``4 * max_delta``) never read each other, so
    each grid phase is copied at once, phases in the scan's descending order. A read that wraps
    across a grid block sees the value before the current pass (a difference from the sequential
    scan for about ``max_delta / (2 * stride)`` of the pixels per axis).

    Args:
        x: Images ``[B, C, H, W]``.
        max_delta: Largest displacement ``d`` (>= 1).
        generator: Seeded torch generator.
        stride: Grid stride (>= 2 * max_delta).

    Returns:
        Images ``[B, C, H, W]`` whose every pixel is a copy of an input pixel.
    """
    b, c, h, w = x.shape
    d = int(max_delta)
    stride = max(int(stride or 4 * d), 2 * d)
    pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c).clone()  # [B*H*W, C]: one row per pixel
    base = (torch.arange(b, device=x.device) * (h * w))[:, None]  # [B, 1] row offset of each image
    rows_all = torch.arange(h - d, d, -1, device=x.device)
    cols_all = torch.arange(w - d, d, -1, device=x.device)
    for a in range(stride):
        rows = rows_all[a::stride]
        for e in range(stride):
            cols = cols_all[e::stride]
            if rows.numel() == 0 or cols.numel() == 0:
                continue
            p = (rows[:, None] * w + cols[None, :]).reshape(1, -1) + base  # [B, n] pixels of this phase
            delta = torch.randint(-d, d, (b, p.shape[1], 2), generator=generator, device=x.device)
            q = p + delta[..., 0] * w + delta[..., 1]  # [B, n] source pixels
            pixels.index_copy_(0, p.reshape(-1), pixels.index_select(0, q.reshape(-1)))
    return pixels.view(b, h, w, c).permute(0, 3, 1, 2).contiguous()


@corruption("defocus_blur", DEFOCUS_BLUR, family="blur", parameter="(disk radius px, alias blur sigma)")
def defocus_blur(x: torch.Tensor, params: tuple[int, float],
                 generator: torch.Generator | None) -> torch.Tensor:
    """Convolution with an anti-aliased disk (out-of-focus lens); ``[B, 3, H, W] -> same``."""
    kernel = disk_kernel(*params).to(device=x.device, dtype=x.dtype)
    return filter2d(x, kernel, mode="mirror").clamp(0, 1)


@corruption("glass_blur", GLASS_BLUR, family="blur", parameter="(sigma, max delta px, iterations)")
def glass_blur(x: torch.Tensor, params: tuple[float, int, int],
               generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian blur, local pixel shuffling, Gaussian blur again (frosted glass); ``[B, 3, H, W] -> same``.

    As ImageNet-C, the first blur is quantised to 8 bits before shuffling.
    """
    sigma, delta, iterations = params
    x = torch.floor(gaussian_smooth(x, sigma).clamp(0, 1) * 255) / 255
    for _ in range(iterations):
        x = local_shuffle(x, delta, generator)
    return gaussian_smooth(x, sigma).clamp(0, 1)


@corruption("motion_blur", MOTION_BLUR, family="blur",
            parameter="(radius px, sigma px); angle ~ U(-45, 45) deg")
def motion_blur(x: torch.Tensor, params: tuple[int, float],
                generator: torch.Generator | None) -> torch.Tensor:
    """Linear camera-motion blur, a random angle in [-45, 45) deg per image; ``[B, 3, H, W] -> same``."""
    angles = uniform((x.shape[0],), -45.0, 45.0, x, generator)  # [B]
    return motion_blur_batch(x, *params, angles).clamp(0, 1)


@corruption("zoom_blur", ZOOM_BLUR_FACTORS, family="blur", parameter="zoom factors averaged")
def zoom_blur(x: torch.Tensor, factors: tuple[float, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Average of the image and centre zooms of it (moving towards the camera); ``[B, 3, H, W] -> same``."""
    # channels_last: bilinear resampling 1.5-1.8x faster per CPU core (one thread, as bench/corruptions.py
    # times it); with 2 threads on the 2-core CI machine the default layout was 1.6x faster instead.
    xc = x.contiguous(memory_format=torch.channels_last)
    out = xc.clone()
    for f in factors:
        out += clipped_zoom(xc, f)
    return (out / (len(factors) + 1)).clamp(0, 1).contiguous()


@corruption("gaussian_blur", GAUSSIAN_BLUR_SIGMA, family="blur", parameter="sigma px",
            source="ImageNet-C (validation corruption)")
def gaussian_blur(x: torch.Tensor, sigma: float, generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian blur of sigma ``sigma`` px with edge-replicated borders; ``[B, 3, H, W] -> same``."""
    return gaussian_smooth(x, sigma).clamp(0, 1)
