"""Stimuli as batches of model-sized pixels in [0, 1], decoded by a DataLoader (workers optional).

Images become ``float [B, 3, S, S]`` and clips ``float [B, 3, T, S, S]``, resized and centre-cropped by
the observer's contract but not yet normalised: perturbations act on [0, 1] pixels, on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from humanalign.features.preprocess import Preprocessing
from humanalign.stimuli.base import StimulusSet

__all__ = ["unnormalised", "pixel_batches", "StimulusPixels"]


def unnormalised(prep: Preprocessing) -> Preprocessing:
    """The same resize and crop without normalisation (values stay in [0, 1])."""
    return Preprocessing(prep.img_size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), prep.crop_fraction, prep.interpolation)


class StimulusPixels(Dataset):
    """Item ``i`` of a stimulus set resized and cropped: ``float [3, S, S]`` or ``[3, T, S, S]`` in [0, 1]."""

    def __init__(self, stimuli: StimulusSet, prep: Preprocessing) -> None:
        self.stimuli, self.prep = stimuli, unnormalised(prep)

    def __len__(self) -> int:
        return len(self.stimuli)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.prep(self.stimuli.load(i))


def _stack(items: list[torch.Tensor]) -> torch.Tensor:
    if len({t.shape for t in items}) != 1:
        shapes = sorted({tuple(t.shape) for t in items})
        raise ValueError(f"one batch mixes input shapes {shapes} (images and clips of different lengths "
                         "cannot share a batch)")
    return torch.stack(items)


def pixel_batches(stimuli: StimulusSet, prep: Preprocessing, batch_size: int, workers: int = 0,
                  pixels: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """Batches in set order: from ``pixels`` (preloaded ``[N, 3, (T,) S, S]``, uint8 or float) when given,
    else decoded by a DataLoader with ``workers`` processes."""
    if pixels is not None:
        for start in range(0, pixels.shape[0], batch_size):
            chunk = pixels[start:start + batch_size]
            yield chunk.float().div_(255) if chunk.dtype == torch.uint8 else chunk
        return
    loader = DataLoader(StimulusPixels(stimuli, prep), batch_size=batch_size, shuffle=False,
                        num_workers=workers, collate_fn=_stack, persistent_workers=False)
    yield from loader
