"""Building a model with a fixed random init, so a random-init observer has the same weights hash every run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["seeded_build", "INIT_SEED"]

INIT_SEED = 0
T = TypeVar("T")


def seeded_build(build: Callable[[], T], seed: int = INIT_SEED) -> T:
    """``build()`` under ``torch.manual_seed(seed)``, leaving the caller's random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
