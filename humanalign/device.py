"""One device story for every command: ``--device auto`` and ``--dtype auto``.

``auto`` device is this process's CUDA device when there is one, else the CPU. ``auto`` dtype is bf16
autocast on CUDA and fp32 on the CPU; ``bf16``/``fp16`` autocast on any device that supports it (CPU
bf16 autocast is exercised in the tests), ``fp32`` turns autocast off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["resolve_device", "resolve_dtype", "autocast", "DTYPES"]

DTYPES = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` -> this process's CUDA device if there is one, else CPU; otherwise ``torch.device(name)``.

    Raises:
        ValueError: for a CUDA device asked for on a machine without one.
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no CUDA device (use --device auto)")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``name`` on ``device``; None means plain fp32 (no autocast).

    Raises:
        ValueError: for a name outside :data:`DTYPES`.
    """
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` on ``device`` in ``dtype``, or nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
