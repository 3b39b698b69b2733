"""The training engine: loss falls, exact resume, safe checkpoints, non-finite stop, bf16 on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from humanalign.config import ConfigError
from humanalign.io.checkpoints import CheckpointError, latest_checkpoint, load_train_state, load_weights
from humanalign.models import load_model
from humanalign.pretrain.cli import resolve_config
from humanalign.pretrain.engine import NonFiniteLossError, StepBatchSampler, Trainer, lr_at, weight_decay_at
from humanalign.registry import PRETRAIN_METHODS
from tests.videos_helper import write_video_folder

FAST = [
    "encoder.embed_dim=64", "encoder.depth=2", "encoder.num_heads=2", "encoder.img_size=32",
    "encoder.num_frames=4", "encoder.patch_size=8", "mae.decoder_dim=32", "mae.decoder_depth=1",
    "mae.decoder_heads=2", "data.num_frames=4", "data.sampling_rate=2", "data.repeats=2",
    "data.batch_size=2", "data.num_workers=0", "optim.lr=2e-3", "optim.warmup_steps=3",
    "optim.schedule=constant", "progress=false",
]


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video_folder(tmp_path_factory.mktemp("videos"), count=3, frames=24, size=48, bad=True)


def _trainer(video_dir: Path, out: Path, method: str = "egocentric", extra: list[str] | None = None,
             resume: bool = False) -> Trainer:
    cfg = resolve_config(method, None, FAST + [f"data.root={video_dir}"] + (extra or []))
    spec = PRETRAIN_METHODS.get(method)
    torch.manual_seed(cfg.seed)
    module = spec.build(cfg)
    dataset, skipped = spec.stream(cfg)
    return Trainer(cfg, module, dataset, out, resume=resume, skipped=skipped)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16 on CPU runs the explicit attention path
def test_loss_falls_over_30_steps(video_dir: Path, tmp_path: Path, precision: str) -> None:
    result = _trainer(video_dir, tmp_path / "run",
                      extra=["steps=30", "log_every=1", "ckpt_every=30", f"precision={precision}"]).fit()
    import json

    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert {Path(s.split(":")[0]).name for s in result.skipped} == {"empty.mp4", "truncated.mp4"}
    assert "empty.mp4" in (tmp_path / "run" / "skipped.txt").read_text()
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0


@pytest.mark.parametrize("method", ["egocentric", "imagemae"])
def test_resume_is_bitwise_exact(video_dir: Path, tmp_path: Path, method: str) -> None:
    common = ["ckpt_every=3", "log_every=1"] + (["data.num_frames=1"] if method == "imagemae" else [])
    _trainer(video_dir, tmp_path / "straight", method, common + ["steps=6"]).fit()
    _trainer(video_dir, tmp_path / "split", method, common + ["steps=3"]).fit()  # "interrupted" after step 3
    resumed = _trainer(video_dir, tmp_path / "split", method, common + ["steps=6"], resume=True)
    assert resumed.start_step == 3
    resumed.fit()
    a = load_file(str(tmp_path / "straight" / "checkpoints" / "6" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "checkpoints" / "6" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    sa = load_train_state(tmp_path / "straight" / "checkpoints" / "6" / "train_state.pt")
    sb = load_train_state(tmp_path / "split" / "checkpoints" / "6" / "train_state.pt")
    exp_a = sa["optimizer"]["state"][0]["exp_avg"]
    assert torch.equal(exp_a, sb["optimizer"]["state"][0]["exp_avg"])
    steps = [line for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == 6  # the resumed run continues the log without repeating steps


def test_checkpoint_round_trip_is_strict(video_dir: Path, tmp_path: Path) -> None:
    trainer = _trainer(video_dir, tmp_path / "run", extra=["steps=2", "ckpt_every=2"])
    trainer.fit()
    ckpt = latest_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == "2"
    encoder = load_model(tmp_path / "run")
    trained = trainer.method.encoder.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in encoder.state_dict().items())
    assert not encoder.training
    # the state loads with weights_only=True (load_train_state uses it) and has what resume needs
    state = load_train_state(ckpt / "train_state.pt")
    assert {"step", "optimizer", "rng", "scheduler", "data"} <= set(state)
    # a wrong key is refused with its name
    renamed = load_file(str(ckpt / "model.safetensors"))
    renamed["mae.encoder.norm.weight_renamed"] = renamed.pop("mae.encoder.norm.weight")
    from safetensors.torch import save_file

    save_file(renamed, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match="norm.weight"):
        load_weights(trainer.method, tmp_path / "bad.safetensors")


class _ExplodingMethod(torch.nn.Module):
    """A tiny regression whose loss turns NaN at the third step."""

    eval_prefix = "encoder."

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.calls = 0

    def forward(self, batch: dict, generator: torch.Generator) -> dict:
        self.calls += 1
        loss = self.encoder.encode(batch["video"]).square().mean()
        return {"loss": loss * float("nan") if self.calls >= 3 else loss}


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(video_dir: Path, tmp_path: Path) -> None:
    cfg = resolve_config("egocentric", None, FAST + [f"data.root={video_dir}", "steps=5", "ckpt_every=1"])
    spec = PRETRAIN_METHODS.get("egocentric")
    dataset, _ = spec.stream(cfg)
    encoder = spec.build(cfg).encoder
    with pytest.raises(NonFiniteLossError, match="step 3"):
        Trainer(cfg, _ExplodingMethod(encoder), dataset, tmp_path / "run").fit()
    assert latest_checkpoint(tmp_path / "run").name == "2"


def test_bf16_autocast_runs_on_cpu(video_dir: Path, tmp_path: Path) -> None:
    trainer = _trainer(video_dir, tmp_path / "run", extra=["steps=2", "precision=bf16"])
    assert trainer.autocast_dtype == torch.bfloat16
    blocks = [m for m in trainer.method.modules() if hasattr(m, "fused_attn")]
    assert trainer.attention == "math" and blocks and not any(m.fused_attn for m in blocks)  # attention=auto
    result = trainer.fit()
    assert torch.isfinite(torch.tensor(result.last_loss))


def test_attention_setting_is_applied(video_dir: Path, tmp_path: Path) -> None:
    trainer = _trainer(video_dir, tmp_path / "run", extra=["steps=1", "precision=bf16", "attention=sdpa"])
    assert trainer.attention == "sdpa"
    assert all(m.fused_attn for m in trainer.method.modules() if hasattr(m, "fused_attn"))
    assert _trainer(video_dir, tmp_path / "fp32", extra=["steps=1"]).attention == "sdpa"
    with pytest.raises(ConfigError, match="attention"):
        _trainer(video_dir, tmp_path / "bad", extra=["attention=flash"])


def test_config_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="mask_ration"):
        resolve_config("egocentric", None, ["mae.mask_ration=0.5"])
    with pytest.raises(ConfigError, match="unknown preset 'tinyy'.*tiny"):
        resolve_config("egocentric", "tinyy", [])
    cfg = resolve_config("imagemae", "tiny", [])
    assert cfg.data.num_frames == 1 and cfg.mae.mask_ratio == 0.75 and cfg.encoder.embed_dim == 96


def test_sampler_gives_disjoint_items_per_rank_and_resumes() -> None:
    ranks = [list(StepBatchSampler(0, 3, 2, 2, r, 4)) for r in range(2)]
    flat = [i for r in ranks for batch in r for i in batch]
    assert len(flat) == len(set(flat)) == 3 * 2 * 2 * 4
    assert list(StepBatchSampler(1, 3, 2, 2, 0, 4)) == ranks[0][2:]


def test_lr_schedule() -> None:
    class Sched:
        lr, warmup_steps, schedule, min_lr = 1.0, 4, "cosine", 0.1

    assert lr_at(0, 20, Sched) == 0.25 and lr_at(3, 20, Sched) == 1.0
    assert lr_at(19, 20, Sched) == pytest.approx(0.1 + 0.45 * (1 + torch.cos(torch.tensor(torch.pi * 15 / 16)).item()))


def test_weight_decay_schedule() -> None:
    class Constant:
        weight_decay, weight_decay_end = 0.05, None

    class Cosine:
        weight_decay, weight_decay_end = 0.04, 0.4

    assert weight_decay_at(7, 20, Constant) == 0.05
    assert weight_decay_at(0, 21, Cosine) == pytest.approx(0.04) and weight_decay_at(20, 21, Cosine) == pytest.approx(0.4)
    assert weight_decay_at(10, 21, Cosine) == pytest.approx(0.22)  # halfway on the cosine
    for preset in ("tiny", "vitl16", "vith14"):  # the V-JEPA recipe
        assert resolve_config("vjepa", preset, []).optim.weight_decay_end == 0.4


def test_trainer_applies_the_weight_decay_schedule_to_decayed_weights_only(video_dir: Path, tmp_path: Path) -> None:
    trainer = _trainer(video_dir, tmp_path / "run", extra=["steps=3", "optim.weight_decay=0.1",
                                                          "optim.weight_decay_end=0.3"])
    trainer.fit()
    decay, no_decay = trainer.optimizer.param_groups
    assert decay["weight_decay"] == pytest.approx(0.3) and no_decay["weight_decay"] == 0.0


def test_synthetic_method_trains_with_tube_masks(tmp_path: Path) -> None:
    cfg = resolve_config("synthetic", "tiny", FAST + ["data.synthetic_stage=2", "steps=2", "data.batch_size=2"])
    assert cfg.mae.masking == "tube" and cfg.mae.mask_ratio == 0.75
    spec = PRETRAIN_METHODS.get("synthetic")
    torch.manual_seed(0)
    dataset, skipped = spec.stream(cfg)
    assert skipped == [] and dataset[3]["video"].shape == (1, 3, 4, 32, 32)
    result = Trainer(cfg, spec.build(cfg), dataset, tmp_path / "run").fit()
    assert torch.isfinite(torch.tensor(result.last_loss))
    assert load_model(tmp_path / "run").is_video


def test_synthetic_pairs_are_windows_of_one_video() -> None:
    from humanalign.pretrain.methods import clip_stream

    cfg = resolve_config("synthetic", "tiny", FAST + ["data.synthetic_stage=2"])
    pairs, _ = clip_stream(cfg, mode="pair")
    clips, _ = clip_stream(resolve_config("synthetic", "tiny", FAST + ["data.synthetic_stage=2", "data.num_frames=8",
                                                                      "encoder.num_frames=8"]))
    item, whole = pairs[5], clips[5]["video"]  # the pair comes from the 8-frame rendering of clip 5
    assert item["video_a"].shape == item["video_b"].shape == (1, 3, 4, 32, 32)
    assert torch.equal(item["video_a"], whole[:, :, :4])
    starts = [o for o in range(5) if torch.equal(item["video_b"], whole[:, :, o:o + 4])]
    assert starts, "video_b must be a 4-frame window of the same rendered video"


def test_package_level_load_model_names_address_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import humanalign

    monkeypatch.setenv("HUMANALIGN_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("HUMANALIGN_OFFLINE", "1")
    assert humanalign.load_model("vit_test_image").embed_dim == 64
    with pytest.raises(FileNotFoundError) as err:
        humanalign.load_model("hvm1")
    assert str(tmp_path) in str(err.value) and "http" in str(err.value)


@pytest.mark.slow
@pytest.mark.timeout(900)  # inductor compiles C++ on the CPU: minutes on a loaded machine
def test_compiled_blocks_match_eager_and_keep_checkpoint_keys(video_dir: Path, tmp_path: Path) -> None:
    extra = ["steps=2", "ckpt_every=2"]
    _trainer(video_dir, tmp_path / "eager", extra=extra).fit()
    _trainer(video_dir, tmp_path / "compiled", extra=[*extra, "compile=true"]).fit()
    a = load_file(str(tmp_path / "eager" / "checkpoints" / "2" / "model.safetensors"))
    b = load_file(str(tmp_path / "compiled" / "checkpoints" / "2" / "model.safetensors"))
    assert a.keys() == b.keys()  # in-place compilation keeps parameter names
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
