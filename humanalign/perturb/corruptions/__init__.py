"""Image corruptions: the 15 ImageNet-C corruptions and its 4 validation corruptions, in torch.

Every corruption is registered in :data:`humanalign.registry.CORRUPTIONS` under its ImageNet-C
name and is called as ``fn(images, severity, generator=g)`` with float images ``[B, 3, H, W]`` in
[0, 1], ``severity`` in 1..5 and an optional seeded ``torch.Generator`` on the images' device
(same seed -> same output). Output has the input's shape, in [0, 1], not quantised to 8 bits
(except where the corruption itself quantises: JPEG, and pixelate, which follows PIL on 8-bit images). Registry metadata holds each
corruption's family and its per-severity constants.

Example:
    >>> from humanalign.registry import CORRUPTIONS
    >>> g = torch.Generator().manual_seed(0)
    >>> foggy = CORRUPTIONS.get("fog")(images, 3, generator=g)
"""

from __future__ import annotations

import torch

from humanalign.perturb.corruptions import blur, digital, frost, noise, spatter, weather  # noqa: F401 (register)
from humanalign.perturb.corruptions._common import CorruptionError
from humanalign.perturb.corruptions.imagenet_c_files import imagenet_c_encode, imagenet_c_jpeg_bytes

__all__ = ["IMAGENET_C_CORRUPTIONS", "EXTRA_CORRUPTIONS", "ALL_CORRUPTIONS", "FAMILIES", "CorruptionError", "corrupt",
           "imagenet_c_encode", "imagenet_c_jpeg_bytes"]

IMAGENET_C_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS = IMAGENET_C_CORRUPTIONS + EXTRA_CORRUPTIONS
FAMILIES = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur"),
    "weather": ("snow", "frost", "fog", "brightness", "spatter"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"),
}


def corrupt(images: torch.Tensor, name: str, severity: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the registered corruption ``name`` at ``severity`` to ``images [B, 3, H, W]``.

    Raises:
        humanalign.registry.UnknownNameError: for an unknown corruption name (lists close names).
        CorruptionError: for a bad shape, dtype or severity.
    """
    from humanalign.registry import CORRUPTIONS

    return CORRUPTIONS.get(name)(images, severity, generator=generator)
