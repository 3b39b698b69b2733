"""``timm:NAME[@FILE]`` observers: a timm model, its data config as the input contract."""

from __future__ import annotations

import logging
from pathlib import Path

from humanalign.models.observers.contract import InputContract
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.seeded import INIT_SEED, seeded_build
from humanalign.models.observers.spec import ModelSpec, SpecError
from humanalign.models.observers.weights import hf_cache_dir, load_weights_file

__all__ = ["timm_observer", "timm_contract", "cached_timm_weights"]

logger = logging.getLogger(__name__)


def timm_contract(model) -> InputContract:
    """Input contract from timm's ``resolve_data_config`` (the model's ``pretrained_cfg``)."""
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    _, h, w = cfg["input_size"]
    interp = cfg.get("interpolation", "bicubic")
    return InputContract("image", int(h), 1, tuple(cfg["mean"]), tuple(cfg["std"]), float(cfg.get("crop_pct", 1.0)),
                         interp if interp in ("bilinear", "bicubic") else "bicubic", "timm pretrained_cfg")


def cached_timm_weights(model) -> Path | None:
    """The model's pretrained file if it is already in the Hugging Face cache (never downloads)."""
    hub_id = (getattr(model, "pretrained_cfg", None) or {}).get("hf_hub_id")
    if not hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a timm dependency
        return None
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(hub_id, filename, cache_dir=hf_cache_dir())
        if isinstance(found, str):
            return Path(found)
    return None


def timm_observer(spec: ModelSpec) -> Observer:
    """Build the observer of a ``timm:`` spec.

    Raises:
        SpecError: for a name timm does not know. CheckpointError: for a weights file that does not fit.
    """
    import timm

    if not timm.is_model(spec.target):
        close = timm.list_models(f"*{spec.target.split('.')[0][:8]}*")[:5]
        raise SpecError(f"timm has no model {spec.target!r}" + (f"; similar: {', '.join(close)}" if close else ""))
    model = seeded_build(lambda: timm.create_model(spec.target, pretrained=False))
    weights = None
    if spec.weights:
        weights = str(Path(spec.weights).expanduser())
        load_weights_file(model, weights)
    else:
        cached = cached_timm_weights(model)
        if cached is not None:
            model = seeded_build(lambda: timm.create_model(spec.target, pretrained=True,
                                                           pretrained_cfg_overlay={"file": str(cached)}))
            weights = str(cached)
            logger.info("%s: pretrained weights from the Hugging Face cache (%s)", spec.text, cached)
        else:
            logger.warning("%s: no weights file given and none cached: random init (seed %d)", spec.text, INIT_SEED)
    model.eval()
    contract = timm_contract(model).with_overrides(spec.overrides, spec.text)

    def final(x, pooling: str):
        return model.forward_head(model.forward_features(x), pre_logits=True)  # [B, D]

    has_head = int(getattr(model, "num_classes", 0) or 0) > 0
    return Observer(model, contract, name=spec.default_name, spec=spec.text, source="timm",
                    run=model, final=final, logits=model if has_head else None,
                    num_classes=int(model.num_classes) if has_head else None,
                    prefix_tokens=int(getattr(model, "num_prefix_tokens", 0) or 0), weights_file=weights,
                    info={"weights": weights or f"random init (seed {INIT_SEED})"})
