"""Frost corruption (ImageNet-C constants) over procedurally generated frost textures."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

from humanalign.perturb.corruptions._common import corruption
from humanalign.perturb.corruptions.frost_textures import frost_bank

__all__ = ["FROST", "frost"]

logger = logging.getLogger(__name__)

FROST = ((1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))  # (image weight, frost weight)


@corruption("frost", FROST, family="weather", parameter="(image weight, frost weight)",
            source="ImageNet-C constants; textures generated procedurally (frost_textures.py)")
def frost(x: torch.Tensor, params: tuple[float, float], generator: torch.Generator | None) -> torch.Tensor:
    """Frosted lens ``clip(a * x + b * crop)`` of a random texture crop per image; ``[B, 3, H, W] -> same``.

    The texture is scaled up (bicubic, x1.1 margin as ``imagecorruptions``) when the image is
    larger than it.
    """
    a, b_weight = params
    b, _, h, w = x.shape
    bank = frost_bank(x.device, x.dtype)  # [N, 3, S, S]
    side = bank.shape[-1]
    if h >= side or w >= side:
        scale = 1.1 * max(h / side, w / side)
        new = math.ceil(side * scale)
        bank = F.interpolate(bank, size=(new, new), mode="bicubic", align_corners=False).clamp(0, 1)
        side = new
    which = torch.randint(0, bank.shape[0], (b,), generator=generator, device=x.device)
    top = torch.randint(0, side - h, (b,), generator=generator, device=x.device)
    left = torch.randint(0, side - w, (b,), generator=generator, device=x.device)
    rows = top[:, None] + torch.arange(h, device=x.device)[None]  # [B, H]
    cols = left[:, None] + torch.arange(w, device=x.device)[None]  # [B, W]
    crops = bank.permute(0, 2, 3, 1)[which[:, None, None], rows[:, :, None], cols[:, None, :]]  # [B, H, W, 3]
    return (a * x + b_weight * crops.permute(0, 3, 1, 2)).clamp(0, 1)
