"""The whole study end to end, through the same public commands a user types (the demo is the tutorial).

    python experiments/demo.py --out demo_out                      # the embedded CPU default (make demo)
    python experiments/demo.py --config experiments/configs/hvm1-study.yaml --out /scratch/hvm1-study

Steps (each printed as the command it runs):
  1. data: egocentric-like mp4 videos, a labelled motion-direction clip set, a synthetic-progression sample;
  2. pretraining: the study's matched runs (demo: ST-MAE and image-MAE on the same videos with the same
     encoder; VideoMAE on synthetic stage 1, static circles, vs stage 2, moving circles);
  3. comparisons: corruption robustness, RSA against human IT and similarity judgements (92 images),
     shape bias and error consistency against human trials, a motion-sensitive probe, image-vs-video
     contrasts, the published scaling trends;
  4. one HTML report with a Markdown twin; its path is printed last.

Steps that need the shared human data (``--stimuli-root``, default ``../shared/data``) are skipped with a
message when it is absent. A failed step is reported and the rest still run; the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from humanalign.cli import add_verbose_arg, run_cli  # noqa: E402
from humanalign.config import ConfigError, apply_overrides  # noqa: E402
from humanalign.launch import add_launcher_args  # noqa: E402
from humanalign.study import StudyConfig, load_study, model_specs, validate_study  # noqa: E402

DEFAULT_CONFIG = REPO / "experiments" / "configs" / "demo.yaml"

INTRO = """These are tiny models (a few hundred thousand parameters, a few hundred steps) trained on a CPU in
minutes on generated videos. The numbers show that every part of the study runs end to end with the
right statistics; they say nothing about how real video or image models compare with people.

