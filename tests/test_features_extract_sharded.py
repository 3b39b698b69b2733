"""Feature extraction under torchrun: each rank takes a share of the stimuli, the gathered result equals one
process's (rows in stimulus order, the same perturbation draws)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from humanalign.stimuli.base import StimulusSet
from tests.test_pretrain_ddp import run_torchrun

REPO = Path(__file__).resolve().parents[1]


def toy_set() -> StimulusSet:
    """Seven random 32 px images (an odd count: the last rank's share is shorter)."""
    rng = np.random.default_rng(0)
    pixels = {f"s{i}": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for i in range(7)}
    return StimulusSet("toy", pd.DataFrame({"stimulus_id": list(pixels)}), loader=lambda r: pixels[r["stimulus_id"]])


def noisy(x: torch.Tensor, k: int) -> torch.Tensor:
    """Gaussian noise seeded by the batch index in the whole set."""
    g = torch.Generator().manual_seed(1000 + k)
    return (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_two_ranks_gather_what_one_process_computes(tmp_path: Path) -> None:
    from humanalign.features import extract
    from humanalign.models.observers import load_observer

    one = extract(load_observer("vit_test_image"), toy_set(), layers=["block0", "final"], batch_size=2,
                  use_cache=False, progress=False, perturb=noisy)
    proc = run_torchrun(REPO / "tests" / "extract_driver.py", [str(tmp_path / "two.npz")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = np.load(tmp_path / "two.npz")
    assert list(two["ids"]) == one.stimulus_ids
    for layer in ("block0", "final"):
        np.testing.assert_allclose(two[layer], one[layer], atol=1e-6)
