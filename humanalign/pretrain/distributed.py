"""Process-group set-up for ``torchrun`` (NCCL on GPUs, gloo on CPU) and small collective helpers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "cleanup_distributed", "all_reduce_mean", "all_gather_lists",
           "process_group_active", "gather_rows", "gather_objects"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: rank, world size, local rank and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> this process's CUDA device if there is one, else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def init_distributed(device_name: str = "auto") -> DistInfo:
    """Join the process group if launched by ``torchrun`` (``WORLD_SIZE`` > 1), else run single-process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        logger.info("joined process group: rank %d of %d (%s)", rank, world, backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=device)


def cleanup_distributed() -> None:
    """Leave the process group if one was joined."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``value`` over all processes (identity when single-process)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def all_gather_lists(items: list[Any], info: DistInfo) -> list[Any]:
    """Concatenate a Python list from every process (identity when single-process)."""
    if not info.enabled:
        return list(items)
    gathered: list[list[Any]] = [[] for _ in range(info.world_size)]
    dist.all_gather_object(gathered, list(items))
    return [x for part in gathered for x in part]


def process_group_active() -> bool:
    """True inside an initialised ``torch.distributed`` job with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's ``x`` ``[N, ...]`` concatenated in rank order, with gradients flowing back to each.

    Returns:
        ``([world * N, ...], rank * N)``: the gathered rows and this process's first row among them
        (``(x, 0)`` when single-process). Every process must pass the same shape.
    """
    if not process_group_active():
        return x, 0
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous())), dist.get_rank() * x.shape[0]


def gather_objects(items: list[Any]) -> list[Any]:
    """:func:`all_gather_lists` over the default process group (identity when single-process)."""
    if not process_group_active():
        return list(items)
    return all_gather_lists(items, DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size()))
