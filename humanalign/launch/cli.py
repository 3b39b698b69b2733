"""The launcher options every long command shares, and :func:`launch`, which runs the command elsewhere.

A command adds the options with :func:`add_launcher_args` and, when ``args.launcher`` is set, hands its
own argument list to :func:`launch` instead of running::

    parser = argparse.ArgumentParser(...); add_launcher_args(parser)
    args = parser.parse_args(argv)
    if args.launcher:
        return launch(args, argv, entry="humanalign.pretrain", run_dir=out)

``launch`` strips the launcher options from ``argv`` (the job runs the same command without them, so it
runs in place) and then:

- ``torchrun``: runs ``python -m torch.distributed.run`` on this machine in the foreground
  (``--standalone``; or one node of a manual multi-node job with ``--node-rank`` and ``--rdzv-endpoint``);
- ``local``: a submitit ``LocalExecutor`` job on this machine (own process, logs in the job folder,
  checkpoint and requeue on ``--time``), waited for;
- ``slurm``: a submitit SLURM job, one task per node, each running torchrun with a c10d rendezvous on
  the first node; it checkpoints and requeues itself with ``--resume`` on preemption or time-out.

``--dry-run`` prints the resources, the job script and the per-node command, and submits nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from humanalign.launch.job import LAUNCHED_ENV, LaunchJob
from humanalign.launch.nodes import Rendezvous, torchrun_command
from humanalign.launch.resources import (
    LaunchError,
    Resources,
    local_parameters,
    parse_sbatch_extras,
    parse_time_minutes,
)

__all__ = ["add_launcher_args", "launch", "resources_from_args", "strip_launcher_args", "LAUNCHERS"]

logger = logging.getLogger(__name__)

LAUNCHERS = ("local", "torchrun", "slurm")
DEFAULT_TIME = "24:00:00"


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--launcher`` and the resource options (an argument group of ``parser``)."""
    g = parser.add_argument_group("launcher (run this command under torchrun, as a local job or on SLURM)")
    g.add_argument("--launcher", choices=LAUNCHERS, default=None,
                   help="torchrun: this machine, foreground; local: a submitit job on this machine; "
                        "slurm: submit through submitit (default: run in this process)")
    g.add_argument("--nodes", type=int, default=1, help="nodes (slurm; torchrun with --rdzv-endpoint)")
    g.add_argument("--gpus-per-node", type=int, default=None,
                   help="GPUs per node (default: the GPUs visible here for torchrun/local, 0 for slurm)")
    g.add_argument("--procs-per-node", type=int, default=None,
                   help="training processes per node (default: one per GPU, or 1; >1 on CPU uses gloo)")
    g.add_argument("--cpus-per-task", type=int, default=None, help="CPUs per node's task (default 8 per process)")
    g.add_argument("--partition", help="SLURM partition")
    g.add_argument("--account", help="SLURM account")
    g.add_argument("--time", default=DEFAULT_TIME,
                   help=f"wall-clock limit per job, minutes or [D-]HH:MM:SS (default {DEFAULT_TIME}); the job "
                        "checkpoints and requeues itself before it")
    g.add_argument("--mem", help="memory per node, as sbatch --mem takes it (e.g. 200G)")
    g.add_argument("--sbatch", action="append", metavar="KEY=VALUE",
                   help="extra sbatch flag, repeatable (qos=high, constraint=h100, exclusive)")
    g.add_argument("--job-dir", help="submitit folder for job scripts and logs (default RUN/jobs or jobs/)")
    g.add_argument("--node-rank", type=int, default=0, help="torchrun launcher, manual multi-node: this node's rank")
    g.add_argument("--rdzv-endpoint", help="torchrun launcher, manual multi-node: HOST:PORT of the c10d rendezvous")
    g.add_argument("--dry-run", action="store_true", help="print the job script, resources and command; submit nothing")


