"""Named layers of any ``nn.Module``: the block list, layer selection and pooling of layer outputs.

Every model's repeated blocks get the uniform names ``block0 .. block{n-1}`` (so layer profiles of a
ViT, a ResNet and a video transformer line up), ``final`` is the model's pooled embedding, and any
other module is named by its ``named_modules()`` path (``layer3.1.conv2``, ``blocks.3.attn``).

How the block list is found, first match wins: a ``blocks`` ModuleList/Sequential (timm and suite
ViTs), ``encoder.layer`` (Hugging Face DINOv2, VideoMAE, V-JEPA 2), ``layers`` / ``*.layers``
(Hugging Face ViT in transformers >= 5, shallowest first), the residual blocks of
ResNet-style ``layer1..layer4`` stages, the blocks of timm ``stages``, the parametrised children of
a torchvision ``features`` Sequential (MobileNet, EfficientNet, ConvNeXt, VGG), else the top-level children
that have parameters, except the classifier (its last ``nn.Linear``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["find_blocks", "resolve_layers", "pool_output", "unflatten_tokens", "LayerError", "POOLINGS"]

POOLINGS = ("mean", "cls", "tokens", "project")
_HEAD_NAMES = {"fc", "head", "classifier", "heads", "fc_norm", "head_drop", "global_pool", "avgpool", "pooler"}


class LayerError(ValueError):
    """A layer name or pooling that the model does not have."""


def _children_of(module: nn.Module, prefix: str) -> list[str]:
    return [f"{prefix}.{name}" for name, _ in module.named_children()]


def find_blocks(model: nn.Module) -> list[str]:
    """Module names of the model's repeated blocks, in forward order (see the module docstring)."""
    modules = dict(model.named_modules())
    blocks = modules.get("blocks")
    if isinstance(blocks, (nn.ModuleList, nn.Sequential)) and len(blocks):
        return _children_of(blocks, "blocks")
    lists = [n for n, m in modules.items() if isinstance(m, (nn.ModuleList, nn.Sequential)) and len(m)]
    lists.sort(key=lambda n: n.count("."))  # shallowest first: the encoder's, not a predictor's or a sub-block's
    for suffix in ("encoder.layer", "encoder.layers", "transformer.resblocks", "layers"):
        for name in lists:  # "layers": transformers >= 5 ViTModel (and "vit.layers" under a classifier)
            if name == suffix or name.endswith("." + suffix):
                return _children_of(modules[name], name)
    stages = sorted((n for n in modules if re.fullmatch(r"layer\d+", n)), key=lambda n: int(n[5:]))
    if stages:
        return [child for s in stages for child in (_children_of(modules[s], s)
                                                    if isinstance(modules[s], nn.Sequential) else [s])]
    if isinstance(modules.get("stages"), (nn.ModuleList, nn.Sequential)):
        names = []
        for stage in _children_of(modules["stages"], "stages"):
            inner = modules.get(f"{stage}.blocks")
            names += _children_of(inner, f"{stage}.blocks") if inner is not None else [stage]
        return names
    features = modules.get("features")  # torchvision MobileNet, EfficientNet, ConvNeXt, VGG, DenseNet stages
    if isinstance(features, nn.Sequential) and len(features) > 1:
        return [f"features.{n}" for n, child in features.named_children() if any(True for _ in child.parameters())]
    head = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1:]  # the last Linear: a classifier
    return [name for name, child in model.named_children()  # pools, activations, flatten: no parameters, no block
            if name not in _HEAD_NAMES and name not in head and any(True for _ in child.parameters())]


