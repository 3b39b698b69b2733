"""``--imagenet-c-files``: corrupted images reach the model as the released ImageNet-C files' pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from humanalign.eval.grid import Cell, GridSettings, _generator, _transform
from humanalign.eval.labelled import LabelledSet
from humanalign.perturb.corruptions import imagenet_c_encode
from humanalign.registry import CORRUPTIONS
from humanalign.stimuli.base import StimulusSet


def test_corrupted_images_are_encoded_like_the_released_files() -> None:
    table = pd.DataFrame({"stimulus_id": ["a"]})
    data = LabelledSet("toy", StimulusSet("toy", table, loader=lambda row: None), ["x"], np.array([0]))
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cell, device = Cell("gaussian_noise", 3), torch.device("cpu")
    plain = _transform(cell, data, GridSettings(seed=1), device)(x, 0)
    files = _transform(cell, data, GridSettings(seed=1, imagenet_c_files=True), device)(x, 0)
    expected = CORRUPTIONS.get("gaussian_noise")(x, 3, generator=_generator(1, "gaussian_noise", 3, 0, device))
    torch.testing.assert_close(plain, expected)
    torch.testing.assert_close(files, imagenet_c_encode(expected).float() / 255)
    assert torch.equal(files * 255, (files * 255).round())  # on the 8-bit grid of a decoded JPEG
    assert (files - plain).abs().max() > 1 / 255  # JPEG q85 changes pixels: the option is not a no-op
