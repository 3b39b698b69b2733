"""Configs shared by every pretraining method (the single source of defaults).

Method configs subclass :class:`TrainConfig` and add their own section (``mae``, ``vito``, ``vjepa``,
``synthetic``). Defaults follow the HVM-1 recipe (Orhan et al. 2024, MAE-ST code): AdamW with a
constant learning rate of 1e-4, weight decay 0.05, betas (0.9, 0.95), gradient clipping at 0.1,
16 frames at sampling rate 8, 16 repeated clips per decoded video. Presets (YAML diffs) switch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from humanalign.config import ConfigError
from humanalign.models.vit import EncoderConfig

__all__ = ["OptimConfig", "DataConfig", "TrainConfig", "validate_train_config"]


@dataclass
class OptimConfig:
    """AdamW and its learning-rate and weight-decay schedules.

    ``weight_decay_end`` (None: constant) moves the weight decay from ``weight_decay`` at the first step
    to ``weight_decay_end`` at the last on a cosine (V-JEPA: 0.04 -> 0.4).
    """

    lr: float = 1e-4
    weight_decay: float = 0.05
    weight_decay_end: float | None = None
    betas: tuple[float, float] = (0.9, 0.95)
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    clip_grad: float = 0.1
    accum_steps: int = 1


@dataclass
class DataConfig:
    """Where clips come from and how they are cut (per process).

    ``synthetic_stage`` 1..8 replaces the video folder by the synthetic progression rendered on the fly
    (``sampling_rate`` is then the frame stride inside the synthetic video, 4 in the paper).
    """

    root: str = ""
    manifest: str = ""
    num_frames: int = 16
    sampling_rate: int = 8
    repeats: int = 16
    batch_size: int = 4
    num_workers: int = 4
    crop_scale: tuple[float, float] = (0.4, 1.0)
    flip: bool = True
    min_frames: int = 0
    epoch_size: int = 1_000_000
    synthetic_stage: int = 0
    synthetic_variant: str = "default"
    synthetic_images: str = ""


@dataclass
class TrainConfig:
    """Everything a run needs except the method's own section.

    ``data.batch_size`` counts decoded videos per process and micro-step; each yields
    ``data.repeats`` clips, so a step sees ``batch_size * repeats * accum_steps * world_size`` clips.
    """

    method: str = ""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 1000
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    attention: Literal["auto", "sdpa", "math"] = "auto"
    distributed: Literal["ddp", "fsdp"] = "ddp"
    log_every: int = 10
    ckpt_every: int = 100
    keep_checkpoints: int = 3
    tensorboard: bool = False
    wandb: bool = False  # Weights & Biases (humanalign.pretrain.tracking); WANDB_MODE=offline works
    compile: bool = False
    progress: bool = True


#: (config key, smallest allowed value): every count and interval, checked before any work.
_MINIMUMS: tuple[tuple[str, float], ...] = (
    ("steps", 1), ("log_every", 1), ("ckpt_every", 1), ("keep_checkpoints", 0),
    ("data.batch_size", 1), ("data.num_frames", 1), ("data.sampling_rate", 1), ("data.repeats", 1),
    ("data.num_workers", 0), ("data.min_frames", 0), ("data.epoch_size", 1),
    ("optim.accum_steps", 1), ("optim.warmup_steps", 0), ("optim.lr", 0.0), ("optim.min_lr", 0.0),
    ("optim.clip_grad", 0.0), ("optim.weight_decay", 0.0),
)


def validate_train_config(cfg: TrainConfig) -> None:
    """Check every count and interval of a run config (``ckpt_every=0`` would divide by zero mid-run).

    Raises:
        ConfigError: naming the first key out of range and its value.
    """
    for key, low in _MINIMUMS:
        value: object = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
            bound = "> 0" if low == 1 else ">= 0"
            raise ConfigError(f"config key {key!r} must be {bound}, got {value!r}")
