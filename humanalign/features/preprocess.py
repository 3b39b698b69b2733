"""Turn stimulus pixels into normalised model input: resize, centre-crop, scale, normalise.

Images (``uint8 [H, W, 3]``) become ``float [3, S, S]``; clips (``uint8 [T, H, W, 3]``) become
``float [3, T, S, S]``. The shorter side is resized (bilinear or bicubic,
antialiased) to ``round(S / crop_fraction)`` and the centre ``S x S`` is cropped; values are scaled
to [0, 1] and normalised with the model's ``input_mean`` / ``input_std``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Preprocessing", "preprocessing_for"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preprocessing:
    """Deterministic pixel preprocessing; its fields are part of the feature-cache key.

    Attributes:
        img_size: Output side length ``S``.
        mean: Per-channel mean on the [0, 1] scale.
        std: Per-channel standard deviation on the [0, 1] scale.
        crop_fraction: Fraction of the resized shorter side kept by the centre crop (1.0 = resize
            the shorter side straight to ``S``).
        interpolation: ``"bilinear"`` or ``"bicubic"`` (antialiased either way).
    """

    img_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_fraction: float = 1.0
    interpolation: str = "bilinear"

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (stored in provenance and hashed into cache keys)."""
        d = asdict(self)
        d.update(mean=list(self.mean), std=list(self.std), resize=f"shorter-side {self.interpolation} antialias",
                 crop="centre")
        return d

    def __call__(self, pixels: np.ndarray) -> torch.Tensor:
        """Preprocess one stimulus.

        Args:
            pixels: ``uint8 [H, W, 3]`` image or ``uint8 [T, H, W, 3]`` clip.

        Returns:
            ``float32 [3, S, S]`` for an image, ``float32 [3, T, S, S]`` for a clip.

        Raises:
            ValueError: if the array is not an RGB image or clip.
        """
        arr = np.asarray(pixels)
        if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
            raise ValueError(f"expected uint8 [H, W, 3] or [T, H, W, 3] pixels, got shape {arr.shape}")
        frames = torch.from_numpy(np.array(arr, copy=True)).float().div_(255.0)
        frames = frames.reshape(-1, *arr.shape[-3:]).permute(0, 3, 1, 2)  # [T, 3, H, W]
        h, w = frames.shape[-2:]
        short = round(self.img_size / self.crop_fraction)
        scale = short / min(h, w)
        new_h, new_w = max(short, int(h * scale)), max(short, int(w * scale))  # as torchvision
        if (new_h, new_w) != (h, w):
            frames = F.interpolate(frames, size=(new_h, new_w), mode=self.interpolation, align_corners=False,
                                   antialias=True)
        top, left = round((new_h - self.img_size) / 2), round((new_w - self.img_size) / 2)  # as torchvision
        frames = frames[..., top:top + self.img_size, left:left + self.img_size]  # [T, 3, S, S]
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        frames = (frames - mean) / std
        if arr.ndim == 3:
            return frames[0]  # [3, S, S]
        return frames.permute(1, 0, 2, 3).contiguous()  # [3, T, S, S]


def preprocessing_for(model: Any, crop_fraction: float = 1.0) -> Preprocessing:
    """The preprocessing an encoder expects, from its ``img_size``, ``input_mean``, ``input_std``.

    Raises:
        AttributeError: naming the missing attribute when the model does not document its input.
    """
    for attr in ("img_size", "input_mean", "input_std"):
        if not hasattr(model, attr):
            raise AttributeError(f"{type(model).__name__} has no {attr!r}; feature extraction needs "
                                 "img_size, input_mean and input_std on the encoder")
    size = model.img_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    return Preprocessing(size, tuple(float(v) for v in model.input_mean),
                         tuple(float(v) for v in model.input_std), float(crop_fraction))