What they can mean: within this run, the contrasts and probes compare models that differ in one factor
(video vs single frames of the same videos; static vs moving synthetic pretraining), with tests at the
level of replication stated on each row (items of these stimuli, one training run per model). What they
cannot mean: anything about HVM-1-scale models, other seeds or other data. For that, run
experiments/configs/hvm1-study.yaml on GPUs."""


@dataclass
class Runner:
    """Runs commands, prints them, times them, and remembers failures and skips."""

    env: dict[str, str]
    log: list[tuple[str, str, float]] = field(default_factory=list)

    def run(self, title: str, cmd: list[str]) -> bool:
        print(f"\n=== {title}\n$ {shlex.join(cmd)}", flush=True)
        tic = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=self.env)
        seconds = time.perf_counter() - tic
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        self.log.append((title, status, seconds))
        print(f"--- {status} in {seconds:.0f} s", flush=True)
        return proc.returncode == 0

    def skip(self, title: str, why: str) -> None:
        print(f"\n=== {title}\n--- skipped: {why}", flush=True)
        self.log.append((title, f"skipped: {why}", 0.0))


def _py(*args: str) -> list[str]:
    return [sys.executable, *args]


def make_data(study: StudyConfig, out: Path, run: Runner) -> dict[str, Path]:
    """Step 1: the study's videos, motion probe set and synthetic sample (generated unless given).

    A folder the study names is used as it is; a generated one is made once (its ``done`` marker file
    says it is complete) and reused when the demo runs again.
    """
    paths = {}
    for key, (given, title, cmd) in data_plans(study).items():
        if given:
            paths[key] = Path(given)
            continue
        paths[key] = out / "data" / key
        if not (paths[key] / "done").is_file() and run.run(title, _py(*cmd, "--out", str(paths[key]))):
            (paths[key] / "done").touch()
    return paths


def data_plans(study: StudyConfig) -> dict[str, tuple[str, str, list[str]]]:
    """kind -> (the study's folder or "", step title, ``python`` arguments that generate it without --out)."""
    d = study.data
    plans = {
        "egocentric": (d.egocentric, "data: egocentric-like videos", [
            "-m", "humanalign.data", "make-demo-videos", "--count", str(d.demo_videos),
            "--seconds", str(d.demo_seconds), "--size", str(d.demo_size), "--bad"]),
        "motion": (d.motion, "data: motion-direction probe clips", [
            "-m", "humanalign.data", "make-motion-set", "--train-per-class", str(d.motion_train_per_class),
            "--val-per-class", str(d.motion_val_per_class), "--frames", str(d.motion_frames),
            "--size", str(d.motion_size)]),
    }
    if d.synthetic_sample_stages and d.synthetic_sample_count > 0:
        plans["synthetic"] = ("", "data: synthetic-progression sample", [
            "-m", "humanalign.synthetic", "export", "--stage", *map(str, d.synthetic_sample_stages),
            "--count", str(d.synthetic_sample_count), "--frames", "16"])
    return plans


def pretrain(study: StudyConfig, out: Path, data: dict[str, Path], run: Runner, steps_scale: float) -> list[Path]:
    """Step 2: every pretraining run of the study; returns the run folders that finished."""
    runs = []
    for step in study.pretrain:
        folder = out / "runs" / step.name
        launcher = shlex.split(step.launcher) if step.launcher else [sys.executable]
        cmd = [*launcher, "-m", "humanalign.pretrain", *pretrain_argv(study, step, folder, data, steps_scale)]
        if run.run(f"pretrain: {step.name} ({step.method})", cmd):
            runs.append(folder)
    return runs


def pretrain_argv(study: StudyConfig, step, folder: Path, data: dict[str, Path], steps_scale: float) -> list[str]:
    """``humanalign.pretrain`` arguments of one study run (``--resume`` when it has a checkpoint)."""
    steps = max(2, int(round(step.steps * steps_scale))) if step.steps else 0
    cmd = [step.method]
    if step.method != "synthetic":
        cmd += ["--data", str(data["egocentric"])]
    if step.preset:
        cmd += ["--preset", step.preset]
    if step.stage:
        cmd += ["--stage", str(step.stage)]
    if steps:
        cmd += ["--steps", str(steps)]
    cmd += ["--out", str(folder), f"device={study.device}", *step.overrides]
    if (folder / "checkpoints" / "LATEST").is_file():
        cmd += ["--resume"]  # re-running the demo continues (or no-ops) instead of starting over
    return cmd


def compare(study: StudyConfig, out: Path, data: dict[str, Path], runs: list[Path], run: Runner,
            stimuli: Path | None, db: Path) -> None:
    """Step 3: every comparison, each writing rows into the one results database."""
    c = study.compare
    models = [str(r) for r in runs] + model_specs(study)
    if not models:
        run.skip("comparisons", "no model finished pretraining")
        return
    figs = out / "figures"
    for name in c.robustness_sets:
        if name == "motion":
            target = ["--set", str(data["motion"] / "val"), "--name", "motion-direction",
                      "--frames", str(study.data.motion_frames)]
        elif stimuli is None:
            run.skip(f"robustness on {name}", "shared stimuli not found (give --stimuli-root)")
            continue
        else:
            target = ["--set", name, "--set-root", str(stimuli / "texture-vs-shape")]
        run.run(f"robustness on {name}", _py(
            "experiments/robustness.py", "--models", ",".join(models), *target,
            "--corruptions", ",".join(c.robustness_corruptions),
            "--severities", ",".join(map(str, c.robustness_severities)),
            "--results", str(db), "--out", str(figs / f"robustness-{name}"), "--device", study.device))
    if stimuli is None:
        run.skip("RSA on the 92-image set", "shared data not found (give --stimuli-root)")
        run.skip("shape bias and error consistency", "shared data not found (give --stimuli-root)")
    else:
        run.run("RSA: layers vs human IT and similarity judgements", _py(
            "experiments/rsa.py", "--models", *models, "--set", c.rsa_set, "--layers", c.rsa_layers,
            "--root", str(stimuli / "rsa92"), "--reference", "both", "--n-boot", str(c.rsa_bootstrap),
            "--results", str(db), "--out", str(figs / "rsa"), "--device", study.device))
        cmd = _py("experiments/alignment.py", "--models", *models, "--sets", ",".join(c.alignment_sets),
                  "--stimuli-root", str(stimuli / "texture-vs-shape"),
                  "--raw-data", str(stimuli / "model-vs-human" / "raw-data"),
                  "--bootstrap", str(c.alignment_bootstrap), "--results", str(db), "--out", str(figs / "alignment"))
        if c.alignment_max_stimuli:
            cmd += ["--max-stimuli", str(c.alignment_max_stimuli)]
        run.run("shape bias and error consistency vs human trials", cmd)
    for model in models:
        run.run(f"motion probe ({c.probe}): {Path(model).name}", _py(
            "-m", "humanalign.eval", c.probe, "--model", model, "--train", str(data["motion"] / "train"),
            "--val", str(data["motion"] / "val"), "--dataset", "motion-direction", "--results", str(db), "--quiet"))
    for a, b in c.contrasts:
        run.run(f"contrast: {a} vs {b}", _py("analysis/contrasts.py", "--results", str(db), "--a", a, "--b", b))
    if c.scaling:
        run.run("scaling trends from the published points", _py("experiments/scaling.py", "--out", str(out), "--results", str(db)))


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the study; a bad study file fails in one line before any work."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="study YAML (default: the CPU demo)")
    parser.add_argument("--out", default="demo_out", help="output folder")
    parser.add_argument("--stimuli-root", default=None,
                        help="shared human/brain data (default: ../shared/data beside the repo)")
    parser.add_argument("--smoke", action="store_true", help="smallest size: a few steps and stimuli (tests)")
    parser.add_argument("overrides", nargs="*", help="study overrides key.sub=value")
    add_launcher_args(parser)  # --launcher local|slurm: the study as a job graph (docs/scaling-out.md)
    parser.add_argument("--shards", type=int, default=2, help="with --launcher: jobs per robustness grid")
    parser.add_argument("--eval-gpus", type=int, default=None, help="with --launcher: GPUs per comparison job "
                        "(default: 1 if pretraining jobs have GPUs, else 0)")
    parser.add_argument("--eval-time", default="4:00:00", help="with --launcher: time limit of a comparison job")
    add_verbose_arg(parser)
    args = parser.parse_args(argv)
    return run_cli(lambda: run_study(args), verbose=args.verbose)


def run_study(args: argparse.Namespace) -> int:
    """Validate the whole study first (names, sizes, pretrain configs), then run every step."""
    study = apply_overrides(load_study(args.config), args.overrides)
    if args.smoke:
        study = apply_overrides(study, SMOKE)
    problems = validate_study(study)
    if problems:
        raise ConfigError(f"{args.config}: {len(problems)} problem(s): " + "; ".join(problems))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.stimuli_root or study.data.stimuli_root or REPO.parent / "shared" / "data").resolve()
    stimuli = root if (root / "rsa92").is_dir() or (root / "texture-vs-shape").is_dir() else None
    env = {**os.environ, "PYTHONPATH": str(REPO), "HUMANALIGN_CACHE": str(out / "cache"),
           "MPLBACKEND": "Agg"}
    if args.launcher:
        return submit_study(args, study, out, stimuli, env)
    run = Runner(env)
    tic = time.perf_counter()
    print(f"humanalign study '{study.name}' -> {out}\nshared human data: {stimuli or 'not found (human-data steps skipped)'}")
    data = make_data(study, out, run)
    runs = pretrain(study, out, data, run, steps_scale=0.02 if args.smoke else 1.0)
    db = out / "results.sqlite"
    compare(study, out, data, runs, run, stimuli, db)
    intro = out / "report_intro.txt"
    intro.write_text(study.report_intro or INTRO)
    report = out / "report"
    ok = run.run("report", _py("-m", "humanalign.report", "--results", str(db), "--out", str(report),
                               "--title", study.report_title, "--intro", str(intro)))
    print(f"\nsteps ({time.perf_counter() - tic:.0f} s in all):")
    for title, status, seconds in run.log:
        print(f"  {status:10.10s} {seconds:6.0f} s  {title}")
    failed = [t for t, s, _ in run.log if s.startswith("FAILED")]
    if failed:
        print(f"\n{len(failed)} step(s) failed: {', '.join(failed)}", file=sys.stderr)
    if ok:
        print(f"\nreport: {report / 'index.html'}")
    return 1 if failed or not ok else 0


