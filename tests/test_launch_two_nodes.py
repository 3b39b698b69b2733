"""Multi-node torchrun on localhost: two one-process "nodes" meeting at a c10d rendezvous (gloo) train to
the same weights as one node running two processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from humanalign.launch import Rendezvous, torchrun_command
from humanalign.launch.nodes import free_port
from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder

REPO = Path(__file__).resolve().parents[1]
STEPS = 3


def _argv(videos: Path, out: Path) -> list[str]:
    return ["egocentric", "--data", str(videos), "--out", str(out), "--steps", str(STEPS), "--device", "cpu",
            "--quiet", *FAST, f"ckpt_every={STEPS}", "optim.accum_steps=2"]


def _run_all(commands: list[list[str]], timeout: int = 480) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cmd in commands]
    done = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return done


@pytest.mark.slow
def test_two_nodes_c10d_match_one_node_two_processes(tmp_path: Path) -> None:
    videos = write_video_folder(tmp_path / "videos", count=4, frames=24, size=48)
    (single,) = _run_all([torchrun_command("humanalign.pretrain", _argv(videos, tmp_path / "one-node"), 2)])
    assert single.returncode == 0, single.stdout[-3000:]

    port = free_port()
    nodes = [torchrun_command("humanalign.pretrain", _argv(videos, tmp_path / "two-nodes"), 1,
                              Rendezvous(nnodes=2, node_rank=rank, host="127.0.0.1", port=port, run_id="two-nodes"))
             for rank in (0, 1)]
    assert "--rdzv_backend=c10d" in nodes[0] and "--nnodes=2" in nodes[0]
    results = _run_all(nodes)
    for result in results:
        assert result.returncode == 0, result.stdout[-3000:]

    a = load_file(str(tmp_path / "one-node" / "checkpoints" / str(STEPS) / "model.safetensors"))
    b = load_file(str(tmp_path / "two-nodes" / "checkpoints" / str(STEPS) / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
