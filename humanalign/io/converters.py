"""Named converters from released checkpoint formats to :class:`~humanalign.models.vit.ViTEncoder` keys.

One function per public format; each takes the object a released file holds (a nested dict of
tensors, as ``torch.load`` returns it) and returns a :class:`Converted`: encoder weights under the
suite's key names, the classification/probe head weights (if any), the architecture fields that the
tensor shapes determine, and the keys it dropped on purpose (decoders, predictors, mask tokens).
Nothing here loads into a model: strict loading happens afterwards
(:func:`humanalign.io.checkpoints.load_state_dict_strict`), so any key a converter misses is reported.

Formats (key layouts as in the public code that wrote the files):

* **mae_st / HVM-1** (:func:`convert_mae_st`; facebookresearch/mae_st, eminorhan/hvm-1): weights under
  ``"model"``; ``blocks.i.attn.{q,k,v}`` separate projections (fused here into ``attn.qkv``), CLS token,
  separable learned positions ``pos_embed_{spatial,temporal,class}``; pretrained MAE files also hold the
  decoder (``decoder_*``, ``mask_token``; dropped); fine-tuned files hold ``head``.
* **VideoMAE v1/v2** (:func:`convert_videomae`): weights under ``"model"`` or ``"module"``, pretrained
  encoders prefixed ``encoder.``; ``attn.qkv`` without bias plus ``attn.q_bias``/``attn.v_bias`` (the key
  bias is zero: fused here as ``[q_bias, 0, v_bias]``); fixed 1-D sin-cos positions (not stored);
  optional layer scale ``gamma_1``/``gamma_2``; mean-pooling fine-tuned models have ``fc_norm`` and no
  ``norm``.
* **V-JEPA** (:func:`convert_vjepa`, :func:`convert_vjepa_probe`; facebookresearch/jepa): encoders under
  ``"target_encoder"`` (also ``"encoder"``) with ``module.``/``backbone.`` prefixes, fused ``attn.qkv``
  with bias, and the fixed 3-D sin-cos ``pos_embed`` stored in the file (kept as a ``"table"``); the
  attentive probe under ``"classifier"`` (``pooler.*``, ``linear.*``).
* **timm image ViTs / image MAE** (:func:`convert_timm_vit`): ``cls_token``, ``pos_embed`` ``[1, 1+N, D]``
  (split into the class and spatial tables), 2-D ``patch_embed.proj``, fused ``attn.qkv``; optional
  ``fc_norm``, ``head``; MAE pretraining files hold a decoder (dropped).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from humanalign.io.checkpoints import CheckpointError

__all__ = [
    "CheckpointDict",
    "Converted",
    "CONVERTERS",
    "read_checkpoint_file",
    "unwrap",
    "strip_prefixes",
    "convert_mae_st",
    "convert_hvm1",
    "convert_videomae",
    "convert_videomae_v2",
    "convert_vjepa",
    "convert_vjepa_probe",
    "convert_timm_vit",
]

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


class CheckpointDict(dict):
    """A loaded checkpoint (a plain ``dict``) that remembers the file it came from, for error messages."""

    source: str = ""


def _from_file(obj: Mapping[str, Any], path: Path) -> CheckpointDict:
    out = CheckpointDict(obj)
    out.source = str(path)
    return out


def _where(checkpoint: Any, source: str | os.PathLike | None, fmt: str) -> str:
    """``"<file> (<fmt> checkpoint)"``: the file is ``source``, else the path :func:`read_checkpoint_file` recorded."""
    name = str(source) if source else getattr(checkpoint, "source", "")
    return f"{name} ({fmt} checkpoint)" if name else f"{fmt} checkpoint (no file name given)"


@dataclass
class Converted:
    """Result of a converter.

    Attributes:
        encoder: Weights under :class:`~humanalign.models.vit.ViTEncoder` key names.
        head: Head weights (``weight``/``bias`` of a linear classifier, or the attentive probe's keys).
        config: :class:`~humanalign.models.vit.EncoderConfig` fields determined by the tensor shapes.
        dropped: Keys left out on purpose (decoder, predictor, mask token).
        format: Name of the converter's format.
    """

    encoder: StateDict
    head: StateDict = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    format: str = ""


# -- reading files ----------------------------------------------------------------------------------
def read_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a released checkpoint without running arbitrary pickled code.

    ``.safetensors`` files are read with safetensors; ``.pth``/``.pt``/``.tar`` files with
    ``torch.load(weights_only=True)``, allowing ``argparse.Namespace`` (mae_st and VideoMAE store their
    command-line arguments beside the weights). A file that pickles other objects is refused unless
    ``HUMANALIGN_TRUST_CHECKPOINTS=1`` is set (then it is unpickled fully: only for files you trust).

    Returns:
        A :class:`CheckpointDict` (a ``dict`` that records the path, so converter errors name the file).

    Raises:
        FileNotFoundError: the file is absent.
        CheckpointError: the file is not a readable checkpoint (the message names it and why).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return _from_file(load_file(str(path)), path)
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path}: cannot read as safetensors ({err}); the file may be truncated") from err
    trusted = os.environ.get("HUMANALIGN_TRUST_CHECKPOINTS", "").strip().lower() in ("1", "true", "yes")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=not trusted)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"{path}: cannot read as a weights-only PyTorch checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); the file may be truncated, or hold pickled "
            "objects other than tensors (set HUMANALIGN_TRUST_CHECKPOINTS=1 to unpickle a file you trust)") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    return _from_file(obj, path)


def unwrap(checkpoint: Mapping[str, Any], keys: Iterable[str], source: str = "checkpoint") -> StateDict:
    """The state dict inside a checkpoint: the first of ``keys`` present, else the mapping itself.

    Raises:
        CheckpointError: when the result is not a mapping of tensors.
    """
    keys = list(keys)
    state: Any = checkpoint
    for key in keys:
        if isinstance(checkpoint, Mapping) and key in checkpoint and isinstance(checkpoint[key], Mapping):
            state = checkpoint[key]
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        found = sorted(checkpoint)[:10] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{source}: no tensors found under any of {keys} (top-level keys: {found})")
    return tensors


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Iterable[str]) -> StateDict:
    """Remove each of ``prefixes`` (repeatedly, in order) from the start of every key."""
    prefixes = list(prefixes)
    out: StateDict = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in prefixes:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _split_dropped(state: StateDict, drop: Callable[[str], bool]) -> tuple[StateDict, list[str]]:
    kept = {k: v for k, v in state.items() if not drop(k)}
    return kept, sorted(set(state) - set(kept))


def _take_head(state: StateDict, prefix: str = "head.") -> StateDict:
    head = {k[len(prefix):]: state.pop(k) for k in [k for k in state if k.startswith(prefix)]}
    return head


def _need(state: Mapping[str, torch.Tensor], key: str, where: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"{where}: no {key!r} (keys: {sorted(state)[:12]} ...)")
    return state[key]


def _ratio(hidden: int, dim: int) -> float:
    """``hidden / dim`` as a float ``r`` with ``int(dim * r) == hidden`` (e.g. 6144 / 1408 for ViT-g)."""
    r = hidden / dim
    while int(dim * r) < hidden:
        r = math.nextafter(r, math.inf)
    return r


def _block_count(state: Mapping[str, torch.Tensor]) -> int:
    indices = {int(m.group(1)) for k in state if (m := _BLOCK.match(k))}
    return max(indices) + 1 if indices else 0


def _common_config(state: Mapping[str, torch.Tensor], where: str) -> dict[str, Any]:
    """Architecture fields every format shares: width, depth, patch/tubelet, MLP ratio, biases."""
    proj = _need(state, "patch_embed.proj.weight", where)  # [D, C, t, p, p] or [D, C, p, p]
    depth = _block_count(state)
    if depth == 0:
        raise CheckpointError(f"{where}: no transformer blocks ('blocks.<i>.*' keys)")
    d = int(proj.shape[0])
    cfg: dict[str, Any] = {
        "embed_dim": d,
        "in_chans": int(proj.shape[1]),
        "patch_size": int(proj.shape[-1]),
        "depth": depth,
        "video": proj.dim() == 5,
        "mlp_ratio": _ratio(int(_need(state, "blocks.0.mlp.fc1.weight", where).shape[0]), d),
    }
    if proj.dim() == 5:
        cfg["tubelet_size"] = int(proj.shape[2])
    return cfg


def _rename_patch_embed(state: StateDict) -> StateDict:
    """``patch_embed.proj.*`` (every released format) -> ``patch_embed.*`` (the suite's Conv layer)."""
    for part in ("weight", "bias"):
        if f"patch_embed.proj.{part}" in state:
            state[f"patch_embed.{part}"] = state.pop(f"patch_embed.proj.{part}")
    return state


def _fuse_qkv(state: StateDict, depth: int, where: str) -> None:
    """``attn.q``/``attn.k``/``attn.v`` (weights ``[D, D]``, optional biases) -> ``attn.qkv`` ``[3D, D]``."""
    for i in range(depth):
        base = f"blocks.{i}.attn."
        for part in ("weight", "bias"):
            names = [f"{base}{p}.{part}" for p in ("q", "k", "v")]
            present = [n in state for n in names]
            if not any(present):
                continue
            if not all(present):
                missing = [n for n, ok in zip(names, present) if not ok]
                raise CheckpointError(f"{where}: block {i} has only some of q/k/v {part}s; missing {missing}")
            state[f"{base}qkv.{part}"] = torch.cat([state.pop(n) for n in names], dim=0)
        if f"{base}qkv.weight" not in state:
            raise CheckpointError(f"{where}: block {i} has no attention weights ({base}{{q,k,v}}.weight)")


def _rename_layer_scale(state: StateDict) -> None:
    """VideoMAE's ``gamma_1``/``gamma_2`` -> timm's ``ls1.gamma``/``ls2.gamma``."""
    for key in [k for k in state if re.match(r"^blocks\.\d+\.gamma_[12]$", k)]:
        block, which = key.rsplit(".gamma_", 1)
        state[f"{block}.ls{which}.gamma"] = state.pop(key)


def _layer_scale_init(state: Mapping[str, torch.Tensor]) -> float | None:
    # The value only matters for a fresh model; any non-None value makes the model hold ls*.gamma.
    return 1.0 if "blocks.0.ls1.gamma" in state else None


# -- mae_st / HVM-1 ---------------------------------------------------------------------------------
def convert_mae_st(checkpoint: Mapping[str, Any], pooled_norm: bool = False, *, source: str | os.PathLike | None = None) -> Converted:
    """Convert a facebookresearch/mae_st (or HVM-1) checkpoint.

    Args:
        checkpoint: The loaded file (weights under ``"model"``) or a bare state dict.
        pooled_norm: The file is a mae_st fine-tuned classifier, whose ``norm`` is applied to the
            mean-pooled tokens (stored here as ``fc_norm``). HVM-1's fine-tuned models apply ``norm`` to
            the CLS token, which equals the suite's per-token final norm followed by ``pool="cls"``,
            so they keep the default.
            Without a CLS token (``cls_embed=False``, not a released configuration) the reference still
            pools ``x[:, 1:]``, dropping the first patch; the suite mean-pools every patch token (a warning
            says so; see docs/models.md).
        source: The file's name for error messages (default: the path :func:`read_checkpoint_file` recorded).

    Returns:
        A :class:`Converted` with separable positions and fused ``attn.qkv``.

    Raises:
        CheckpointError: naming the file, on a layout this converter does not know (a joint ``pos_embed``,
            partial q/k/v sets, a class position row without a CLS token, ...).
    """
    fmt = "mae_st"
    where = _where(checkpoint, source, fmt)
    state = unwrap(checkpoint, ("model", "model_state"), where)
    state, dropped = _split_dropped(dict(state), lambda k: k.startswith("decoder") or k == "mask_token")
    if "pos_embed" in state:
        raise CheckpointError(f"{where}: joint 'pos_embed' (mae_st sep_pos_embed=False); only separable "
                              "position embeddings (pos_embed_spatial/temporal) are supported")
    head = _take_head(state)
    cfg = _common_config(state, where)
    _fuse_qkv(state, cfg["depth"], where)
    spatial = _need(state, "pos_embed_spatial", where)  # [1, H'W', D]
    side = math.isqrt(int(spatial.shape[1]))
    if side * side != spatial.shape[1]:
        raise CheckpointError(f"{where}: pos_embed_spatial has {spatial.shape[1]} rows, not a square grid")
    has_cls = "cls_token" in state
    if has_cls != ("pos_embed_class" in state):
        present, absent = ("cls_token", "pos_embed_class") if has_cls else ("pos_embed_class", "cls_token")
        raise CheckpointError(f"{where}: has {present!r} but no {absent!r}; a CLS token needs both")
    cfg.update(pos_embed="separable", cls_token=has_cls, img_size=side * cfg["patch_size"],
               qkv_bias="blocks.0.attn.qkv.bias" in state)
    if cfg["video"]:
        cfg["num_frames"] = int(_need(state, "pos_embed_temporal", where).shape[1]) * cfg["tubelet_size"]
    if pooled_norm and not has_cls:
        logger.warning("%s: no CLS token; mae_st's fine-tuned forward pools x[:, 1:] (dropping the first patch), "
                       "the suite mean-pools all patch tokens", where)
    if pooled_norm:
        for part in ("weight", "bias"):
            state[f"fc_norm.{part}"] = _need(state, f"norm.{part}", where)
            del state[f"norm.{part}"]
        cfg["fc_norm"] = True
    return Converted(_rename_patch_embed(state), head, cfg, dropped, fmt)


def convert_hvm1(checkpoint: Mapping[str, Any], *, source: str | os.PathLike | None = None) -> Converted:
    """Convert an HVM-1 checkpoint (eminorhan/hvm-1: mae_st layout, ViT-H/14, CLS-token classifier)."""
    converted = convert_mae_st(checkpoint, pooled_norm=False, source=source)
    converted.format = "hvm1"
    return converted


# -- VideoMAE v1 / v2 -------------------------------------------------------------------------------
def convert_videomae(checkpoint: Mapping[str, Any], *, source: str | os.PathLike | None = None) -> Converted:
    """Convert a VideoMAE (MCG-NJU/VideoMAE) or VideoMAE v2 (OpenGVLab/VideoMAEv2) checkpoint.

    Pretrained files (``encoder.*`` + ``decoder.*``) give the encoder; fine-tuned files give encoder and
    ``head``. Positions are VideoMAE's fixed 1-D sin-cos table (not stored) unless the file holds a
    learned ``pos_embed`` (kept as a ``"table"``).

    Raises:
        CheckpointError: naming the file, on cosine attention (``attn.scale``), a missing ``attn.qkv``, or
            q/v biases present in some blocks only.
    """
    fmt = "videomae"
    where = _where(checkpoint, source, fmt)
    state = unwrap(checkpoint, ("model", "module", "state_dict"), where)
    state = strip_prefixes(state, ("module.",))
    if any(k.startswith("encoder.") for k in state):
        state, dropped = _split_dropped(dict(state), lambda k: not k.startswith("encoder."))
        state = strip_prefixes(state, ("encoder.",))
    else:
        state, dropped = _split_dropped(dict(state), lambda k: k.startswith("decoder") or k == "mask_token")
    if any(k.endswith("attn.scale") for k in state):
        raise CheckpointError(f"{where}: cosine attention (attn.scale); not supported")
    head = _take_head(state)
    cfg = _common_config(state, where)
    has_bias = "blocks.0.attn.q_bias" in state
    for i in range(cfg["depth"]):
        base = f"blocks.{i}.attn."
        weight = _need(state, base + "qkv.weight", where)  # [3D', D]
        biases = [base + "q_bias", base + "v_bias"]
        present = [b for b in biases if b in state]
        if present != (biases if has_bias else []):
            missing = sorted(set(biases) - set(present)) if has_bias else present
            raise CheckpointError(f"{where}: block {i} {'lacks' if has_bias else 'has'} {missing}, unlike block 0 "
                                  f"({'with' if has_bias else 'without'} q/v biases); every block must match")
        if has_bias:
            q_bias, v_bias = state.pop(base + "q_bias"), state.pop(base + "v_bias")
            state[base + "qkv.bias"] = torch.cat([q_bias, torch.zeros_like(q_bias), v_bias])
        if weight.shape[0] != 3 * cfg["embed_dim"]:
            raise CheckpointError(f"{where}: block {i} qkv width {weight.shape[0]} != 3 x embed_dim "
                                  "(attn_head_dim differs from embed_dim / heads; not supported)")
    _rename_layer_scale(state)
    cfg.update(qkv_bias=has_bias, cls_token=False, fc_norm="fc_norm.weight" in state,
               layer_scale=_layer_scale_init(state))
    if "pos_embed" in state:
        state["pos_embed_table"] = state.pop("pos_embed")
        cfg["pos_embed"] = "table"
    else:
        cfg["pos_embed"] = "sincos"
    return Converted(_rename_patch_embed(state), head, cfg, dropped, fmt)


def convert_videomae_v2(checkpoint: Mapping[str, Any], *, source: str | os.PathLike | None = None) -> Converted:
    """Convert a VideoMAE v2 checkpoint (same block layout as v1; weights usually under ``"module"``)."""
    converted = convert_videomae(checkpoint, source=source)
    converted.format = "videomae_v2"
    return converted


# -- V-JEPA -----------------------------------------------------------------------------------------
def convert_vjepa(checkpoint: Mapping[str, Any], key: str = "target_encoder", img_size: int = 224, *,
                  source: str | os.PathLike | None = None) -> Converted:
    """Convert a V-JEPA pretraining checkpoint's encoder (facebookresearch/jepa).

    Args:
        checkpoint: The loaded ``.pth.tar`` (keys ``encoder``, ``predictor``, ``target_encoder``, ...).
        key: Which encoder to take; the EMA ``target_encoder`` is the one V-JEPA evaluates.
        img_size: Input side the table was made for (the stored table fixes only ``T'H'W'``).
        source: The file's name for error messages (default: the path :func:`read_checkpoint_file` recorded).

    Returns:
        A :class:`Converted` with ``pos_embed="table"`` holding the stored 3-D sin-cos table.

    Raises:
        CheckpointError: naming the file, for a missing ``key`` entry or a table that does not fit ``img_size``.
    """
    fmt = "vjepa"
    where = _where(checkpoint, source, fmt)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get(key), Mapping):
        entries = sorted(checkpoint) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{where}: no {key!r} entry (entries: {entries}); V-JEPA files hold the encoder "
                              "under 'target_encoder' (EMA) and 'encoder'")
    state = strip_prefixes(unwrap(checkpoint, (key,), where), ("module.", "backbone."))
    dropped = [f"{k}.*" for k in checkpoint if k != key]
    cfg = _common_config(state, where)
    table = _need(state, "pos_embed", where)  # [1, T'H'W', D]
    side = img_size // cfg["patch_size"]
    n = int(table.shape[1])
    if cfg["video"]:
        if n % (side * side):
            raise CheckpointError(f"{where}: pos_embed has {n} rows, not a multiple of the {side}x{side} grid "
                                  f"of img_size {img_size}; pass the img_size the model was trained at")
        cfg["num_frames"] = n // (side * side) * cfg["tubelet_size"]
    elif n != side * side:
        raise CheckpointError(f"{where}: image pos_embed has {n} rows, expected {side * side} for img_size "
                              f"{img_size}")
    state["pos_embed_table"] = state.pop("pos_embed")
    cfg.update(pos_embed="table", img_size=img_size, cls_token=False,
               qkv_bias="blocks.0.attn.qkv.bias" in state)
    return Converted(_rename_patch_embed(state), {}, cfg, dropped, fmt)


