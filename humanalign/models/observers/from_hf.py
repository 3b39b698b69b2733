"""``hf:DIR`` observers: a local Hugging Face ``transformers`` folder (or a model already in the HF cache).

Image vs video, size, frames and normalisation come from the folder's ``config.json`` and
``preprocessor_config.json``. Video models (VideoMAE, V-JEPA 2, ...) take ``[B, T, C, H, W]``; the
observer passes the suite's ``[B, C, T, H, W]`` clips in that layout. Loading is local only
(``local_files_only=True``): nothing is downloaded, and missing or mis-shaped weights are an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from humanalign.io.checkpoints import CheckpointError
from humanalign.models.observers.contract import IMAGENET_MEAN, IMAGENET_STD, InputContract
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.seeded import seeded_build
from humanalign.models.observers.spec import ModelSpec, SpecError
from humanalign.models.observers.weights import hf_cache_dir

__all__ = ["hf_observer", "hf_contract", "VIDEO_MODEL_TYPES"]

logger = logging.getLogger(__name__)

VIDEO_MODEL_TYPES = {"videomae", "vjepa2", "timesformer", "vivit", "x_clip"}
_RESAMPLE = {2: "bilinear", 3: "bicubic"}


def _preprocessor(folder: Path | None) -> dict[str, Any]:
    if folder is None:
        return {}
    for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
        file = folder / name
        if file.is_file():
            try:
                return json.loads(file.read_text())
            except json.JSONDecodeError as err:
                raise CheckpointError(f"{file}: not valid JSON ({err.msg} at line {err.lineno})") from None
    return {}


def _side(value: Any) -> int | None:
    if isinstance(value, dict):
        for key in ("height", "shortest_edge", "width"):
            if key in value:
                return int(value[key])
        return None
    return int(value) if value else None


def hf_contract(config: Any, folder: Path | None) -> InputContract:
    """The input contract of a transformers model from its config and preprocessor config."""
    pre = _preprocessor(folder)
    video = config.model_type in VIDEO_MODEL_TYPES
    size = (_side(pre.get("crop_size")) if pre.get("do_center_crop", True) and pre.get("crop_size") else None) \
        or _side(pre.get("size")) or int(getattr(config, "crop_size", 0) or getattr(config, "image_size", 224))
    short = _side(pre.get("size")) or size
    frames = int(getattr(config, "num_frames", 0) or getattr(config, "frames_per_clip", 0) or 16) if video else 1
    mean = tuple(float(v) for v in pre.get("image_mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in pre.get("image_std", IMAGENET_STD))
    crop = size / short if short and short >= size else 1.0
    interp = _RESAMPLE.get(int(pre.get("resample", 2)), "bilinear")
    return InputContract("video" if video else "image", int(size), frames, mean, std, float(crop), interp,
                         "hf config + preprocessor config" if pre else "hf config")


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _load(target: str) -> tuple[Any, Any, Path | None]:
    from transformers import AutoConfig, AutoModel

    folder = Path(target).expanduser()
    local = folder.is_dir()
    if not local and ("/" in target and Path(target).anchor):
        raise FileNotFoundError(f"{folder}: Hugging Face model folder not found")
    if not local:  # a named model: its snapshot folder in the cache, so its preprocessor config is read too
        folder = _cached_snapshot(target)
    if not (folder / "config.json").is_file():
        raise SpecError(f"{folder}: not a Hugging Face model folder (no config.json)")
    source = str(folder)
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as err:
        raise SpecError(f"{source}: cannot read the model config ({_first_line(err)})") from None
    archs = list(getattr(config, "architectures", None) or [])
    cls = AutoModel
    if archs and archs[0].endswith(("ForImageClassification", "ForVideoClassification")):
        import transformers

        cls = getattr(transformers, archs[0], AutoModel)
    def load(**kwargs: Any):
        return seeded_build(lambda: cls.from_pretrained(source, local_files_only=True, output_loading_info=True,
                                                        **kwargs))

    try:
        try:
            model, info = load()
        except RuntimeError as err:
            # transformers >= 5 raises on mis-shaped weights with the keys only in a logged report: load again
            # keeping the mismatches so the error can name the first one
            if "ignore_mismatched_sizes" not in str(err):
                raise
            model, info = load(ignore_mismatched_sizes=True)
            if not info.get("mismatched_keys"):
                raise err from None
    except (OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{source}: cannot load the weights ({_first_line(err)})") from None
    missing = sorted(info.get("missing_keys") or [])
    unused = [k for k in missing if k.split(".")[0] == "pooler"]  # DINO/MAE ViT files have no pooler; it is unused
    if unused:
        logger.info("%s: no weights for the unused pooler (%s)", source, ", ".join(unused))
    bad = [f"missing {k}" for k in missing if k not in unused]
    for m in sorted(info.get("mismatched_keys") or [], key=str):
        bad.append(f"{m[0]}: checkpoint {tuple(m[1])} vs model {tuple(m[2])}" if isinstance(m, tuple) and len(m) == 3
                   else f"mis-shaped {m}")
    if bad:
        raise CheckpointError(f"{source}: weights do not match {type(model).__name__}: "
                              f"{len(bad)} missing or mis-shaped, first {bad[0]}")
    if info.get("unexpected_keys"):
        logger.info("%s: ignored %d unused weights (e.g. %s)", source, len(info["unexpected_keys"]),
                    sorted(info["unexpected_keys"])[0])
    return config, model.eval(), folder


def _cached_snapshot(name: str) -> Path:
    """The snapshot folder of a model already in the Hugging Face cache (``$HF_HOME``); never downloads."""
    from huggingface_hub import snapshot_download

    cache = hf_cache_dir()
    try:
        return Path(snapshot_download(name, local_files_only=True, cache_dir=cache))
    except (OSError, ValueError) as err:
        raise SpecError(f"{name}: not a folder, and not in the Hugging Face cache ({cache or 'the default cache'}; "
                        f"set HF_HOME): {_first_line(err)}") from None


def hf_observer(spec: ModelSpec) -> Observer:
    """Build the observer of an ``hf:`` spec (see the module docstring)."""
    config, model, folder = _load(spec.target)
    contract = hf_contract(config, folder).with_overrides(spec.overrides, spec.text)
    video = contract.is_video
    base = getattr(model, "base_model", model)
    key = "pixel_values_videos" if config.model_type == "vjepa2" else "pixel_values"
    # CLS (+ register) tokens: ViT, DINOv2, TimeSformer, ViViT have a CLS token; VideoMAE and V-JEPA 2 none
    has_cls = getattr(getattr(base, "embeddings", None), "cls_token", None) is not None
    prefix = int(has_cls) + int(getattr(config, "num_register_tokens", 0) or 0)

    def layout(x):
        return x.transpose(1, 2) if video else x  # [B, C, T, H, W] -> [B, T, C, H, W]

    def run(x):  # the whole model, so a classifier's modules can be hooked too
        return model(**{key: layout(x)})

    def final(x, pooling: str):
        out = base(**{key: layout(x)})
        tokens = out.last_hidden_state  # [B, N(+prefix), D]
        if pooling == "cls" and prefix:
            return tokens[:, 0]
        return tokens[:, prefix:].mean(1)  # never the pooler: ViT's is a fine-tuning dense + tanh, often untrained

    has_head = base is not model
    return Observer(model, contract, name=spec.default_name, spec=spec.text, source="hf", run=run, final=final,
                    logits=(lambda x: model(**{key: layout(x)}).logits) if has_head else None,
                    num_classes=int(config.num_labels) if has_head else None, prefix_tokens=prefix,
                    weights_file=str(folder), info={"model_type": config.model_type})