def submit_study(args: argparse.Namespace, study: StudyConfig, out: Path, stimuli: Path | None,
                 env: dict[str, str]) -> int:
    """The study as a job graph (humanalign/launch/study.py): submit it, or print it with --dry-run."""
    from dataclasses import replace

    from humanalign.launch import LaunchError, parse_time_minutes, resources_from_args, submit_graph
    from humanalign.launch.study import describe_graph, study_graph

    if args.launcher not in ("local", "slurm"):
        raise LaunchError(f"the study runs as a job graph with --launcher local or slurm, not {args.launcher}")
    if args.shards < 1:
        raise LaunchError(f"--shards must be >= 1, got {args.shards}")
    data, data_cmds = {}, {}
    for key, (given, _, cmd) in data_plans(study).items():
        data[key] = Path(given) if given else out / "data" / key
        if not given and not (data[key] / "done").is_file():
            data_cmds[key] = [*cmd, "--out", str(data[key])]
    steps_scale = 0.02 if args.smoke else 1.0
    pretrain_cmds = {s.name: pretrain_argv(study, s, out / "runs" / s.name, data, steps_scale) for s in study.pretrain}
    train = resources_from_args(args, job_name=study.name)
    gpus = args.eval_gpus if args.eval_gpus is not None else min(1, train.gpus_per_node)
    evaluation = replace(train, nodes=1, gpus_per_node=gpus, procs_per_node=None, cpus_per_task=None,
                         time_min=parse_time_minutes(args.eval_time))
    intro = out / "report_intro.txt"
    intro.write_text(study.report_intro or INTRO)
    nodes, db = study_graph(study, out, data, data_cmds, stimuli, pretrain_cmds, train, evaluation, args.shards,
                            env, intro)
    folder = Path(args.job_dir) if args.job_dir else out / "jobs"
    print(f"humanalign study '{study.name}' as {len(nodes)} {args.launcher} jobs -> {out} (job folders {folder})")
    if args.dry_run:
        scripts = submit_graph(args.launcher, folder, nodes, dry_run=True)
        for node in nodes:
            print(describe_graph([node]))
            print(scripts[node.name])
        return 0
    print(describe_graph(nodes), flush=True)
    try:
        jobs = submit_graph(args.launcher, folder, nodes)
    except Exception as err:  # noqa: BLE001 - locally, a failed prerequisite stops the graph here
        print(f"error: {' '.join(str(err).split())[-300:]}", file=sys.stderr)
        return 1
    for name, job in jobs.items():
        print(f"  {name}: job {job.job_id}, logs {job.paths.stdout}")
    if args.launcher == "slurm":
        print(f"submitted; watch: squeue -j {','.join(j.job_id for j in jobs.values())}")
        return 0
    failed = []
    for name, job in jobs.items():
        try:
            job.result()
        except Exception as err:  # noqa: BLE001 - the job's own error, reported by name
            failed.append(name)
            print(f"error: job {name} failed: {' '.join(str(err).split())[-300:]}", file=sys.stderr)
    for key in data_cmds:
        if f"data-{key}" not in failed:
            (data[key] / "done").touch()
    if not failed:
        print(f"\nresults: {db}\nreport: {out / 'report' / 'index.html'}")
    return 1 if failed else 0


SMOKE = [
    "data.demo_videos=6", "data.demo_seconds=2", "data.demo_size=64", "data.motion_train_per_class=4",
    "data.motion_val_per_class=2", "data.synthetic_sample_count=1", "data.synthetic_sample_stages=[1]",
    "compare.robustness_corruptions=[gaussian_noise]", "compare.robustness_severities=[3]",
    "compare.robustness_sets=[motion]", "compare.alignment_max_stimuli=80", "compare.alignment_bootstrap=20",
    "compare.rsa_bootstrap=30", "compare.rsa_layers=final",
]


if __name__ == "__main__":
    sys.exit(main())
