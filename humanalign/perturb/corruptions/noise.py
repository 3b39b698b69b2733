"""Noise corruptions (ImageNet-C): gaussian, shot, impulse and speckle noise.

Constants per severity 1..5 are those of Hendrycks & Dietterich (2019), ``make_imagenet_c.py``.
Each function takes float images ``[B, 3, H, W]`` in [0, 1] and returns the same shape.
"""

from __future__ import annotations

import logging

import torch

from humanalign.perturb.corruptions._common import corruption

__all__ = [
    "GAUSSIAN_NOISE_SIGMA",
    "SHOT_NOISE_PHOTONS",
    "IMPULSE_NOISE_AMOUNT",
    "SPECKLE_NOISE_SIGMA",
    "add_gaussian_noise",
    "add_shot_noise",
    "add_impulse_noise",
    "add_speckle_noise",
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
]

logger = logging.getLogger(__name__)

GAUSSIAN_NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT_NOISE_PHOTONS = (60.0, 25.0, 12.0, 5.0, 3.0)
IMPULSE_NOISE_AMOUNT = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE_NOISE_SIGMA = (0.15, 0.2, 0.35, 0.45, 0.6)


def add_gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None) -> torch.Tensor:
    """Additive Gaussian noise ``clip(x + N(0, sigma^2))`` per value; ``[B, C, H, W] -> same``."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * noise).clamp(0, 1)


def add_shot_noise(x: torch.Tensor, photons: float, generator: torch.Generator | None) -> torch.Tensor:
    """Poisson photon noise ``clip(Poisson(x * photons) / photons)``; ``[B, C, H, W] -> same``."""
    return (torch.poisson(x.clamp(min=0) * photons, generator=generator) / photons).clamp(0, 1)


def add_impulse_noise(x: torch.Tensor, amount: float, generator: torch.Generator | None) -> torch.Tensor:
    """Salt-and-pepper noise: each value becomes 0 or 1 with probability ``amount``; ``[B, C, H, W] -> same``.

    As ``skimage.util.random_noise(mode="s&p")``: values (not pixels) are hit independently, 0 and 1
    equally likely.
    """
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    # u < amount hits the value; within the hit, u < amount / 2 is pepper (0), else salt (1)
    return torch.where(u < amount, (u >= amount / 2).to(x.dtype), x)


def add_speckle_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None) -> torch.Tensor:
    """Multiplicative speckle noise ``clip(x + x * N(0, sigma^2))``; ``[B, C, H, W] -> same``."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + x * sigma * noise).clamp(0, 1)


# Each registered noise is its ``add_*`` function at that severity's constant.
gaussian_noise = corruption("gaussian_noise", GAUSSIAN_NOISE_SIGMA, family="noise",
                            parameter="sigma")(add_gaussian_noise)
shot_noise = corruption("shot_noise", SHOT_NOISE_PHOTONS, family="noise",
                        parameter="photons per unit intensity")(add_shot_noise)
impulse_noise = corruption("impulse_noise", IMPULSE_NOISE_AMOUNT, family="noise",
                           parameter="salt-and-pepper amount")(add_impulse_noise)
speckle_noise = corruption("speckle_noise", SPECKLE_NOISE_SIGMA, family="noise", parameter="sigma",
                           source="ImageNet-C (validation corruption)")(add_speckle_noise)
