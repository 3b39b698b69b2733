"""Clip transforms: uint8 frames -> normalised float tensors, with MAE-ST style crop/flip augmentation.

All randomness comes from a ``numpy.random.Generator`` passed in by the caller, so a transform is a
deterministic function of (clip, generator state). The whole clip shares one crop and one flip (the
same spatial augmentation for every frame, as in MAE-ST), so motion stays coherent.

Example:
    >>> tf = ClipTransform(img_size=112)
    >>> x = tf(frames, np.random.default_rng(0))  # uint8 [T, H, W, 3] -> float32 [3, T, 112, 112]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from humanalign.models.vit import IMAGENET_MEAN, IMAGENET_STD  # re-exported for callers of this module

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropBox",
    "sample_crop_box",
    "center_crop_box",
    "crop_resize",
    "to_float_clip",
    "normalize",
    "ClipTransform",
]


@dataclass(frozen=True)
class CropBox:
    """A crop rectangle in pixels: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int


def sample_crop_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    rng: np.random.Generator,
    attempts: int = 10,
) -> CropBox:
    """Random-resized-crop box (Inception / MAE-ST rule).

    Draws an area fraction uniformly from ``scale`` and a log-uniform aspect ratio (width/height) from
    ``ratio``; retries up to ``attempts`` times for a box that fits, then falls back to the largest
    centred box whose aspect ratio lies in ``ratio``.

    Args:
        height: Frame height in pixels.
        width: Frame width in pixels.
        scale: (min, max) fraction of the frame area covered by the crop, within (0, 1].
        ratio: (min, max) aspect ratio width/height of the crop.
        rng: Source of randomness.
        attempts: Tries before the fallback.

    Returns:
        A box inside the frame.
    """
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1, got {scale}")
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"crop ratio must satisfy 0 < min <= max, got {ratio}")
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(attempts):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return CropBox(top, left, h, w)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return CropBox((height - h) // 2, (width - w) // 2, h, w)


def center_crop_box(height: int, width: int) -> CropBox:
    """The largest centred square box."""
    side = min(height, width)
    return CropBox((height - side) // 2, (width - side) // 2, side, side)


def crop_resize(frames: np.ndarray | torch.Tensor, box: CropBox, size: int) -> torch.Tensor:
    """Crop and resize (bilinear, antialiased) uint8 frames, staying uint8.

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        box: Crop box in pixels of ``frames``.
        size: Output side length.

    Returns:
        uint8 ``[T, size, size, 3]``.
    """
    clip = torch.as_tensor(frames)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames [T, H, W, 3], got {tuple(clip.shape)} {clip.dtype}")
    clip = TF.resized_crop(clip.permute(0, 3, 1, 2), box.top, box.left, box.height, box.width, [size, size],
                           antialias=True)  # [T, 3, size, size]
    return clip.permute(0, 2, 3, 1)


def to_float_clip(frames: np.ndarray | torch.Tensor, box: CropBox, size: int, flip: bool) -> torch.Tensor:
    """Crop, resize (bilinear, antialiased; see :func:`crop_resize`), optionally flip, and scale to [0, 1].

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        box: Crop box in pixels of ``frames``.
        size: Output side length.
        flip: Mirror horizontally.

    Returns:
        float32 ``[3, T, size, size]`` in [0, 1].
    """
    clip = crop_resize(frames, box, size)  # [T, size, size, 3]
    if flip:
        clip = clip.flip(-2)
    return clip.permute(3, 0, 1, 2).float().div_(255.0)  # [3, T, size, size]


def normalize(clip: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` for ``[3, ...]`` tensors (returns a new tensor)."""
    shape = (-1,) + (1,) * (clip.ndim - 1)
    m = torch.tensor(mean, dtype=clip.dtype).view(shape)
    s = torch.tensor(std, dtype=clip.dtype).view(shape)
    return (clip - m) / s


@dataclass(frozen=True)
class ClipTransform:
    """uint8 clip -> normalised float32 clip, with random-resized crop and horizontal flip.

    Defaults follow MAE-ST pretraining (relative area 0.5-1.0, aspect 3/4-4/3, flip with p=0.5).
    With ``train=False`` it takes the centred square crop and never flips (no randomness used).

    Attributes:
        img_size: Output side length.
        scale: Crop area range (fraction of the frame).
        ratio: Crop aspect ratio range (width/height).
        hflip_prob: Probability of a horizontal flip.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel std divided by.
        train: Random augmentation on/off.
    """

    img_size: int = 224
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_prob: float = 0.5
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    train: bool = True

    def __call__(self, frames: np.ndarray | torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Transform uint8 ``[T, H, W, 3]`` into float32 ``[3, T, img_size, img_size]``."""
        height, width = int(frames.shape[1]), int(frames.shape[2])
        if self.train:
            box = sample_crop_box(height, width, self.scale, self.ratio, rng)
            flip = bool(rng.random() < self.hflip_prob)
        else:
            box, flip = center_crop_box(height, width), False
        clip = to_float_clip(frames, box, self.img_size, flip)
        return normalize(clip, self.mean, self.std)
