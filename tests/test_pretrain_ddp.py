"""Two CPU processes under torchrun (gloo): DDP keeps both ranks' weights identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder

REPO = Path(__file__).resolve().parents[1]


def run_torchrun(script: Path, args: list[str], nproc: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc_per_node N script args`` with 1 thread per rank."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(script), *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["egocentric", "vito"])  # vito: its negatives are gathered inside DDP's backward
def test_two_process_gloo_ranks_end_identical(tmp_path: Path, method: str) -> None:
    from tests.test_pretrain_vito_train import FAST_VITO

    videos = write_video_folder(tmp_path / "videos", count=4, frames=24, size=48)
    out = tmp_path / "run"
    proc = run_torchrun(REPO / "tests" / "ddp_driver.py",
                        [method, str(out), *(FAST_VITO if method == "vito" else FAST), f"data.root={videos}",
                         "steps=3", "ckpt_every=3", "device=cpu", "optim.accum_steps=2"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    hashes = [(out / f"rank{r}.txt").read_text().split()[0] for r in range(2)]
    assert hashes[0] == hashes[1]
    assert (out / "checkpoints" / "3" / "model.safetensors").is_file()


@pytest.mark.slow
def test_two_process_fsdp_trains_saves_full_weights_and_resumes(tmp_path: Path) -> None:
    from humanalign.models import load_model

    videos = write_video_folder(tmp_path / "videos", count=4, frames=24, size=48)
    out = tmp_path / "run"
    common = ["egocentric", str(out), *FAST, f"data.root={videos}", "ckpt_every=2", "device=cpu", "distributed=fsdp"]
    first = run_torchrun(REPO / "tests" / "ddp_driver.py", [*common, "steps=2"])
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_torchrun(REPO / "tests" / "ddp_driver.py", [*common, "steps=4", "--resume"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert (out / "rank0.txt").read_text().split()[2] == "2"  # started at the saved step
    encoder = load_model(out)  # full (unsharded) safetensors load into a plain encoder
    assert encoder.embed_dim == 64
    assert (out / "checkpoints" / "4" / "model.safetensors").is_file()