def strip_launcher_args(argv: list[str]) -> list[str]:
    """``argv`` without the launcher options (``--opt value``, ``--opt=value``; abbreviations included).

    Abbreviations are matched as argparse matches them, so whatever the command's parser took as a
    launcher option is removed here too.
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_launcher_args(parser)
    _, rest = parser.parse_known_args(list(argv))
    return rest


def _gpus_here() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA
        return 0


def resources_from_args(args: argparse.Namespace, job_name: str = "humanalign") -> Resources:
    """The :class:`Resources` the launcher options ask for."""
    gpus = args.gpus_per_node
    if gpus is None:
        gpus = 0 if args.launcher == "slurm" else _gpus_here()
    return Resources(nodes=args.nodes, gpus_per_node=gpus, procs_per_node=args.procs_per_node,
                     cpus_per_task=args.cpus_per_task, time_min=parse_time_minutes(args.time), mem=args.mem,
                     partition=args.partition, account=args.account, job_name=job_name,
                     sbatch=parse_sbatch_extras(args.sbatch))


def _child_argv(argv: list[str], run_dir: Path | None) -> list[str]:
    child = strip_launcher_args(argv)
    if run_dir is not None and not any(a == "--out" or a.startswith("--out=") for a in child):
        child += ["--out", str(run_dir)]  # a requeued job must find the same run folder
    return child


def launch(args: argparse.Namespace, argv: list[str], entry: str = "humanalign.pretrain", *,
           run_dir: str | Path | None = None, resume_flag: str | None = "--resume") -> int:
    """Run ``python -m ENTRY argv`` (launcher options removed) under ``args.launcher``; returns an exit code.

    Args:
        args: Parsed arguments holding the options of :func:`add_launcher_args`.
        argv: The command's own argument list as typed (launcher options are stripped here).
        entry: Module the job runs.
        run_dir: The command's output folder: pinned as ``--out`` (so a requeued job finds it) and the
            default home of the job folder.
        resume_flag: Appended when a preempted job is requeued (None: requeue unchanged).

    Raises:
        LaunchError: bad resources, a nested launch, or a missing rendezvous endpoint.
    """
    if os.environ.get(LAUNCHED_ENV):
        raise LaunchError("--launcher inside a launched job: the job already runs under a launcher")
    run_dir = Path(run_dir) if run_dir is not None else None
    name = run_dir.name if run_dir is not None else entry.rsplit(".", 1)[-1]
    res = resources_from_args(args, job_name=name)
    child = _child_argv(argv, run_dir)
    job_dir = Path(args.job_dir) if args.job_dir else (run_dir / "jobs" if run_dir is not None else Path("jobs"))
    job = LaunchJob(entry, child, res.nproc_per_node, res.nodes, request_path=job_dir / "save_request",
                    resume_flag=resume_flag, save_timeout_s=max(30.0, res.signal_delay_s - 30.0))
    if args.launcher == "torchrun":
        return _torchrun(args, res, entry, child)
    if args.launcher == "local":
        return _local(args, res, job, job_dir)
    if args.launcher == "slurm":
        return _slurm(args, res, job, job_dir)
    raise LaunchError(f"unknown launcher {args.launcher!r}; known: {', '.join(LAUNCHERS)}")


def _torchrun(args: argparse.Namespace, res: Resources, entry: str, child: list[str]) -> int:
    rdzv = None
    if res.nodes > 1 or args.rdzv_endpoint:
        if not args.rdzv_endpoint:
            raise LaunchError("--launcher torchrun --nodes N needs --rdzv-endpoint HOST:PORT (and --node-rank); "
                              "or use --launcher slurm")
        host, _, port = args.rdzv_endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise LaunchError(f"--rdzv-endpoint {args.rdzv_endpoint!r}: expected HOST:PORT")
        rdzv = Rendezvous(res.nodes, args.node_rank, host, int(port), run_id=f"humanalign-{port}")
    cmd = torchrun_command(entry, child, res.nproc_per_node, rdzv)
    print(f"# resources: {res.summary()}")
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    return subprocess.run(cmd, env={**os.environ, LAUNCHED_ENV: "1"}, check=False).returncode


def _local(args: argparse.Namespace, res: Resources, job: LaunchJob, job_dir: Path) -> int:
    from humanalign.launch.executors import submit

    local_parameters(res)  # checks the resources fit this machine
    print(f"# local submitit job: {res.summary()}")
    print(f"# command: {shlex.join(job.command())}", flush=True)
    if args.dry_run:
        return 0
    submitted = submit("local", job_dir / "%j", res, job)
    print(f"job {submitted.job_id}: logs {submitted.paths.stdout} and {submitted.paths.stderr}", flush=True)
    try:
        submitted.result()
    except Exception as err:  # noqa: BLE001 - the job's own error, reported as its exit
        print(f"error: job {submitted.job_id} failed: {' '.join(str(err).split())[-500:]}", file=sys.stderr)
        return 1
    print(f"job {submitted.job_id} finished")
    return 0


def _per_node_command(job: LaunchJob) -> list[str]:
    if job.nodes == 1:
        return job.command()
    placeholder = Rendezvous(job.nodes, "$SLURM_NODEID", "<first host of $SLURM_JOB_NODELIST>",
                             "<29500 + job id % 10000>", run_id="$SLURM_JOB_ID")
    return LaunchJob(job.entry, job.argv, job.nproc_per_node, job.nodes, rdzv=placeholder).command()


def _slurm(args: argparse.Namespace, res: Resources, job: LaunchJob, job_dir: Path) -> int:
    from humanalign.launch.executors import sbatch_script, submit

    if args.dry_run:
        print(f"# resources: {res.summary()}")
        print(f"# job folder: {job_dir}; on preemption or time-out the job saves, then requeues with "
              f"{job.resume_flag or 'the same arguments'}")
        print(sbatch_script(job_dir / "%j", res))
        print(f"# each node's task runs: {shlex.join(_per_node_command(job))}")
        return 0
    submitted = submit("slurm", job_dir / "%j", res, job)
    print(f"submitted SLURM job {submitted.job_id} ({res.summary()})")
    print(f"  logs: {submitted.paths.stdout}")
    print(f"  watch: squeue -j {submitted.job_id}    cancel: scancel {submitted.job_id}")
    return 0
