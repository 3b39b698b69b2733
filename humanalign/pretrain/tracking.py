"""Experiment tracking for the training loop: TensorBoard and Weights & Biases, memory and MFU.

The engine writes every log record to ``RUN/metrics.jsonl``; :class:`Tracker` adds to each record the
peak memory since the start (GB: CUDA allocator peak on GPUs, max RSS on CPU) and, on CUDA, model FLOPs
utilisation (FLOPs of the run's first optimizer step counted once with ``torch.utils.flop_counter``,
divided by the mean step time since the last record and the GPU's peak bf16 rate), and forwards the
record to the writers that are switched on:

- ``tensorboard=true``: TensorBoard event files in ``RUN/tensorboard/`` (one scalar per key);
- ``wandb=true``: a Weights & Biases run named after the run folder, with a stable id so a resumed run
  continues the same W&B run; project from ``$WANDB_PROJECT`` (default ``humanalign``); offline with
  ``WANDB_MODE=offline`` (files under ``RUN/wandb/``, upload later with ``wandb sync``).

Only the main process writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import time
from pathlib import Path
from typing import Any

import torch

from humanalign.config import to_dict
from humanalign.pretrain.flops import mfu, peak_bf16_flops

__all__ = ["Tracker"]

logger = logging.getLogger(__name__)


class Tracker:
    """Writers and derived metrics of one run (see the module docstring).

    Args:
        cfg: The run config (``tensorboard`` and ``wandb`` switches; sent to W&B as its config).
        run_dir: The run folder.
        is_main: Whether this process writes.
        device: The training device (CUDA: memory from the allocator, MFU).
    """

    def __init__(self, cfg: Any, run_dir: Path, is_main: bool, device: torch.device) -> None:
        self.run_dir, self.is_main, self.device = Path(run_dir), is_main, device
        self.tensorboard = self._tensorboard(cfg) if is_main and cfg.tensorboard else None
        self.wandb = self._wandb(cfg) if is_main and getattr(cfg, "wandb", False) else None
        self.mfu_enabled = device.type == "cuda"  # MFU needs a GPU's peak rate
        self.peak = peak_bf16_flops(device) if self.mfu_enabled else None
        self.flops_per_step: int | None = None
        self._counter: Any = None
        self._counted = 0
        self._last_step: int | None = None
        self._last_time = time.perf_counter()

    # -- writers ----------------------------------------------------------------------------------
    def _tensorboard(self, cfg: Any) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # pragma: no cover - depends on an optional package
            raise RuntimeError("tensorboard=true needs the 'tensorboard' package "
                               "(pip install 'humanalign[tracking]')") from err
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    def _wandb(self, cfg: Any) -> Any:
        try:
            import wandb
        except ImportError as err:  # pragma: no cover - depends on an optional package
            raise RuntimeError("wandb=true needs the 'wandb' package (pip install 'humanalign[tracking]')") from err
        run_id = hashlib.sha256(str(self.run_dir.resolve()).encode()).hexdigest()[:16]
        return wandb.init(project=os.environ.get("WANDB_PROJECT", "humanalign"), name=self.run_dir.name,
                          id=run_id, resume="allow", dir=str(self.run_dir), config=to_dict(cfg))

    # -- FLOPs of the first step (CUDA) -----------------------------------------------------------
    def begin_flop_count(self, first_step: bool) -> None:
        """Start counting FLOPs of this micro-step's forward + backward (first step on CUDA only)."""
        if not (first_step and self.mfu_enabled and self.is_main and self.flops_per_step is None):
            return
        from torch.utils.flop_counter import FlopCounterMode

        self._counter = FlopCounterMode(display=False)
        self._counter.__enter__()

    def end_flop_count(self) -> None:
        """Stop counting; the micro-steps of the first step add up to ``flops_per_step``."""
        if self._counter is None:
            return
        self._counter.__exit__(None, None, None)
        self._counted += int(self._counter.get_total_flops())
        self._counter = None

    # -- records ----------------------------------------------------------------------------------
    def extras(self, step: int) -> dict[str, float]:
        """Peak memory and (CUDA) MFU for the record of ``step``."""
        if self._counted and self.flops_per_step is None:
            self.flops_per_step = self._counted
        now = time.perf_counter()
        out: dict[str, float] = {}
        if self.device.type == "cuda":
            out["max_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 1e9
        else:
            out["max_mem_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
        if self.flops_per_step and self._last_step is not None and step > self._last_step:
            value = mfu(self.flops_per_step, (now - self._last_time) / (step - self._last_step), self.peak)
            if value is not None:
                out["mfu"] = value
        self._last_step, self._last_time = step, now
        return out

    def log(self, record: dict[str, float]) -> None:
        """Send a record (``step`` plus scalars) to TensorBoard and W&B."""
        step = int(record["step"])
        scalars = {k: v for k, v in record.items() if k not in ("step", "time")}
        if self.tensorboard is not None:
            for key, value in scalars.items():
                self.tensorboard.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(scalars, step=step)

    def close(self) -> None:
        """Flush and close the writers."""
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()
