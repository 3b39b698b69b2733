"""Weather corruptions (ImageNet-C): snow and fog (frost lives in ``frost.py``).

Constants per severity 1..5 are those of Hendrycks & Dietterich (2019), ``make_imagenet_c.py``.
"""

from __future__ import annotations

import logging

import torch

from humanalign.perturb.corruptions._common import (
    clipped_zoom,
    corruption,
    gray,
    motion_blur_batch,
    next_power_of_2,
    plasma_fractal,
    uniform,
)

__all__ = ["SNOW", "FOG", "snow", "fog"]

logger = logging.getLogger(__name__)

# (flake mean, flake std, zoom, threshold, blur radius, blur sigma, image weight)
SNOW = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)
FOG = ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # (fog strength, fractal wibble decay)


@corruption("snow", SNOW, family="weather",
            parameter="(mean, std, zoom, threshold, radius, sigma, image weight)")
def snow(x: torch.Tensor, params: tuple[float, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Snow: zoomed, thresholded, motion-blurred flakes over a brightened image; ``[B, 3, H, W] -> same``."""
    mean, std, zoom, threshold, radius, sigma, weight = params
    b, _, h, w = x.shape
    flakes = mean + std * torch.randn((b, 1, h, w), generator=generator, device=x.device, dtype=x.dtype)
    flakes = clipped_zoom(flakes, zoom)
    flakes = torch.where(flakes < threshold, torch.zeros_like(flakes), flakes).clamp(0, 1)
    angles = uniform((b,), -135.0, -45.0, x, generator)
    flakes = motion_blur_batch(flakes, radius, sigma, angles)
    flakes = torch.round(flakes.clamp(0, 1) * 255) / 255  # [B, 1, H, W], 8-bit as in ImageNet-C
    x = weight * x + (1 - weight) * torch.maximum(x, gray(x) * 1.5 + 0.5)
    return (x + flakes + torch.flip(flakes, dims=(-2, -1))).clamp(0, 1)


@corruption("fog", FOG, family="weather", parameter="(strength, fractal decay)")
def fog(x: torch.Tensor, params: tuple[float, float], generator: torch.Generator | None) -> torch.Tensor:
    """A plasma-fractal fog field added, then rescaled to the image maximum; ``[B, 3, H, W] -> same``."""
    strength, decay = params
    b, _, h, w = x.shape
    size = next_power_of_2(max(h, w))
    field = plasma_fractal(b, size, decay, x, generator)[:, None, :h, :w]  # [B, 1, H, W]
    max_val = x.flatten(1).max(1).values.view(b, 1, 1, 1)
    return ((x + strength * field) * max_val / (max_val + strength)).clamp(0, 1)
