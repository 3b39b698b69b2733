"""A job preempted mid-run (submitit's checkpoint hook) saves, requeues with --resume and ends bitwise
identical to a run that was never interrupted."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from humanalign.launch import LaunchJob
from humanalign.pretrain.cli import main as pretrain_main
from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder

STEPS = 6
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _argv(videos: Path, out: Path) -> list[str]:
    return ["egocentric", "--data", str(videos), "--out", str(out), "--steps", str(STEPS), "--device", "cpu",
            *FAST, "log_every=1", f"ckpt_every={STEPS}"]  # no periodic checkpoint before the end


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / str(STEPS) / "model.safetensors"))


@pytest.mark.slow
def test_checkpoint_hook_mid_run_then_requeue_resumes_bitwise(tmp_path: Path) -> None:
    videos = write_video_folder(tmp_path / "videos", count=3, frames=24, size=48)
    torch.set_num_threads(1)  # the reference runs here, with the jobs' one thread (OMP_NUM_THREADS=1)
    assert pretrain_main(_argv(videos, tmp_path / "straight") + ["--quiet"]) == 0

    run = tmp_path / "preempted"
    job = LaunchJob("humanalign.pretrain", _argv(videos, run), request_path=tmp_path / "jobs" / "save_request",
                    save_timeout_s=240, env=ENV)
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(job()))
    worker.start()
    while job._process is None and worker.is_alive():  # the job has cleared stale requests and started
        worker.join(0.05)
    requeued = job.checkpoint()  # what submitit calls on SIGUSR2: save now, then requeue
    worker.join(240)
    assert codes == [0]
    saved = job.save_request.acknowledged_step()
    assert saved is not None and 1 <= saved < STEPS, saved
    assert (run / "checkpoints" / str(saved) / "model.safetensors").is_file()
    assert not (run / "checkpoints" / str(STEPS)).exists()
    assert requeued is not None and requeued.function.argv[-1] == "--resume"

    assert requeued.result() == 0  # the requeued job: clears the old request, resumes at `saved`
    a, b = _weights(tmp_path / "straight"), _weights(run)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert len(steps) == STEPS  # each step logged once across the two incarnations


def test_checkpoint_of_a_finished_job_requeues_nothing(tmp_path: Path) -> None:
    import subprocess

    job = LaunchJob("humanalign.pretrain", ["list"], request_path=tmp_path / "save_request")
    job._process = subprocess.Popen(["true"])
    job._process.wait()
    assert job.checkpoint() is None
    assert not job.save_request.path.exists()  # nothing asked of a process that is gone


def test_agent_leaves_the_preemption_signal_to_submitit() -> None:
    """SLURM signals every process of the step; what the job starts must survive USR2 (the default kills)."""
    import subprocess
    import sys

    script = 'kill -USR2 $$; echo survived'
    wrapped = subprocess.run([sys.executable, "-m", "humanalign.launch.agent", "sh", "-c", script],
                             capture_output=True, text=True, timeout=120)
    assert wrapped.returncode == 0 and wrapped.stdout.strip() == "survived", wrapped.stderr
    bare = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert bare.returncode != 0 and "survived" not in bare.stdout
