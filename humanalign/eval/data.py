"""Multi-view inputs of labelled videos and images for the downstream evaluations.

The labelled set itself (folder, CSV or registered set; unreadable items skipped) is
:mod:`humanalign.eval.labelled`, re-exported here.

Views (as in the multi-view test of MAE-ST/VideoMAE): ``num_clips`` clips evenly spaced in time times
``num_crops`` square crops along the long side (1 = centre; 3 = start, centre, end). Each view is
resized to the model's ``img_size`` and normalised with its ``input_mean``/``input_std``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from humanalign.data.transforms import CropBox, crop_resize, normalize
from humanalign.eval.labelled import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    LabelledSet,
    _kind,
    load_labelled,
    readable,
)
from humanalign.io.video import clip_indices, clip_span, probe, read_frames
from humanalign.models.vit import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["VIDEO_EXTENSIONS", "IMAGE_EXTENSIONS", "LabelledSet", "load_labelled", "readable", "ViewSpec",
           "load_views", "view_frames", "read_image"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewSpec:
    """How inputs are cut into views.

    Attributes:
        img_size: Output side length.
        num_frames: Frames per clip (videos).
        stride: Frame step inside a clip.
        num_clips: Clips evenly spaced in time.
        num_crops: Square crops along the long side (1 or 3).
        mean, std: Normalisation.
    """

    img_size: int
    num_frames: int = 16
    stride: int = 4
    num_clips: int = 1
    num_crops: int = 1
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def num_views(self) -> int:
        return self.num_clips * self.num_crops


def _crop_boxes(height: int, width: int, num_crops: int) -> list[CropBox]:
    side = min(height, width)
    if num_crops == 1:
        return [CropBox((height - side) // 2, (width - side) // 2, side, side)]
    if num_crops != 3:
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    offsets = [0, (max(height, width) - side) // 2, max(height, width) - side]
    if width >= height:
        return [CropBox(0, o, side, side) for o in offsets]
    return [CropBox(o, 0, side, side) for o in offsets]


def _clip_starts(num_video_frames: int, span: int, num_clips: int) -> list[int]:
    last = max(0, num_video_frames - span)
    if num_clips == 1:
        return [last // 2]
    return [int(round(i * last / (num_clips - 1))) for i in range(num_clips)]


def read_image(path: Path) -> np.ndarray:
    """An image file as a one-frame clip ``uint8 [1, H, W, 3]`` (RGB).

    Raises:
        OSError: the file cannot be read as an image.
    """
    from PIL import Image

    with Image.open(path) as img:
        return np.array(img.convert("RGB"))[None]


def view_frames(path: Path, spec: ViewSpec) -> list[torch.Tensor]:
    """All views of one item as model-sized uint8 pixels, clips first then crops: ``[T, S, S, 3]`` per view
    of a video, ``[S, S, 3]`` per view of an image (not normalised).

    Raises:
        humanalign.io.video.VideoReadError / OSError: the file cannot be read (named in the message).
    """
    path = Path(path)
    is_image = _kind(path) == "image"
    if is_image:
        clips = [read_image(path)]  # [1, H, W, 3]
    else:
        total, _ = probe(path)
        span = clip_span(spec.num_frames, spec.stride)
        clips = [read_frames(path, clip_indices(total, spec.num_frames, spec.stride, start=min(s, total - 1)))
                 for s in _clip_starts(total, span, spec.num_clips)]
    views = []
    for frames in clips:
        for box in _crop_boxes(frames.shape[1], frames.shape[2], spec.num_crops):
            view = crop_resize(frames, box, spec.img_size)  # [T, S, S, 3]
            views.append(view[0] if is_image else view)
    return views


def load_views(path: Path, spec: ViewSpec) -> torch.Tensor:
    """All views of one item, normalised: ``[V, 3, T, S, S]`` for a video, ``[V, 3, S, S]`` for an image.

    Raises:
        humanalign.io.video.VideoReadError / OSError: the file cannot be read (named in the message).
    """
    views = []
    for view in view_frames(path, spec):
        chw = view.permute(2, 0, 1) if view.ndim == 3 else view.permute(3, 0, 1, 2)  # [3, (T,) S, S]
        views.append(normalize(chw.float().div_(255.0), spec.mean, spec.std))
    return torch.stack(views)