def convert_vjepa_probe(checkpoint: Mapping[str, Any], key: str = "classifier", *,
                        source: str | os.PathLike | None = None) -> Converted:
    """Convert a V-JEPA attentive-probe checkpoint to :class:`~humanalign.models.heads.AttentiveClassifier` keys.

    The key layout (``pooler.query_tokens``, ``pooler.cross_attention_block.{norm1,xattn.q,xattn.kv,
    xattn.proj,norm2,mlp.fc1,mlp.fc2}``, ``linear``) is kept as is; only wrappers are removed.
    ``config`` holds ``embed_dim``, ``num_classes``, ``depth`` (1 + extra self-attention blocks), ``mlp_ratio``.
    """
    fmt = "vjepa_probe"
    where = _where(checkpoint, source, fmt)
    state = strip_prefixes(unwrap(checkpoint, (key,), where), ("module.",))
    query = _need(state, "pooler.query_tokens", where)  # [1, 1, D]
    linear = _need(state, "linear.weight", where)  # [classes, D]
    extra = {int(m.group(1)) for k in state if (m := re.match(r"^pooler\.blocks\.(\d+)\.", k))}
    hidden = _need(state, "pooler.cross_attention_block.mlp.fc1.weight", where).shape[0]
    cfg = {"embed_dim": int(query.shape[-1]), "num_classes": int(linear.shape[0]),
           "depth": 1 + (max(extra) + 1 if extra else 0), "mlp_ratio": _ratio(int(hidden), int(query.shape[-1]))}
    return Converted({}, dict(state), cfg, [], fmt)


