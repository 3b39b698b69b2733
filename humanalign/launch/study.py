"""The study as a job graph: pretraining runs in parallel, each comparison waits on the runs it needs.

``experiments/demo.py --launcher local|slurm`` builds the graph with :func:`study_graph` and submits it
with :func:`humanalign.launch.submit_graph` (SLURM: ``--dependency=afterok``; local: submitit's
``LocalExecutor``, a dependent job starts once its prerequisites' results are in). The jobs:

- ``data-*``: the generated data (skipped when the study names a folder or it is already complete);
- ``pretrain-<run>``: one job per pretraining run, all side by side (torchrun inside a job of several
  processes; checkpoint and requeue with ``--resume`` on preemption);
- ``robustness-<set>-<model>-shard-<i>``: the robustness grid as a job array over (model, cell range):
  ``--shard i/N`` jobs, each started when its model's run is trained and each into its own store
  ``stores/robustness-<set>/results-shard-<model>-<i>.sqlite`` (no SQLite shared by writers), then
  ``robustness-<set>-merge`` (``python -m humanalign.results merge``), then ``robustness-<set>-summary``
  (the same robustness command on the merged store: it computes 0 cells and writes the summaries and
  figures);
- ``rsa``, ``alignment``, ``probe-<model>``: each comparison into its own store, after the runs it reads;
- ``merge``: every comparison's store into ``results.sqlite``; then the contrasts (one after another,
  they write into it) and ``report`` (``python -m humanalign.report --results DB --out DIR``).

Every job runs a command a user could type (printed by ``--dry-run``); scripts go through
``python -m humanalign.launch.agent python SCRIPT ...`` so they ignore the preemption signal as the
pretraining processes do.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from humanalign.launch.executors import JobNode
from humanalign.launch.job import LaunchJob
from humanalign.launch.resources import Resources

__all__ = ["REPO", "script_main", "script_job", "module_job", "pretrain_node", "robustness_nodes", "merge_node", "report_node",
           "study_graph", "describe_graph", "launch_script"]

REPO = Path(__file__).resolve().parents[2]
AGENT = "humanalign.launch.agent"


def _request(jobs: Path, name: str) -> Path:
    return jobs / name / "save_request"


def script_job(script: str | Path, argv: Sequence[str], jobs: Path, name: str,
               env: dict[str, str] | None = None) -> LaunchJob:
    """A job running ``python SCRIPT ARGV`` (a repository script; requeued unchanged)."""
    path = Path(script) if Path(script).is_absolute() else REPO / script
    return LaunchJob(AGENT, [sys.executable, str(path), *map(str, argv)], request_path=_request(jobs, name),
                     resume_flag=None, env=env)


def module_job(module: str, argv: Sequence[str], jobs: Path, name: str,
               env: dict[str, str] | None = None) -> LaunchJob:
    """A job running ``python -m MODULE ARGV`` (requeued unchanged)."""
    return LaunchJob(module, list(map(str, argv)), request_path=_request(jobs, name), resume_flag=None, env=env)


def pretrain_node(name: str, argv: Sequence[str], run_dir: Path, res: Resources,
                  env: dict[str, str] | None = None, after: Sequence[str] = ()) -> JobNode:
    """``python -m humanalign.pretrain ARGV`` as a job that saves and requeues itself with ``--resume``."""
    job = LaunchJob("humanalign.pretrain", list(map(str, argv)), nproc_per_node=res.nproc_per_node,
                    nodes=res.nodes, request_path=run_dir / "jobs" / "save_request", env=env,
                    save_timeout_s=max(30.0, res.signal_delay_s - 30.0))
    return JobNode(name, job, replace(res, job_name=name), list(after))


def robustness_nodes(name: str, models: Sequence[tuple[str, Sequence[str]]], argv: Sequence[str], stores: Path,
                     jobs: Path, res: Resources, shards: int, after: Sequence[str] = (),
                     env: dict[str, str] | None = None,
                     merge_res: Resources | None = None) -> tuple[list[JobNode], Path]:
    """The robustness grid of ``experiments/robustness.py`` as a job array, a merge and a summary.

    Each model's grid is ``shards`` jobs (``--shard i/N``), started once that model's own prerequisites
    (``models``: ``(spec, jobs it waits for)``) and ``after`` are done, each writing
    ``stores/NAME/results-shard-<model>-<i>.sqlite``; ``NAME-merge`` unions them into
    ``stores/NAME.sqlite``; ``NAME-summary`` reruns the command over every model on that store (0 cells
    computed; it writes the summaries, which compare models, and the figures). ``argv`` is the command
    without ``--models``, ``--results`` and ``--shard``. Returns the nodes (the last is the summary) and the
    merged store.
    """
    folder = stores / name
    merged = stores / f"{name}.sqlite"
    light = merge_res or replace(res, gpus_per_node=0, procs_per_node=None)
    nodes, parts = [], []
    for m, (spec, waits) in enumerate(models):
        tag = f"{m}-{_tag(spec)}" if len(models) > 1 else ""
        for i in range(shards):
            part = folder / (f"results-shard-{tag}-{i}.sqlite" if tag else f"results-shard-{i}.sqlite")
            parts.append(part)
            shard = f"{name}-{tag}-shard-{i}" if tag else f"{name}-shard-{i}"
            nodes.append(JobNode(shard, script_job("experiments/robustness.py", [
                "--models", spec, *argv, "--results", part, "--shard", f"{i}/{shards}"], jobs, shard, env),
                replace(res, job_name=shard), [*waits, *after]))
    nodes.append(merge_node(f"{name}-merge", merged, parts, jobs, light, [n.name for n in nodes], env))
    everyone = ",".join(spec for spec, _ in models)
    nodes.append(JobNode(f"{name}-summary", script_job("experiments/robustness.py", [
        "--models", everyone, *argv, "--results", merged], jobs, f"{name}-summary", env),
        replace(res, job_name=f"{name}-summary"), [f"{name}-merge"]))
    return nodes, merged


def _tag(spec: str) -> str:
    """A job-name-safe short name of a model spec (a run folder's name, a named spec's name)."""
    text = spec.split("=", 1)[0] if "=" in spec.split(":", 1)[0] else spec
    text = Path(text).name if "/" in text and ":" not in text else text
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)[:40]


def merge_node(name: str, out: Path, parts: Sequence[Path], jobs: Path, res: Resources, after: Sequence[str],
               env: dict[str, str] | None = None) -> JobNode:
    """``python -m humanalign.results merge OUT PART...`` (idempotent: a requeued merge adds nothing)."""
    return JobNode(name, module_job("humanalign.results", ["merge", out, *parts], jobs, name, env),
                   replace(res, job_name=name), list(after))


def report_node(db: Path, out: Path, jobs: Path, res: Resources, after: Sequence[str], extra: Sequence[str] = (),
                env: dict[str, str] | None = None) -> JobNode:
    """``python -m humanalign.report --results DB --out DIR`` after ``after``."""
    return JobNode("report", module_job("humanalign.report", ["--results", db, "--out", out, *extra], jobs,
                                        "report", env), replace(res, job_name="report"), list(after))


def study_graph(study, out: Path, data: dict[str, Path], data_cmds: dict[str, list[str]], stimuli: Path | None,
                pretrain_cmds: dict[str, list[str]], train_res: Resources, eval_res: Resources, shards: int,
                env: dict[str, str], intro: Path) -> tuple[list[JobNode], Path]:
    """Every job of ``study`` (a :class:`humanalign.study.StudyConfig`) and the results store they fill.

    Args:
        study: The validated study.
        out: Output folder (absolute): ``runs/``, ``stores/``, ``results.sqlite``, ``figures/``, ``report/``.
        data: Data folder of each kind (``egocentric``, ``motion``, ``synthetic``).
        data_cmds: Data still to generate: kind -> ``python`` arguments (``-m humanalign.data ...``).
        stimuli: The shared human data, or None (its comparisons are left out).
        pretrain_cmds: Run name -> ``humanalign.pretrain`` arguments (without launcher options).
        train_res: Resources of each pretraining job.
        eval_res: Resources of each comparison job (merges and the report get no GPU).
        shards: Jobs per robustness grid.
        env: Environment of every job.
        intro: Report introduction file (written before submission).
    """
    from humanalign.study import model_specs

    jobs, stores, figs, c = out / "jobs", out / "stores", out / "figures", study.compare
    light = replace(eval_res, gpus_per_node=0, procs_per_node=None)
    nodes: list[JobNode] = []
    for kind, cmd in data_cmds.items():
        name = f"data-{kind}"
        nodes.append(JobNode(name, LaunchJob(AGENT, [sys.executable, *cmd], request_path=_request(jobs, name),
                                             resume_flag=None, env=env), replace(light, job_name=name)))
    data_after = {kind: [f"data-{kind}"] if kind in data_cmds else [] for kind in ("egocentric", "motion")}
    runs: dict[str, Path] = {}
    for step in study.pretrain:
        run_dir = out / "runs" / step.name
        after = data_after["egocentric"] if step.method != "synthetic" else []
        nodes.append(pretrain_node(f"pretrain-{step.name}", pretrain_cmds[step.name], run_dir, train_res, env, after))
        runs[step.name] = run_dir
    trained = [f"pretrain-{n}" for n in runs]
    models = [str(r) for r in runs.values()] + model_specs(study)
    parts: list[Path] = []
    comparisons: list[str] = []
    own_run = {str(run): (n, [f"pretrain-{n}"]) for n, run in runs.items()}
    if models:
        for set_name in c.robustness_sets:
            if set_name == "motion":
                target = ["--set", data["motion"] / "val", "--name", "motion-direction",
                          "--frames", study.data.motion_frames]
            elif stimuli is None:
                continue
            else:
                target = ["--set", set_name, "--set-root", stimuli / "texture-vs-shape"]
            argv = [*target, "--corruptions", ",".join(c.robustness_corruptions),
                    "--severities", ",".join(map(str, c.robustness_severities)),
                    "--out", figs / f"robustness-{set_name}", "--device", study.device]
            after = data_after["motion"] if set_name == "motion" else []
            grid, merged = robustness_nodes(f"robustness-{set_name}", [(m, own_run.get(m, ("", []))[1])
                                                                         for m in models],
                                            argv, stores, jobs, eval_res, shards, after, env, light)
            nodes += grid
            parts.append(merged)
            comparisons.append(grid[-1].name)
        if stimuli is not None:
            rsa = stores / "rsa.sqlite"
            nodes.append(JobNode("rsa", script_job("experiments/rsa.py", [
                "--models", *models, "--set", c.rsa_set, "--layers", c.rsa_layers, "--root", stimuli / "rsa92",
                "--reference", "both", "--n-boot", c.rsa_bootstrap, "--results", rsa, "--out", figs / "rsa",
                "--device", study.device], jobs, "rsa", env), replace(eval_res, job_name="rsa"), trained))
            align = stores / "alignment.sqlite"
            cmd = ["--models", *models, "--sets", ",".join(c.alignment_sets),
                   "--stimuli-root", stimuli / "texture-vs-shape",
                   "--raw-data", stimuli / "model-vs-human" / "raw-data", "--bootstrap", c.alignment_bootstrap,
                   "--results", align, "--out", figs / "alignment"]
            if c.alignment_max_stimuli:
                cmd += ["--max-stimuli", c.alignment_max_stimuli]
            nodes.append(JobNode("alignment", script_job("experiments/alignment.py", cmd, jobs, "alignment", env),
                                 replace(eval_res, job_name="alignment"), trained))
            parts += [rsa, align]
            comparisons += ["rsa", "alignment"]
        for model in models:
            tag, own = own_run.get(model, (_tag(model), []))
            name, store = f"probe-{tag}", stores / f"probe-{tag}.sqlite"
            nodes.append(JobNode(name, module_job("humanalign.eval", [
                c.probe, "--model", model, "--train", data["motion"] / "train", "--val", data["motion"] / "val",
                "--dataset", "motion-direction", "--results", store, "--quiet"], jobs, name, env),
                replace(eval_res, job_name=name), own + data_after["motion"]))
            parts.append(store)
            comparisons.append(name)
    db = out / "results.sqlite"
    last = comparisons
    if c.scaling:  # writes its rows into OUT/results.sqlite itself, before the merge adds the rest
        nodes.append(JobNode("scaling", script_job("experiments/scaling.py", ["--out", out], jobs, "scaling", env),
                             replace(light, job_name="scaling")))
        last = [*last, "scaling"]
    if parts:
        nodes.append(merge_node("merge", db, parts, jobs, light, last, env))
        last = ["merge"]
    for a, b in c.contrasts:  # one after another: each writes into results.sqlite
        name = f"contrast-{a}-vs-{b}"
        nodes.append(JobNode(name, script_job("analysis/contrasts.py", ["--results", db, "--a", a, "--b", b],
                                              jobs, name, env), replace(light, job_name=name), last))
        last = [name]
    nodes.append(report_node(db, out / "report", jobs, light, last,
                             ["--title", study.report_title, "--intro", intro], env))
    return nodes, db


def describe_graph(nodes: Sequence[JobNode]) -> str:
    """One block per job: its name, what it waits for, its resources and the command it runs."""
    lines = []
    for node in nodes:
        lines.append(f"# job {node.name}: after {', '.join(node.after) or 'nothing'}; {node.resources.summary()}")
        lines.append(f"#   runs: {shlex.join(node.job.command())}")
    return "\n".join(lines)


def script_main(args: argparse.Namespace, script: str | Path, argv: Sequence[str] | None, body) -> int:
    """An experiment script's entry point: under ``--launcher`` a submitit job, else ``body(args)`` in this
    process with the log level of ``-v`` and the suite's one-line error rule."""
    import logging

    from humanalign.cli import run_cli

    if getattr(args, "launcher", None):
        return launch_script(args, script, argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: body(args), verbose=args.verbose)


def launch_script(args: argparse.Namespace, script: str | Path, argv: Sequence[str] | None) -> int:
    """Run an experiment script (``python SCRIPT ARGV``, launcher options removed) under ``args.launcher``.

    What a script calls when ``args.launcher`` is set; the job folder is ``--job-dir`` or ``jobs/``.
    """
    from humanalign.cli import run_cli
    from humanalign.launch.cli import launch

    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = [sys.executable, str(Path(script).resolve()), *argv]
    return run_cli(lambda: launch(args, cmd, entry=AGENT, resume_flag=None), verbose=getattr(args, "verbose", False))
