"""submitit executors for the launchers, the dry run's job script, and job graphs with dependencies.

- ``slurm``: ``submitit.AutoExecutor(cluster="slurm")``, one task per node.
- ``local``: ``submitit.LocalExecutor``: a job on this machine in its own process, with the same
  checkpoint / requeue on time-out as on SLURM (what the tests use).
- the dry run builds submitit's own SLURM executor without needing ``srun`` and asks it for the sbatch
  script it would write, so what is printed is exactly what would be submitted.

:func:`submit_graph` submits jobs that wait on other jobs: on SLURM through
``--dependency=afterok:ID[:ID...]``; locally by waiting on the prerequisites' results first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit
from submitit.slurm.slurm import SlurmExecutor

from humanalign.launch.job import LaunchJob
from humanalign.launch.resources import LaunchError, Resources, local_parameters, slurm_parameters

__all__ = ["make_executor", "sbatch_script", "submit", "JobNode", "submit_graph", "graph_order", "EXECUTORS"]

logger = logging.getLogger(__name__)

EXECUTORS = ("slurm", "local")


class _DryRunSlurmExecutor(SlurmExecutor):
    """submitit's SLURM executor on a machine without SLURM: renders scripts, never submits."""

    @classmethod
    def affinity(cls) -> int:
        return 1

    def _submit_command(self, command: str) -> Any:  # pragma: no cover - guarded: a dry run submits nothing
        raise LaunchError("a dry run cannot submit")


def make_executor(kind: str, folder: str | Path, res: Resources) -> submitit.Executor:
    """A submitit executor of ``kind`` (``slurm`` or ``local``) with ``res`` applied; logs go to ``folder``."""
    if kind == "slurm":
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm",
                                         slurm_max_num_timeout=res.max_requeues)
        executor.update_parameters(**slurm_parameters(res))
        return executor
    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder), max_num_timeout=res.max_requeues)
        executor.update_parameters(**local_parameters(res))
        return executor
    raise LaunchError(f"unknown executor {kind!r}; known: {', '.join(EXECUTORS)}")


def _dry_run_executor(folder: str | Path, res: Resources, extra: dict[str, Any] | None = None) -> SlurmExecutor:
    executor = _DryRunSlurmExecutor(folder=str(folder), max_num_timeout=res.max_requeues)
    params = {k.removeprefix("slurm_"): v for k, v in slurm_parameters(res).items()}
    if extra:
        params["additional_parameters"] = {**params.get("additional_parameters", {}), **extra}
    try:
        executor.update_parameters(**params)  # submitit validates every key here
    except (ValueError, TypeError) as err:
        raise LaunchError(f"invalid SLURM resources: {' '.join(str(err).split())}") from err
    return executor


def sbatch_script(folder: str | Path, res: Resources, extra: dict[str, Any] | None = None) -> str:
    """The sbatch script submitit would write for a job with ``res`` (``%j`` stands for the job id)."""
    executor = _dry_run_executor(folder, res, extra)
    return executor._make_submission_file_text(executor._submitit_command_str, "dry-run")


def submit(kind: str, folder: str | Path, res: Resources, job: LaunchJob,
           extra: dict[str, Any] | None = None) -> submitit.Job:
    """Submit one job; ``extra`` adds sbatch flags for this job only (e.g. a dependency)."""
    executor = make_executor(kind, folder, res)
    if extra and kind == "slurm":
        merged = {**res.sbatch, **extra}
        executor.update_parameters(slurm_additional_parameters=merged)
    submitted = executor.submit(job)
    logger.info("submitted %s job %s (%s)", kind, submitted.job_id, res.summary())
    return submitted


@dataclass
class JobNode:
    """One job of a graph: a name, what runs, what it needs, and the names it waits for."""

    name: str
    job: LaunchJob
    resources: Resources = field(default_factory=Resources)
    after: list[str] = field(default_factory=list)


def graph_order(nodes: list[JobNode]) -> list[JobNode]:
    """Nodes in dependency order (prerequisites first, otherwise as given).

    Raises:
        LaunchError: duplicate names, unknown prerequisites or a cycle.
    """
    by_name: dict[str, JobNode] = {}
    for node in nodes:
        if node.name in by_name:
            raise LaunchError(f"job graph: duplicate job name {node.name!r}")
        by_name[node.name] = node
    for node in nodes:
        missing = [a for a in node.after if a not in by_name]
        if missing:
            raise LaunchError(f"job graph: {node.name!r} waits for unknown job(s) {', '.join(missing)}")
    ordered: list[JobNode] = []
    done: set[str] = set()
    while len(ordered) < len(nodes):
        ready = [n for n in nodes if n.name not in done and all(a in done for a in n.after)]
        if not ready:
            stuck = sorted(n.name for n in nodes if n.name not in done)
            raise LaunchError(f"job graph: dependency cycle among {', '.join(stuck)}")
        ordered.extend(ready)
        done.update(n.name for n in ready)
    return ordered


def submit_graph(kind: str, folder: str | Path, nodes: list[JobNode], dry_run: bool = False) -> dict[str, Any]:
    """Submit a graph of jobs; each starts only after every job in its ``after`` list succeeded.

    On SLURM every job is submitted at once with ``--dependency=afterok:<ids>``. Locally the jobs with
    no pending prerequisite run in parallel and a dependent job is submitted once its prerequisites'
    results are in (a failed prerequisite raises its error and nothing after it is submitted). With
    ``dry_run`` the SLURM scripts are returned instead (``afterok:@name`` stands for the job id of ``name``).

    Returns:
        ``{name: submitit.Job}``, or ``{name: script}`` for a dry run.
    """
    ordered = graph_order(nodes)
    out: dict[str, Any] = {}
    for node in ordered:
        sub = Path(folder) / node.name
        if dry_run:
            dep = {"dependency": "afterok:" + ":".join(f"@{a}" for a in node.after)} if node.after else None
            out[node.name] = sbatch_script(sub, node.resources, dep)
            continue
        if kind == "slurm":
            dep = {"dependency": "afterok:" + ":".join(out[a].job_id for a in node.after)} if node.after else None
            out[node.name] = submit(kind, sub, node.resources, node.job, dep)
        else:
            for prerequisite in node.after:
                out[prerequisite].result()  # raises if it failed
            out[node.name] = submit(kind, sub, node.resources, node.job)
    return out
