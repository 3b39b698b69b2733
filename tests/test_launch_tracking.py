"""Experiment tracking: TensorBoard events and an offline W&B run from a real (tiny) run; FLOPs and MFU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from humanalign.pretrain.cli import resolve_config
from humanalign.pretrain.engine import Trainer
from humanalign.pretrain.flops import count_flops, mfu, peak_bf16_flops
from humanalign.pretrain.tracking import Tracker
from humanalign.registry import PRETRAIN_METHODS
from tests.test_pretrain_engine import FAST
from tests.videos_helper import write_video_folder


def _fit(tmp_path: Path, extra: list[str]) -> Path:
    videos = write_video_folder(tmp_path / "videos", count=2, frames=24, size=48)
    cfg = resolve_config("egocentric", None, FAST + [f"data.root={videos}", "steps=3", "log_every=1",
                                                     "ckpt_every=3", *extra])
    torch.manual_seed(cfg.seed)
    spec = PRETRAIN_METHODS.get("egocentric")
    dataset, skipped = spec.stream(cfg)
    Trainer(cfg, spec.build(cfg), dataset, tmp_path / "run", skipped=skipped).fit()
    return tmp_path / "run"


def test_tensorboard_and_offline_wandb_get_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    logged: list[tuple[int, dict]] = []
    real_init = wandb.init

    def spying_init(**kwargs):  # the real offline run, with its log calls recorded
        run = real_init(**kwargs)
        real_log = run.log
        run.log = lambda data, step=None: (logged.append((step, dict(data))), real_log(data, step=step))[1]
        return run

    monkeypatch.setattr(wandb, "init", spying_init)
    run = _fit(tmp_path, ["tensorboard=true", "wandb=true"])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(r["max_mem_gb"] > 0 for r in records)  # memory on every record (max RSS on CPU)

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    for key in ("loss", "lr", "clips_per_s", "max_mem_gb"):
        assert key in events.Tags()["scalars"], key
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [1, 2, 3]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in records], rel=1e-6)

    assert [step for step, _ in logged] == [1, 2, 3]
    for (_, data), record in zip(logged, records):
        assert data["loss"] == record["loss"] and data["lr"] == record["lr"]
        assert {"clips_per_s", "max_mem_gb", "grad_norm"} <= set(data)
    wandb.teardown()  # the W&B service writes the file asynchronously: wait for it to flush and exit (as at exit)
    offline = list((run / "wandb").glob("offline-run-*/run-*.wandb"))  # written to disk, for `wandb sync`
    assert len(offline) == 1
    blob = offline[0].read_bytes()
    assert all(key.encode() in blob for key in ("loss", "lr", "clips_per_s", "max_mem_gb"))

def test_flop_counter_counts_a_linear_layer_forward_and_backward() -> None:
    layer = torch.nn.Linear(32, 16)
    x = torch.randn(8, 32, requires_grad=True)
    _, flops = count_flops(lambda: layer(x).sum().backward())
    # forward 2*B*in*out; backward: grad wrt input and wrt weight, each as large
    assert flops == 3 * 2 * 8 * 32 * 16


def test_peak_table_and_mfu() -> None:
    assert peak_bf16_flops(name="NVIDIA H100 80GB HBM3") == 989e12
    assert peak_bf16_flops(name="NVIDIA H100 PCIe") == 756e12
    assert peak_bf16_flops(name="NVIDIA H200") == 989e12
    assert peak_bf16_flops(name="NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_bf16_flops(name="Tesla T4") is None
    assert peak_bf16_flops("cpu") is None
    assert mfu(500e12, 1.0, 1000e12) == pytest.approx(0.5)
    assert mfu(1.0, 1.0, None) is None


def test_tracker_mfu_path_counts_the_first_step_once(tmp_path: Path) -> None:
    """The CUDA-only MFU path, exercised on CPU by giving the tracker a peak rate."""
    from types import SimpleNamespace

    tracker = Tracker(SimpleNamespace(tensorboard=False, wandb=False), tmp_path, True, torch.device("cpu"))
    assert not tracker.mfu_enabled  # CPU: no MFU by default
    tracker.mfu_enabled, tracker.peak = True, 1e9
    layer = torch.nn.Linear(64, 64)
    for step in range(3):
        for _ in range(2):  # two micro-steps
            tracker.begin_flop_count(step == 0)
            layer(torch.randn(4, 64)).sum().backward()
            tracker.end_flop_count()
        extras = tracker.extras(step + 1)
        assert ("mfu" in extras) == (step > 0)  # the first record has no previous step to time against
    assert tracker.flops_per_step == 2 * 3 * 2 * 4 * 64 * 64 - 2 * 2 * 4 * 64 * 64  # x needs no grad
    assert 0 < extras["mfu"]
