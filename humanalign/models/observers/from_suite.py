"""Observers of the suite's own encoders: registry names, training runs, checkpoint folders, weights files."""

from __future__ import annotations

from torch import nn

from humanalign.models.observers.contract import InputContract
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.spec import ModelSpec

__all__ = ["suite_observer", "encoder_observer", "encoder_contract"]


def encoder_contract(encoder: nn.Module) -> InputContract:
    """Contract of a suite encoder: its config (``meta.json`` or the registry entry) and normalisation."""
    size = encoder.img_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    video = bool(getattr(encoder, "is_video", False))
    source = "release metadata" if getattr(encoder, "released", None) else "encoder config"
    return InputContract("video" if video else "image", size, int(getattr(encoder, "num_frames", 1) or 1) if video
                         else 1, tuple(float(v) for v in encoder.input_mean),
                         tuple(float(v) for v in encoder.input_std), 1.0, "bilinear", source)


def encoder_observer(encoder: nn.Module, name: str | None = None, spec: str | None = None,
                     overrides: dict | None = None) -> Observer:
    """Wrap a suite encoder (``encode``, ``forward_features``, ``blocks``, ``img_size``, ...) as an observer."""
    released = getattr(encoder, "released", None) or {}
    head = getattr(encoder, "head", None)
    prefix = int(getattr(encoder, "num_prefix_tokens", 0) or 0)
    head_pool = released.get("pool", "mean")

    def final(x, pooling: str):
        return encoder.encode(x, pool=pooling if pooling in ("mean", "cls") else "mean")  # [B, D]

    logits = None
    num_classes = None
    if isinstance(head, nn.Linear):
        num_classes = head.out_features

        def logits(x):
            return head(encoder.encode(x, pool=head_pool))  # [B, C]
    elif head is not None and hasattr(head, "linear"):  # attentive probe over final-norm patch tokens
        num_classes = head.linear.out_features

        def logits(x):
            return head(encoder.forward_features(x)[:, prefix:])  # [B, C]
    label = name or getattr(encoder, "model_name", None) or type(encoder).__name__
    contract = encoder_contract(encoder).with_overrides(overrides or {}, spec or label)
    return Observer(encoder, contract, name=str(label), spec=spec or str(label), source="suite",
                    run=encoder.forward_features, final=final, logits=logits, num_classes=num_classes,
                    prefix_tokens=prefix, weights_file=getattr(encoder, "checkpoint_path", None),
                    info={"released": released} if released else {})


def suite_observer(spec: ModelSpec) -> Observer:
    """A registry name, run folder, checkpoint folder or ``model.safetensors`` (see ``load_model``)."""
    from humanalign.models.loading import load_model
    from humanalign.models.observers.seeded import seeded_build

    # seeded: an architecture-only registry entry (vit_test_image, vit_s16_video) gets the same random
    # init, so the same weights hash, every run; checkpoints overwrite the init anyway
    encoder = seeded_build(lambda: load_model(spec.target))
    return encoder_observer(encoder, spec.default_name, spec.text, dict(spec.overrides))
