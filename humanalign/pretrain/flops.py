"""Model FLOPs of a training step (``torch.utils.flop_counter``) and the peak bf16 rate of known GPUs.

Model FLOPs utilisation (MFU) = FLOPs of one step / step time / the GPU's peak dense bf16 rate. FLOPs
are what ``FlopCounterMode`` counts for the forward and backward (matrix products, convolutions,
attention); element-wise work is not counted, as in the usual MFU definition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["PEAK_BF16_FLOPS", "peak_bf16_flops", "count_flops", "mfu"]

logger = logging.getLogger(__name__)

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s; matched against torch.cuda.get_device_name().
PEAK_BF16_FLOPS: dict[str, float] = {
    "H100 PCIe": 756e12,
    "H100": 989e12,  # SXM
    "H200": 989e12,  # also GH200
    "A100": 312e12,
}


def peak_bf16_flops(device: torch.device | str | None = None, name: str | None = None) -> float | None:
    """Peak bf16 FLOP/s of a CUDA device (by name); None for CPUs and GPUs not in the table."""
    if name is None:
        device = torch.device(device or "cuda")
        if device.type != "cuda" or not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_BF16_FLOPS.items():  # most specific first
        if all(part in name for part in key.split()):
            return peak
    return None


def count_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` (e.g. forward + backward of one step) under ``FlopCounterMode``; returns (result, FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        result = fn()
    return result, int(counter.get_total_flops())


def mfu(flops_per_step: float, step_time_s: float, peak: float | None) -> float | None:
    """Model FLOPs utilisation in [0, 1] (None without a known peak or time)."""
    if not peak or step_time_s <= 0:
        return None
    return flops_per_step / step_time_s / peak
