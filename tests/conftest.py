"""Shared pytest fixtures: the real human/brain data in ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_root() -> Path:
    from humanalign.stimuli.base import shared_data_root

    return shared_data_root()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real data sets; skips the test when the folder is absent."""
    root = _shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared data folder not found at {root} (set HUMANALIGN_SHARED_DATA)")
    return root


def _sub(shared: Path, *parts: str) -> Path:
    path = shared.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data subfolder not found: {path}")
    return path


@pytest.fixture(scope="session")
def mvh_raw_data(shared_data: Path) -> Path:
    """model-vs-human ``raw-data/`` folder (17 data sets of human and model trials)."""
    return _sub(shared_data, "model-vs-human", "raw-data")


@pytest.fixture(scope="session")
def texture_shape_root(shared_data: Path) -> Path:
    """texture-vs-shape stimuli (edges/, silhouettes/, cue-conflict/)."""
    return _sub(shared_data, "texture-vs-shape")


@pytest.fixture(scope="session")
def rsa92_root(shared_data: Path) -> Path:
    """The 92-image RSA data (brain, behaviour and model RDMs, stimulus .mat)."""
    return _sub(shared_data, "rsa92")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep index/feature caches of the test run out of the user's ~/.cache."""
    os.environ.setdefault("HUMANALIGN_CACHE", str(tmp_path_factory.mktemp("humanalign-cache")))


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep torch deterministic and light on the 2-core CI machine."""
    import torch

    # two pytest-xdist workers share the 2 cores: one torch thread each (oversubscribed OpenMP threads spin)
    default = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"
    torch.set_num_threads(int(os.environ.get("HUMANALIGN_TEST_THREADS", default)))
