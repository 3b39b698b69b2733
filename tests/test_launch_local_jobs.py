"""submitit's LocalExecutor: two tiny pretraining jobs in parallel, a job graph that waits for
prerequisites, and the ``--launcher local`` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from humanalign.launch import JobNode, LaunchJob, Resources, submit_graph
from humanalign.pretrain.cli import main as pretrain_main
from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder

ENV = {"OMP_NUM_THREADS": "1"}


def _argv(videos: Path, out: Path, steps: int = 2) -> list[str]:
    return ["egocentric", "--data", str(videos), "--out", str(out), "--steps", str(steps), "--device", "cpu",
            "--quiet", *FAST, f"ckpt_every={steps}"]


@pytest.mark.slow
def test_two_pretraining_jobs_run_in_parallel(tmp_path: Path) -> None:
    videos = write_video_folder(tmp_path / "videos", count=2, frames=24, size=48)
    runs = {"stmae": (tmp_path / "runs" / "stmae", []), "stmae-seed1": (tmp_path / "runs" / "stmae-seed1", ["seed=1"])}
    nodes = [JobNode(name, LaunchJob("humanalign.pretrain", _argv(videos, run) + extra, env=ENV,
                                     request_path=tmp_path / "jobs" / name / "save_request"),
                     Resources(time_min=30, job_name=name))
             for name, (run, extra) in runs.items()]
    jobs = submit_graph("local", tmp_path / "jobs", nodes)
    # both submitted without waiting: each is still running (importing torch) when the call returns
    assert [job.state for job in jobs.values()] == ["RUNNING", "RUNNING"]
    assert all(job.result() == 0 for job in jobs.values())
    weights = [(run / "checkpoints" / "2" / "model.safetensors") for run, _ in runs.values()]
    assert all(w.is_file() for w in weights)
    assert weights[0].read_bytes() != weights[1].read_bytes()  # two different runs (seeds), not one twice


def test_local_job_graph_waits_for_prerequisites(tmp_path: Path) -> None:
    """A dependent job starts only after its prerequisites succeeded (light jobs: no torch import)."""
    marks = tmp_path / "marks"
    marks.mkdir()

    def shell(name: str, script: str, after: list[str] | None = None) -> JobNode:
        job = LaunchJob("humanalign.launch.agent", ["sh", "-c", script], request_path=tmp_path / name / "req")
        return JobNode(name, job, Resources(time_min=5), after or [])

    nodes = [shell("last", f"test -f {marks}/a && test -f {marks}/b && touch {marks}/last", ["a", "b"]),
             shell("a", f"sleep 1; touch {marks}/a"), shell("b", f"sleep 1; touch {marks}/b")]
    jobs = submit_graph("local", tmp_path / "jobs", nodes)
    assert jobs["last"].result() == 0
    assert (marks / "last").is_file()

    failing = [shell("bad", "exit 3"), shell("never", f"touch {marks}/never", ["bad"])]
    with pytest.raises(Exception, match="exited with code 3"):
        submit_graph("local", tmp_path / "jobs2", failing)
    assert not (marks / "never").exists()


@pytest.mark.slow
def test_launcher_local_command_line_runs_and_waits(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    videos = write_video_folder(tmp_path / "videos", count=2, frames=24, size=48)
    run = tmp_path / "run"
    code = pretrain_main(_argv(videos, run) + ["--launcher", "local", "--time", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "finished" in out and str(run / "jobs") in out
    assert (run / "checkpoints" / "2" / "model.safetensors").is_file()
    logs = list((run / "jobs").glob("*/*_0_log.out"))
    assert logs and f"run folder: {run}" in logs[0].read_text()  # the job ran the same command, in place
