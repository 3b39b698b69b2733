"""The documented commands: `python -m humanalign.pretrain egocentric|imagemae --data DIR --preset tiny --steps N --out RUN`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.videos_helper import write_video_folder

REPO = Path(__file__).resolve().parents[1]
SMALL = ["encoder.depth=2", "mae.decoder_depth=1", "data.repeats=1", "data.batch_size=2", "progress=false"]


def pretrain(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "humanalign.pretrain", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video_folder(tmp_path_factory.mktemp("vids"), count=3, frames=40, size=64, bad=True)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["egocentric", "imagemae"])
def test_cli_run_skips_bad_files_and_resumes(videos: Path, tmp_path: Path, method: str) -> None:
    run = tmp_path / "run"
    first = pretrain(method, "--data", str(videos), "--preset", "tiny", "--steps", "4", "--out", str(run),
                     "ckpt_every=2", *SMALL)
    assert first.returncode == 0, first.stderr[-2000:]
    assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
    assert (run / "checkpoints" / "4" / "model.safetensors").is_file()
    for bad in ("empty.mp4", "truncated.mp4"):  # named in the log and in the summary
        assert bad in first.stderr and bad in first.stdout
    second = pretrain(method, "--out", str(run), "--resume", "--steps", "6")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stderr and "steps 4 -> 6" in second.stdout
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    bad_key = pretrain("egocentric", "--data", str(tmp_path), "--preset", "tiny", "mae.mask_ration=0.5")
    assert bad_key.returncode == 2 and "mask_ration" in bad_key.stderr and "mask_ratio" in bad_key.stderr
    bad_preset = pretrain("egocentric", "--data", str(tmp_path), "--preset", "huge")
    assert bad_preset.returncode == 2 and "unknown preset 'huge'" in bad_preset.stderr
    no_videos = pretrain("egocentric", "--data", str(tmp_path), "--preset", "tiny", "--out", str(tmp_path / "r"))
    assert no_videos.returncode == 2 and str(tmp_path) in no_videos.stderr
    unknown = pretrain("egocentrc")
    assert unknown.returncode == 2 and "egocentric" in unknown.stderr
    listing = pretrain("list")
    assert listing.returncode == 0 and "imagemae" in listing.stdout and "hvm1-448" in listing.stdout


TINY = ["encoder.embed_dim=64", "encoder.depth=2", "encoder.num_heads=2", "encoder.img_size=32",
        "encoder.num_frames=4", "encoder.patch_size=8", "mae.decoder_dim=32", "mae.decoder_depth=1",
        "mae.decoder_heads=2", "data.num_frames=4", "data.sampling_rate=2", "data.repeats=1",
        "data.batch_size=2", "data.num_workers=0", "progress=false"]


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize(("override", "message"), [("ckpt_every=0", "'ckpt_every' must be > 0, got 0"),
                                                   ("steps=true", "'steps': expected int, got True")])
def test_bad_values_fail_in_one_line_before_any_work(videos: Path, tmp_path: Path, override: str,
                                                     message: str) -> None:
    out = tmp_path / "run"
    proc = pretrain("egocentric", "--data", str(videos), "--preset", "tiny", "--out", str(out), override)
    assert message in _one_error_line(proc)
    assert not out.exists()  # nothing was built, written or trained


@pytest.mark.slow
def test_kill_before_the_first_checkpoint_then_resume_logs_each_step_once(videos: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "humanalign.pretrain", "egocentric", "--data", str(videos), "--out", str(run),
           "--steps", "1000", "ckpt_every=1000", "log_every=1", "--quiet", *TINY]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "2"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 240  # a guard against a hung run, not a timing assumption
    try:
        while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run logged nothing"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (run / "checkpoints" / "LATEST").exists()
    resumed = pretrain("egocentric", "--out", str(run), "--resume", "--steps", "3")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == [1, 2, 3]