# -- timm image ViTs (incl. image MAE) --------------------------------------------------------------
def convert_timm_vit(checkpoint: Mapping[str, Any], *, source: str | os.PathLike | None = None) -> Converted:
    """Convert a timm / facebookresearch/mae image ViT (``vit_*_patch*``) to an image encoder.

    ``pos_embed`` ``[1, 1+N, D]`` is split into ``pos_embed_class`` (row 0) and ``pos_embed_spatial``.

    Raises:
        CheckpointError: naming the file, for register tokens, a 3-D patch embedding, a missing ``pos_embed``,
            or a table with a class row but no ``cls_token``.
    """
    fmt = "timm_vit"
    where = _where(checkpoint, source, fmt)
    state = unwrap(checkpoint, ("model", "state_dict", "module"), where)
    state, dropped = _split_dropped(dict(state), lambda k: k.startswith("decoder") or k == "mask_token")
    if "reg_token" in state:
        raise CheckpointError(f"{where}: register tokens (reg_token) are not supported")
    head = _take_head(state)
    cfg = _common_config(state, where)
    if cfg["video"]:
        raise CheckpointError(f"{where}: expected a 2-D patch embedding; this checkpoint is 3-D")
    table = _need(state, "pos_embed", where)  # [1, (1+)N, D]
    del state["pos_embed"]
    has_cls = "cls_token" in state
    n_patch = int(table.shape[1]) - (1 if has_cls else 0)
    side = math.isqrt(n_patch)
    if not has_cls and side * side != n_patch and math.isqrt(n_patch - 1) ** 2 == n_patch - 1:
        raise CheckpointError(f"{where}: pos_embed has a class row (1 + {n_patch - 1} rows) but there is no "
                              "'cls_token'")
    if side * side != n_patch:
        raise CheckpointError(f"{where}: pos_embed has {table.shape[1]} rows; cannot find a square patch grid")
    if has_cls:
        state["pos_embed_class"], state["pos_embed_spatial"] = table[:, :1], table[:, 1:]
    else:
        state["pos_embed_spatial"] = table
    _rename_layer_scale(state)
    fc_norm = "fc_norm.weight" in state
    if fc_norm and "norm.weight" in state:
        raise CheckpointError(f"{where}: holds both 'norm' and 'fc_norm'; not supported")
    cfg.update(pos_embed="separable", cls_token=has_cls, img_size=side * cfg["patch_size"], num_frames=1,
               qkv_bias="blocks.0.attn.qkv.bias" in state, fc_norm=fc_norm,
               layer_scale=1.0 if "blocks.0.ls1.gamma" in state else None)
    return Converted(_rename_patch_embed(state), head, cfg, dropped, fmt)


#: Converter name -> function; registry entries name their converter here.
CONVERTERS: dict[str, Callable[..., Converted]] = {
    "mae_st": convert_mae_st,
    "hvm1": convert_hvm1,
    "videomae": convert_videomae,
    "videomae_v2": convert_videomae_v2,
    "vjepa": convert_vjepa,
    "vjepa_probe": convert_vjepa_probe,
    "timm_vit": convert_timm_vit,
}
