"""The job a launcher submits: run a command's module on one node (torchrun when several processes),
checkpoint and requeue itself with ``--resume`` when preempted or out of time.

:class:`LaunchJob` is a submitit ``Checkpointable``. submitit runs ``job()`` once per node (one SLURM
task per node); each call starts ``torch.distributed.run`` with the c10d rendezvous of
:func:`humanalign.launch.nodes.rendezvous_from_env`, or the module directly for one process. On the
preemption / time-limit signal submitit calls :meth:`LaunchJob.checkpoint` on the first node: it asks
the trainer to save (:mod:`humanalign.launch.save_request`), waits for that checkpoint, and returns the
same job with ``--resume`` appended, which submitit requeues.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import submitit

from humanalign.launch.nodes import Rendezvous, rendezvous_from_env, torchrun_command
from humanalign.launch.save_request import SAVE_REQUEST_ENV, SaveRequest

__all__ = ["LaunchJob", "LAUNCHED_ENV", "JobFailed"]

logger = logging.getLogger(__name__)

LAUNCHED_ENV = "HUMANALIGN_LAUNCHED"


class JobFailed(RuntimeError):
    """The launched command exited with a non-zero code."""


class LaunchJob(submitit.helpers.Checkpointable):
    """Run ``python -m ENTRY ARGV`` on this node as part of a (possibly multi-node) job.

    Args:
        entry: Module to run (``humanalign.pretrain``, ``experiments...`` scripts as modules, ...).
        argv: Its arguments (without launcher flags).
        nproc_per_node: Processes per node; more than one (or several nodes) runs torchrun.
        nodes: Nodes of the job (the rendezvous size).
        request_path: Where the save-request file lives (a shared folder: the run's or the job's).
        resume_flag: Appended on requeue (None: requeue with the same arguments).
        save_timeout_s: How long :meth:`checkpoint` waits for the trainer's checkpoint.
        env: Extra environment variables for the command.
        rdzv: Fixed rendezvous (tests, manual multi-node); default: from SLURM's variables.
    """

    def __init__(self, entry: str, argv: list[str], nproc_per_node: int = 1, nodes: int = 1,
                 request_path: str | Path | None = None, resume_flag: str | None = "--resume",
                 save_timeout_s: float = 150.0, env: dict[str, str] | None = None,
                 rdzv: Rendezvous | None = None) -> None:
        self.entry, self.argv = entry, list(argv)
        self.nproc_per_node, self.nodes = int(nproc_per_node), int(nodes)
        self.request_path = Path(request_path) if request_path else Path("jobs") / "save_request"
        self.resume_flag, self.save_timeout_s = resume_flag, float(save_timeout_s)
        self.env = dict(env or {})
        self.rdzv = rdzv
        self._process: subprocess.Popen | None = None

    # the running child is local state: never pickled into the requeued job
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_process"] = None
        return state

    @property
    def save_request(self) -> SaveRequest:
        return SaveRequest(self.request_path)

    def command(self) -> list[str]:
        """The command this node runs (wrapped so it ignores the preemption signal)."""
        wrap = [sys.executable, "-m", "humanalign.launch.agent"]
        if self.nodes == 1 and self.nproc_per_node == 1:
            return [*wrap, sys.executable, "-m", self.entry, *self.argv]
        rdzv = self.rdzv
        if rdzv is None and self.nodes > 1:
            rdzv = rendezvous_from_env()
            if rdzv.nnodes != self.nodes:
                raise JobFailed(f"job asked for {self.nodes} nodes but SLURM_JOB_NODELIST has {rdzv.nnodes}")
        return [*wrap, *torchrun_command(self.entry, self.argv, self.nproc_per_node, rdzv)]

    def __call__(self) -> int:
        """Run the command to its end; returns 0, raises :class:`JobFailed` on a non-zero exit."""
        request = self.save_request
        first_node = int(os.environ.get("SLURM_NODEID", "0")) == 0
        if first_node:
            request.clear()
        env = {**os.environ, **self.env, SAVE_REQUEST_ENV: str(request.path.resolve()), LAUNCHED_ENV: "1"}
        cmd = self.command()
        logger.info("running: %s", " ".join(cmd))
        self._process = subprocess.Popen(cmd, env=env)
        try:
            code = self._process.wait()
        finally:
            self._reap()
        if code != 0:
            raise JobFailed(f"{self.entry} exited with code {code}")
        return code

    def _reap(self) -> None:
        """Let a child that is saving finish (e.g. after submitit's requeue exit), then make sure it ends."""
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.wait(timeout=self.save_timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning("child %d still running; terminating it", proc.pid)
            proc.terminate()
            proc.wait(timeout=30)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission | None:
        """submitit's hook: ask the trainer to save now, wait for it, return the job to requeue.

        The trainer saves at the end of its current step and stops. If it never acknowledges (a
        command without the save protocol, or a save slower than ``save_timeout_s``) the job is still
        requeued: resume starts from the newest periodic checkpoint, which is just as exact.
        """
        request = self.save_request
        proc = self._process
        alive = (lambda: proc.poll() is None) if proc is not None else (lambda: True)
        if proc is not None and proc.poll() is not None and proc.returncode == 0:
            logger.info("command already finished: nothing to requeue")
            return None
        request.request()
        step = request.wait(self.save_timeout_s, alive=alive)
        logger.warning("preempted: %s; requeueing with %s", f"saved step {step}" if step is not None
                       else "no save acknowledged", self.resume_flag or "the same arguments")
        argv = list(self.argv)
        if self.resume_flag and self.resume_flag not in argv:
            argv.append(self.resume_flag)
        again = LaunchJob(self.entry, argv, self.nproc_per_node, self.nodes, self.request_path,
                          self.resume_flag, self.save_timeout_s, self.env, self.rdzv)
        return submitit.helpers.DelayedSubmission(again)