def resolve_layers(model: nn.Module, layers: str | int | Sequence[int | str], blocks: Sequence[str]) -> list[str]:
    """Canonical layer names for a selection.

    Args:
        model: The module (its ``named_modules()`` are the nameable layers).
        layers: ``"final"``, ``"all"`` (every block plus final), ``"blocks"``, a comma-separated string or
            a sequence of block indices (negative counts from the end), ``block<i>``, module names or
            glob patterns over module names (``layer4.*.conv2``).
        blocks: The block list from :func:`find_blocks`.

    Returns:
        Names: ``block<i>`` for blocks, ``final``, or module paths; de-duplicated, in the given order.

    Raises:
        LayerError: naming the unknown layer and a few the model has.
    """
    depth = len(blocks)
    if isinstance(layers, str) and layers in ("all", "blocks"):
        names = [f"block{i}" for i in range(depth)]
        return names + ["final"] if layers == "all" else names
    if isinstance(layers, str):
        items: list[int | str] = [t.strip() for t in layers.split(",") if t.strip()]
    elif isinstance(layers, int):
        items = [layers]
    else:
        items = list(layers)
    modules = [n for n, _ in model.named_modules() if n]
    block_of = {name: i for i, name in enumerate(blocks)}
    out: list[str] = []
    for item in items:
        text = str(item)
        if re.fullmatch(r"-?\d+", text):
            i = int(text)
            if not -depth <= i < depth:
                raise LayerError(f"layer {i} is outside the {depth} blocks of {type(model).__name__}")
            found = [f"block{i % depth}"]
        elif re.fullmatch(r"block\d+", text):
            if int(text[5:]) >= depth:
                raise LayerError(f"layer {text!r} is outside the {depth} blocks of {type(model).__name__}")
            found = [text]
        elif text == "final":
            found = ["final"]
        elif text in ("all", "blocks"):  # inside a list too ("blocks,fc"): not timm's `blocks` Sequential
            found = [f"block{i}" for i in range(depth)] + (["final"] if text == "all" else [])
        elif text in block_of:
            found = [f"block{block_of[text]}"]
        elif text in modules:
            found = [text]
        elif any(ch in text for ch in "*?["):
            found = [f"block{block_of[m]}" if m in block_of else m for m in fnmatch.filter(modules, text)]
            if not found:
                raise LayerError(f"layer pattern {text!r} matches no module of {type(model).__name__}")
        else:
            import difflib

            close = difflib.get_close_matches(text, modules + ["final", "all", "blocks"], n=4, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise LayerError(f"{type(model).__name__} has no layer {text!r}.{hint} "
                             f"(`python -m humanalign list layers SPEC` lists them)")
        for name in found:
            if name not in out:
                out.append(name)
    if not out:
        raise LayerError(f"no layer selected by {layers!r}")
    return out


def _sketch(flat: torch.Tensor, width_out: int, seed: int) -> torch.Tensor:
    """A seeded count sketch of ``[B, W]`` rows to ``[B, width_out]``: each input unit is added, with a random
    sign, to one random output unit. It preserves inner products in expectation (a sparse random
    projection) and needs O(W) memory, unlike a dense ``[W, width_out]`` Gaussian matrix."""
    width_in = flat.shape[1]
    g = torch.Generator().manual_seed(seed * 1_000_003 + width_in)
    bucket = torch.randint(0, width_out, (width_in,), generator=g).to(flat.device)
    sign = (torch.randint(0, 2, (width_in,), generator=g) * 2 - 1).to(flat.device, flat.dtype)
    return flat.new_zeros(flat.shape[0], width_out).index_add_(1, bucket, flat * sign)


def pool_output(output: torch.Tensor, pooling: str, prefix_tokens: int = 0, project_dim: int = 4096,
                seed: int = 0) -> torch.Tensor:
    """One layer output pooled to ``[B, D]``.

    Args:
        output: ``[B, N, D]`` tokens, ``[B, C, H, W]`` / ``[B, C, T, H, W]`` feature maps, or ``[B, D]``.
        pooling: ``"mean"`` (patch tokens averaged, prefix tokens excluded; maps globally averaged),
            ``"cls"`` (first prefix token), ``"tokens"`` (patch tokens or map flattened), ``"project"``
            (flattened, then a seeded sparse random projection to ``project_dim`` when wider, to bound memory).
        prefix_tokens: CLS/register tokens at the front of token outputs.
        project_dim: Output width of ``"project"``.
        seed: Seed of the projection.

    Raises:
        LayerError: for ``"cls"`` without a prefix token, an unknown pooling, or an unpoolable shape.
    """
    if pooling not in POOLINGS:
        raise LayerError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    x = output.float()
    if x.ndim == 2:
        if pooling == "cls":
            raise LayerError("pooling='cls' needs token outputs; this layer gives pooled vectors")
        return x
    if x.ndim == 3:  # tokens [B, N, D]
        if pooling == "cls":
            if prefix_tokens < 1:
                raise LayerError("pooling='cls' needs a model with a CLS/prefix token; use 'mean' or 'tokens'")
            return x[:, 0]
        patches = x[:, prefix_tokens:]
        if pooling == "mean":
            return patches.mean(dim=1)
        flat = patches.flatten(1)
    elif x.ndim in (4, 5):  # maps [B, C, (T,) H, W]
        if pooling == "cls":
            raise LayerError("pooling='cls' needs token outputs; this layer gives feature maps")
        if pooling == "mean":
            return x.flatten(2).mean(dim=2)
        flat = x.flatten(1)
    else:
        raise LayerError(f"cannot pool a layer output of shape {tuple(x.shape)}")
    if pooling == "project" and flat.shape[1] > project_dim:
        return _sketch(flat, project_dim, seed)  # [B, project_dim]
    return flat


def unflatten_tokens(flat: np.ndarray, layout: tuple[int, ...]) -> np.ndarray:
    """Rows of ``pool_output(..., "tokens")`` back to token sequences ``[B, positions, D]``.

    Args:
        flat: ``[B, W]`` flattened outputs.
        layout: The layer's per-item shape (:meth:`Observer.token_layout`): ``(N, D)`` tokens or
            ``(C, (T,) H, W)`` maps (whose positions become tokens of width ``C``). ``W`` may hold several
            such groups in a row (the frames of a clip seen by an image model).

    Raises:
        LayerError: when ``W`` is not a whole number of layouts.
    """
    per = int(np.prod(layout))
    b, width = flat.shape
    if width % per:
        raise LayerError(f"feature width {width} is not a multiple of the layer's {layout} outputs")
    groups = flat.reshape(b, width // per, *layout)
    if len(layout) == 2:
        return groups.reshape(b, -1, layout[1])  # [B, groups * N, D]
    channels = layout[0]
    maps = groups.reshape(b, width // per, channels, -1).transpose(0, 1, 3, 2)  # [B, groups, positions, C]
    return maps.reshape(b, -1, channels)
