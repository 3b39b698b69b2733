"""The study as a job graph under submitit's LocalExecutor: two tiny pretraining jobs side by side, the
robustness grid as a job array of 2 shards, the merge, the summarising rerun and
the report; the merged store equals a one-process run over the same two trained runs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from humanalign.launch import Resources, graph_order, submit_graph
from humanalign.launch.study import REPO, pretrain_node, report_node, robustness_nodes, study_graph
from tests.test_eval_shards import _rows, _set
from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder

STEPS = 2


def _pretrain_argv(method: str, videos: Path, run: Path) -> list[str]:
    extra = ["data.num_frames=1"] if method == "imagemae" else []
    return [method, "--data", str(videos), "--out", str(run), "--steps", str(STEPS), "--device", "cpu", "--quiet",
            *FAST, *extra, f"ckpt_every={STEPS}"]


def _robustness_main():
    spec = importlib.util.spec_from_file_location("robustness_script", REPO / "experiments" / "robustness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.slow
@pytest.mark.timeout(900)  # many subprocesses; generous for a loaded 2-core machine
def test_study_graph_local_jobs_merge_to_the_one_process_rows(tmp_path: Path) -> None:
    from humanalign.io.results import ResultsStore

    videos = write_video_folder(tmp_path / "videos", count=2, frames=24, size=48)
    toy = _set(tmp_path / "toy")  # 3 classes x 4 tiny images
    env = {"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "HUMANALIGN_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": str(REPO)}
    jobs, stores = tmp_path / "jobs", tmp_path / "stores"
    res = Resources(time_min=30)
    runs = {"stmae": tmp_path / "runs" / "stmae", "imagemae": tmp_path / "runs" / "imagemae"}
    nodes = [pretrain_node(f"pretrain-{name}", _pretrain_argv("egocentric" if name == "stmae" else "imagemae",
                                                              videos, run), run, res, env)
             for name, run in runs.items()]
    grid_argv = ["--set", str(toy), "--corruptions", "gaussian_noise,fog", "--severities", "3", "--folds", "2",
                 "--device", "cpu", "--out", str(tmp_path / "figures")]
    # one grid over both runs (the demo splits it per model too: see the test below): 2 shard jobs
    both = (",".join(map(str, runs.values())), [f"pretrain-{n}" for n in runs])
    grid, merged = robustness_nodes("robustness-toy", [both], grid_argv, stores, jobs, res, shards=2, env=env)
    nodes += grid
    nodes.append(report_node(merged, tmp_path / "report", jobs, res, ["robustness-toy-summary"], env=env))
    assert [n.name for n in grid] == ["robustness-toy-shard-0", "robustness-toy-shard-1", "robustness-toy-merge",
                                      "robustness-toy-summary"]
    assert grid[0].after == ["pretrain-stmae", "pretrain-imagemae"]

    submitted = submit_graph("local", jobs, nodes)
    assert all(job.result() == 0 for job in submitted.values())
    assert all((run / "checkpoints" / str(STEPS) / "model.safetensors").is_file() for run in runs.values())
    parts = sorted(p.name for p in (stores / "robustness-toy").glob("*.sqlite"))
    assert parts == ["results-shard-0.sqlite", "results-shard-1.sqlite"]
    assert (tmp_path / "report" / "index.html").is_file()
    summary_log = Path(submitted["robustness-toy-summary"].paths.stdout).read_text()
    assert "0 cells computed" in summary_log, summary_log[-2000:]

    # the same grid in one process (own feature cache) over the same two trained runs
    one = tmp_path / "one.sqlite"
    os.environ.setdefault("MPLBACKEND", "Agg")
    code = _robustness_main()(["--models", ",".join(map(str, runs.values())), *grid_argv, "--results", str(one),
                               "--cache-dir", str(tmp_path / "cache-one"), "--out", str(tmp_path / "figures-one")])
    assert code == 0
    (m_one, t_one), (m_merged, t_merged) = _rows(ResultsStore(one)), _rows(ResultsStore(merged))
    assert len(t_one) and len(m_one)
    assert t_merged.equals(t_one)
    assert m_merged.equals(m_one)


def test_study_graph_dependencies(tmp_path: Path) -> None:
    """The demo's graph: runs in parallel, each probe after its own run, shards -> merge -> summary -> report."""
    from humanalign.study import PretrainStep, StudyConfig

    study = StudyConfig(pretrain=[PretrainStep(name="stmae", method="egocentric"),
                                  PretrainStep(name="imagemae", method="imagemae")])
    study.compare.robustness_sets, study.compare.contrasts = ["motion"], [["imagemae", "stmae"]]
    data = {k: tmp_path / "data" / k for k in ("egocentric", "motion")}
    cmds = {s.name: [s.method, "--out", str(tmp_path / "runs" / s.name)] for s in study.pretrain}
    res = Resources(gpus_per_node=8, partition="gpu")
    nodes, db = study_graph(study, tmp_path, data, {"motion": ["-m", "humanalign.data", "make-motion-set"]}, None,
                            cmds, res, Resources(gpus_per_node=1), 3, {}, tmp_path / "intro.txt")
    after = {n.name: n.after for n in graph_order(nodes)}
    assert after["pretrain-stmae"] == [] and after["pretrain-imagemae"] == []
    assert after["probe-stmae"] == ["pretrain-stmae", "data-motion"]
    assert after["robustness-motion-1-imagemae-shard-2"] == ["pretrain-imagemae", "data-motion"]
    assert len(after["robustness-motion-merge"]) == 6 and after["robustness-motion-summary"] == ["robustness-motion-merge"]
    assert "robustness-motion-summary" in after["merge"] and after["report"] == ["contrast-imagemae-vs-stmae"]
    scripts = submit_graph("slurm", tmp_path / "jobs", nodes, dry_run=True)
    assert "#SBATCH --dependency=afterok:@robustness-motion-merge" in scripts["robustness-motion-summary"]
    assert "#SBATCH --gpus-per-node=8" in scripts["pretrain-stmae"] and db == tmp_path / "results.sqlite"
