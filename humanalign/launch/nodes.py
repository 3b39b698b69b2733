"""Where the processes of a multi-node job meet: SLURM node lists and torchrun's c10d rendezvous.

Every node of a SLURM job runs one ``torch.distributed.run`` agent; the agents meet at a c10d rendezvous
hosted on the job's first node (the first host ``scontrol show hostnames $SLURM_JOB_NODELIST`` prints),
on a port derived from the job id so that two jobs sharing a node do not collide.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from dataclasses import dataclass

__all__ = ["parse_node_list", "Rendezvous", "rendezvous_from_env", "torchrun_command", "free_port"]

logger = logging.getLogger(__name__)

_GROUP = re.compile(r"([^,\[]+)(?:\[([^\]]*)\])?")


def parse_node_list(node_list: str) -> list[str]:
    """Expand a SLURM node list (``SLURM_JOB_NODELIST``) into host names, in order.

    ``"gpu[001-003,007],login-a"`` -> ``["gpu001", "gpu002", "gpu003", "gpu007", "login-a"]``; zero
    padding of ranges is kept. This is what ``scontrol show hostnames`` prints, without needing SLURM.

    Raises:
        ValueError: a malformed list (unbalanced brackets, bad range).
    """
    text = node_list.strip()
    if not text:
        return []
    hosts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _GROUP.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"malformed SLURM node list {node_list!r} at position {pos}")
        prefix, ranges = match.group(1), match.group(2)
        pos = match.end()
        # a bracket group may be followed by a suffix (rare): gpu[1-2]-ib
        suffix_end = pos
        while suffix_end < len(text) and text[suffix_end] not in ",[":
            suffix_end += 1
        suffix, pos = text[pos:suffix_end], suffix_end
        if pos < len(text) and text[pos] == "[":
            raise ValueError(f"malformed SLURM node list {node_list!r}: nested or repeated brackets")
        if ranges is None:
            hosts.append(prefix + suffix)
        else:
            hosts.extend(prefix + item + suffix for item in _expand_ranges(ranges, node_list))
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError(f"malformed SLURM node list {node_list!r} at position {pos}")
            pos += 1
    return hosts


def _expand_ranges(ranges: str, whole: str) -> list[str]:
    out: list[str] = []
    for part in ranges.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"malformed range {part!r} in SLURM node list {whole!r}")
        if not sep:
            out.append(lo)
            continue
        width = len(lo)
        if int(hi) < int(lo):
            raise ValueError(f"descending range {part!r} in SLURM node list {whole!r}")
        out.extend(str(i).zfill(width) for i in range(int(lo), int(hi) + 1))
    return out


@dataclass(frozen=True)
class Rendezvous:
    """One node's place in a multi-node torchrun job (strings stand in for values only SLURM knows,
    when a dry run prints the command)."""

    nnodes: int
    node_rank: int | str
    host: str
    port: int | str
    run_id: str

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


def rendezvous_from_env(env: dict[str, str] | None = None, base_port: int = 29500) -> Rendezvous:
    """The rendezvous of this SLURM task: head = first host of ``SLURM_JOB_NODELIST``, port from the job id.

    Outside SLURM (no node list) it is a single node on ``127.0.0.1``.
    """
    env = dict(os.environ if env is None else env)
    hosts = parse_node_list(env.get("SLURM_JOB_NODELIST", env.get("SLURM_NODELIST", "")))
    job_id = env.get("SLURM_JOB_ID", "") or env.get("SUBMITIT_LOCAL_JOB_ID", "") or "local"
    port = base_port + (int(job_id) % 10000 if job_id.isdigit() else 0)
    if not hosts:
        return Rendezvous(nnodes=1, node_rank=0, host="127.0.0.1", port=port, run_id=job_id)
    node_rank = int(env.get("SLURM_NODEID", "0"))
    return Rendezvous(nnodes=len(hosts), node_rank=node_rank, host=hosts[0], port=port, run_id=job_id)


def torchrun_command(module: str, argv: list[str], nproc_per_node: int, rdzv: Rendezvous | None = None,
                     python: str | None = None) -> list[str]:
    """``python -m torch.distributed.run ... -m MODULE ARGV`` for one node.

    Single node without a rendezvous: ``--standalone``. Otherwise c10d at ``rdzv.endpoint`` with
    ``--nnodes``, ``--node_rank`` and ``--rdzv_id`` (the job id), so every node's agent joins the same job.
    """
    cmd = [python or sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
    if rdzv is None:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={rdzv.nnodes}", f"--node_rank={rdzv.node_rank}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={rdzv.endpoint}", f"--rdzv_id={rdzv.run_id}"]
    return [*cmd, "-m", module, *argv]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (for local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
