"""Resume edge cases and up-front config checks: no checkpoint yet, torn logs, broken checkpoints, bad intervals."""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
from pathlib import Path

import pytest
import torch

from humanalign.config import ConfigError
from humanalign.io.checkpoints import CheckpointError, CorruptCheckpointError, load_train_state, read_weights
from humanalign.pretrain.cli import resolve_config
from humanalign.pretrain.engine import Trainer
from humanalign.registry import PRETRAIN_METHODS
from tests.test_pretrain_engine import FAST, _trainer
from tests.videos_helper import write_video_folder


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video_folder(tmp_path_factory.mktemp("videos"), count=2, frames=24, size=48)


def _steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_with_no_checkpoint_yet_logs_each_step_once(video_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()  # killed after logging steps 1 and 2, before the first checkpoint
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}\n')
    trainer = _trainer(video_dir, run, extra=["steps=3", "log_every=1", "ckpt_every=10"], resume=True)
    assert trainer.start_step == 0
    trainer.fit()
    assert _steps(run) == [1, 2, 3]


def test_torn_last_metrics_line_is_dropped_with_a_warning(video_dir: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "run"
    _trainer(video_dir, run, extra=["steps=2", "log_every=1", "ckpt_every=2"]).fit()
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 3, "loss": 0.8')  # a kill in mid-write
    with caplog.at_level(logging.WARNING, logger="humanalign.pretrain.engine"):
        _trainer(video_dir, run, extra=["steps=3", "log_every=1", "ckpt_every=2"], resume=True).fit()
    assert _steps(run) == [1, 2, 3]
    assert any("torn last line 3" in r.getMessage() and "metrics.jsonl" in r.getMessage() for r in caplog.records)


def test_broken_metrics_line_before_the_end_names_file_and_line(video_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _trainer(video_dir, run, extra=["steps=2", "log_every=1", "ckpt_every=2"]).fit()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("{oops\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 1"):
        _trainer(video_dir, run, extra=["steps=3", "log_every=1", "ckpt_every=2"], resume=True).fit()


def test_truncated_newest_checkpoint_falls_back_to_the_newest_intact_one(
        video_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "run"
    common = ["log_every=1", "ckpt_every=2"]
    _trainer(video_dir, run, extra=["steps=4", *common]).fit()
    weights = run / "checkpoints" / "4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CorruptCheckpointError, match="model.safetensors"):
        read_weights(weights)
    with caplog.at_level(logging.WARNING, logger="humanalign.pretrain.engine"):
        trainer = _trainer(video_dir, run, extra=["steps=4", *common], resume=True)
    assert trainer.start_step == 2
    skipped = [r.getMessage() for r in caplog.records if "skipping checkpoint" in r.getMessage()]
    assert len(skipped) == 1 and str(run / "checkpoints" / "4") in skipped[0] and "unreadable" in skipped[0]
    trainer.fit()
    assert _steps(run) == [1, 2, 3, 4]
    assert read_weights(weights).keys()  # rewritten intact


class _Evil:
    """Unpickling this would create a file: a weights_only load must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return pathlib.Path.touch, (self.marker,)


def test_malicious_train_state_is_refused_with_a_clear_error(video_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _trainer(video_dir, run, extra=["steps=2", "ckpt_every=2"]).fit()
    marker = tmp_path / "pwned"
    state = run / "checkpoints" / "2" / "train_state.pt"
    torch.save({"step": 2, "payload": _Evil(marker)}, state)
    with pytest.raises(CorruptCheckpointError, match=r"train_state.pt: refused"):
        load_train_state(state)
    with pytest.raises(CheckpointError, match=r"no intact checkpoint.*train_state.pt: refused"):
        _trainer(video_dir, run, extra=["steps=3", "ckpt_every=2"], resume=True)
    assert not marker.exists()


@pytest.mark.parametrize("override", ["ckpt_every=0", "log_every=0", "steps=0", "steps=-300", "data.repeats=0",
                                      "keep_checkpoints=-1", "optim.accum_steps=0", "optim.warmup_steps=-1"])
def test_every_interval_is_checked_up_front(override: str) -> None:
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=f"'{key}' must be"):
        resolve_config("egocentric", "tiny", [override])


def test_trainer_checks_the_config_before_any_work(video_dir: Path, tmp_path: Path) -> None:
    cfg = resolve_config("egocentric", None, FAST + [f"data.root={video_dir}", "steps=2"])
    spec = PRETRAIN_METHODS.get("egocentric")
    dataset, _ = spec.stream(cfg)
    with pytest.raises(ConfigError, match="'ckpt_every' must be > 0, got 0"):
        Trainer(dataclasses.replace(cfg, ckpt_every=0), spec.build(cfg), dataset, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_boolean_steps_are_refused() -> None:
    with pytest.raises(ConfigError, match="'steps'.*expected int, got True"):
        resolve_config("egocentric", "tiny", ["steps=true"])


@pytest.mark.parametrize("method", sorted(PRETRAIN_METHODS.list()))
def test_every_shipped_preset_passes_the_checks(method: str) -> None:
    from humanalign.pretrain.cli import preset_names

    for preset in preset_names(method):
        resolve_config(method, preset, ["data.synthetic_stage=1"] if method == "synthetic" else [])


def test_a_typo_in_a_preset_file_names_the_file(tmp_path: Path) -> None:
    preset = tmp_path / "mine.yaml"
    preset.write_text("_base: tiny\nmae:\n  mask_ration: 0.5\n")
    with pytest.raises(ConfigError, match=rf"preset {preset}: unknown config key 'mae.mask_ration'"):
        resolve_config("egocentric", str(preset), [])
