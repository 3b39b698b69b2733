"""``load_model(name_or_path)``: a ready encoder from a registry name, a run, a checkpoint or a weights file."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from humanalign.config import from_dict
from humanalign.io.checkpoints import WEIGHTS, CheckpointError, latest_checkpoint, load_weights, read_meta
from humanalign.models.vit import EncoderConfig, ViTEncoder
from humanalign.registry import MODELS

__all__ = ["load_model", "encoder_from_checkpoint"]

logger = logging.getLogger(__name__)


def encoder_from_checkpoint(checkpoint_dir: str | Path) -> ViTEncoder:
    """The evaluation encoder stored in a checkpoint folder written by the pretraining engine.

    ``meta.json`` names the encoder config and the weight prefix of the encoder used for evaluation
    (``encoder.`` for MAE/VITO, ``target_encoder.`` for V-JEPA).
    """
    checkpoint_dir = Path(checkpoint_dir)
    meta = read_meta(checkpoint_dir)
    if "encoder" not in meta:
        raise CheckpointError(f"{checkpoint_dir / 'meta.json'}: no 'encoder' config recorded")
    encoder = ViTEncoder(from_dict(EncoderConfig, meta["encoder"]))
    load_weights(encoder, checkpoint_dir / WEIGHTS, prefix=meta.get("eval_prefix", "encoder."))
    encoder.checkpoint_path = str(checkpoint_dir / WEIGHTS)
    encoder.model_name = meta.get("run_name") or checkpoint_dir.parent.parent.name
    return encoder


def load_model(name_or_path: str | Path, device: str = "cpu") -> nn.Module:
    """Return an encoder in eval mode.

    Args:
        name_or_path: A registry name (``humanalign.registry.MODELS``), a training run folder
            (its newest checkpoint), a checkpoint step folder, or a ``model.safetensors`` file with
            its ``meta.json``.
        device: Where to put the model.

    Raises:
        FileNotFoundError: a path that does not exist or holds no checkpoint (the message says where it looked).
        humanalign.registry.UnknownNameError: neither a path nor a registered name.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_file():
            if path.name != WEIGHTS:
                hint = ("a bare weights file has no architecture: use timm:NAME@FILE, torchvision:NAME@FILE, "
                        "or a run's checkpoint folder" if path.suffix.lower() in (".pth", ".pt", ".bin", ".safetensors")
                        else "not a model file")
                raise CheckpointError(f"{path}: {hint} (load_model reads {WEIGHTS} files written by the suite)")
            model = encoder_from_checkpoint(path.parent)
        elif (path / WEIGHTS).is_file():
            model = encoder_from_checkpoint(path)
        else:
            latest = latest_checkpoint(path)
            if latest is None:
                raise FileNotFoundError(f"{path}: no checkpoint found (looked for checkpoints/<step>/{WEIGHTS})")
            model = encoder_from_checkpoint(latest)
    elif "/" in text or text.endswith(".safetensors"):
        raise FileNotFoundError(f"model path not found: {path}")
    else:
        model = MODELS.build(text)
        if not getattr(model, "model_name", None):
            model.model_name = text
    return model.to(device).eval()
