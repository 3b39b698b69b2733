"""What a launched job asks for: nodes, GPUs, processes, time, memory, partition, extra sbatch flags.

One :class:`Resources` value is built from the command line (:func:`resources_from_args`) or in code
(a study's job graph) and turned into submitit parameters for SLURM (:func:`slurm_parameters`) or for
submitit's local executor (:func:`local_parameters`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Resources", "parse_time_minutes", "parse_sbatch_extras", "slurm_parameters", "local_parameters",
           "LaunchError"]

logger = logging.getLogger(__name__)


class LaunchError(ValueError):
    """Bad launcher input (resources, flags, a job graph); reported as one line with exit code 2."""


@dataclass(frozen=True)
class Resources:
    """Resources of one job.

    ``procs_per_node`` is how many training processes torchrun starts on each node (default: one per
    GPU, or one on a CPU-only job). ``time_min`` is the wall-clock limit; ``signal_delay_s`` is how long
    before it the job is told to checkpoint (SLURM ``--signal``), so it must cover one checkpoint save.
    """

    nodes: int = 1
    gpus_per_node: int = 0
    procs_per_node: int | None = None
    cpus_per_task: int | None = None
    time_min: int = 60
    mem: str | None = None
    partition: str | None = None
    account: str | None = None
    job_name: str = "humanalign"
    sbatch: dict[str, Any] = field(default_factory=dict)
    signal_delay_s: int = 180
    max_requeues: int = 20

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise LaunchError(f"--nodes must be >= 1, got {self.nodes}")
        if self.gpus_per_node < 0:
            raise LaunchError(f"--gpus-per-node must be >= 0, got {self.gpus_per_node}")
        if self.procs_per_node is not None and self.procs_per_node < 1:
            raise LaunchError(f"--procs-per-node must be >= 1, got {self.procs_per_node}")
        if self.time_min < 1:
            raise LaunchError(f"--time must be at least one minute, got {self.time_min} min")

    @property
    def nproc_per_node(self) -> int:
        """Training processes per node: ``procs_per_node``, else one per GPU, else 1."""
        return self.procs_per_node or max(1, self.gpus_per_node)

    @property
    def world_size(self) -> int:
        return self.nodes * self.nproc_per_node

    def summary(self) -> str:
        """One line naming every resource, for ``--dry-run`` and logs."""
        parts = [f"nodes={self.nodes}", f"gpus_per_node={self.gpus_per_node}",
                 f"processes_per_node={self.nproc_per_node}", f"world_size={self.world_size}",
                 f"cpus_per_task={self._cpus()}", f"time={self.time_min} min"]
        parts += [f"{k}={v}" for k, v in (("mem", self.mem), ("partition", self.partition),
                                          ("account", self.account)) if v]
        parts += [f"sbatch:{k}={v}" for k, v in self.sbatch.items()]
        return ", ".join(parts)

    def _cpus(self) -> int:
        return self.cpus_per_task or 8 * self.nproc_per_node


_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time_minutes(text: str | int) -> int:
    """SLURM time formats to whole minutes: ``90``, ``"90"``, ``"2:00:00"``, ``"1-12:00:00"``, ``"1-12"``.

    ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM`` and ``D-HH:MM:SS`` as ``sbatch --time`` reads them;
    seconds round up.

    Raises:
        LaunchError: anything else.
    """
    if isinstance(text, int):
        return text
    match = _TIME.match(str(text).strip())
    if match is None:
        raise LaunchError(f"--time {text!r}: expected minutes, HH:MM:SS or D-HH:MM:SS")
    days, a, b, c = match.groups()
    nums = [int(x) for x in (a, b, c) if x is not None]
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = (nums + [0, 0])[:3]
        total_s = ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    elif len(nums) == 1:
        total_s = nums[0] * 60
    elif len(nums) == 2:  # MM:SS
        total_s = nums[0] * 60 + nums[1]
    else:
        total_s = (nums[0] * 60 + nums[1]) * 60 + nums[2]
    return max(1, -(-total_s // 60))


def parse_sbatch_extras(items: list[str] | None) -> dict[str, Any]:
    """``["qos=high", "exclusive", "constraint=a100"]`` -> ``{"qos": "high", "exclusive": True, ...}``.

    Keys may be written with dashes or underscores and with or without a leading ``--``.

    Raises:
        LaunchError: an empty key.
    """
    extras: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-").replace("_", "-")
        if not key:
            raise LaunchError(f"--sbatch {item!r}: expected KEY=VALUE or a bare flag KEY")
        extras[key] = value if sep else True
    return extras


def slurm_parameters(res: Resources) -> dict[str, Any]:
    """``AutoExecutor.update_parameters`` keywords for SLURM: one task per node (it runs torchrun)."""
    params: dict[str, Any] = {
        "slurm_job_name": res.job_name, "slurm_nodes": res.nodes, "slurm_ntasks_per_node": 1,
        "slurm_cpus_per_task": res._cpus(), "slurm_time": res.time_min,
        "slurm_signal_delay_s": res.signal_delay_s,
    }
    if res.gpus_per_node:
        params["slurm_gpus_per_node"] = res.gpus_per_node
    for key, value in (("mem", res.mem), ("partition", res.partition), ("account", res.account)):
        if value:
            params[f"slurm_{key}"] = value
    if res.sbatch:
        params["slurm_additional_parameters"] = dict(res.sbatch)
    return params


def local_parameters(res: Resources) -> dict[str, Any]:
    """``LocalExecutor.update_parameters`` keywords (one node, one task that runs the job's processes)."""
    if res.nodes != 1:
        raise LaunchError(f"--launcher local runs on this machine only (got --nodes {res.nodes}); use slurm")
    return {"timeout_min": res.time_min, "gpus_per_node": res.gpus_per_node, "tasks_per_node": 1,
            "signal_delay_s": res.signal_delay_s}
