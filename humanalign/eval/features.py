"""Frozen features of every view of a labelled set, through the one feature path (:func:`features.extract`).

``view_features(model, items, spec)`` cuts every item into its views (see :mod:`humanalign.eval.data`),
presents the views to :func:`humanalign.features.extract` as a stimulus set (one stimulus per item and
view, ids ``<file>#view<k>``), and folds the rows back to ``[N, V, ...]``:

* ``"pooled"``: the observer's ``final`` embedding ``[N, V, D]`` (``pool`` = ``mean`` or ``cls``);
* ``"tokens"``: patch tokens of one block ``[N, V, L, D]`` for the attentive probe; the last block is read
  after the encoder's final norm where the model has one (``norm``, as in the suite's and timm's ViTs),
  because V-JEPA's probe reads the encoder's output;
* ``"logits"``: the model's classifier outputs ``[N, V, C]``.

Caching, autocast, device and DataLoader workers are the extractor's: the cache key holds the weights
hash, every file's content hash, the view settings, the layer and the pooling.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from humanalign.eval.data import LabelledSet, ViewSpec, view_frames
from humanalign.features.extract import extract
from humanalign.features.hashing import settings_hash
from humanalign.models.observers import Observer, as_observer
from humanalign.models.observers.layers import unflatten_tokens
from humanalign.stimuli.base import StimulusSet

__all__ = ["view_spec_for", "view_features", "view_stimuli", "token_layer", "VIEW_KINDS", "FEATURES_VERSION"]

VIEW_KINDS = ("pooled", "tokens", "logits")

# Bump when the views change (sampling, crops, resizing), so stale cache entries are not reused.
FEATURES_VERSION = 2  # 2: views as stimuli of features.extract


def view_spec_for(model: nn.Module | Observer, num_clips: int = 1, num_crops: int = 1, stride: int = 4) -> ViewSpec:
    """Views sized and normalised for ``model`` (its observer's input contract)."""
    c = as_observer(model).contract
    return ViewSpec(img_size=c.size, num_frames=c.frames if c.is_video else 1, stride=stride,
                    num_clips=num_clips, num_crops=num_crops, mean=tuple(c.mean), std=tuple(c.std))


class _ViewLoader:
    """``loader(row)`` of :func:`view_stimuli`: view ``row.view`` of ``row.path`` as uint8 pixels; the views
    of the last file are kept, so a file is decoded once for all its views (rows come in file order)."""

    def __init__(self, spec: ViewSpec) -> None:
        self.spec = spec
        self._last: tuple[str | None, list[torch.Tensor]] = (None, [])

    def __call__(self, row: pd.Series) -> np.ndarray:
        path = str(row["path"])
        if self._last[0] != path:
            self._last = (path, view_frames(Path(path), self.spec))
        return self._last[1][int(row["view"])].numpy()  # [(T,) S, S, 3]


def view_stimuli(items: LabelledSet, spec: ViewSpec) -> StimulusSet:
    """Every view of every item as one stimulus, item-major: row ``n * V + k`` is view ``k`` of item ``n``."""
    classes = items.classes
    rows = [{"stimulus_id": f"{path}#view{k}", "path": str(path), "view": k, "category": classes[label]}
            for path, label in zip(items.paths, items.labels) for k in range(spec.num_views)]
    fingerprint = settings_hash({"views": dataclasses.asdict(spec), "version": FEATURES_VERSION})
    return StimulusSet(f"{items.name or items.source} views", pd.DataFrame(rows), loader=_ViewLoader(spec),
                       meta={"fingerprint": fingerprint, "source": items.source})


def token_layer(observer: Observer, layer: int) -> str:
    """The layer the attentive probe reads for block ``layer`` (see the module docstring)."""
    name = observer.resolve_layers([layer])[0]
    if name == observer.resolve_layers("blocks")[-1] and "norm" in dict(observer.module.named_children()):
        return observer.resolve_layers(["norm"])[0]
    return name


def view_features(model: nn.Module | Observer, items: LabelledSet, spec: ViewSpec, kind: str = "pooled",
                  pool: str = "mean", layer: int = -1, batch_size: int = 8, cache_dir: str | Path | None = None,
                  use_cache: bool = True, progress: bool = True, checkpoint_hash: str | None = None,
                  dtype: str = "auto", workers: int = 0) -> np.ndarray:
    """Features of every view of every item.

    Args:
        model: An observer or an in-memory model (a suite encoder, any ``nn.Module`` with a contract).
        items: The labelled files.
        spec: View settings (views are resized to the observer's input size if ``spec.img_size`` differs;
            ``spec.mean``/``spec.std`` must be the contract's, which normalises them).
        kind: ``"pooled"``, ``"tokens"`` or ``"logits"`` (see the module docstring).
        pool: Pooling of ``"pooled"`` (``"mean"`` or ``"cls"``).
        layer: Block index for ``"tokens"`` (negative counts from the end).
        batch_size: Items per forward pass (each brings its ``V`` views).
        cache_dir: Cache root (default :func:`humanalign.features.default_cache_dir`).
        use_cache: Read/write the cache.
        progress: Show a progress bar.
        checkpoint_hash: The weights hash when the caller already has it (hashing large weights takes seconds).
        dtype: Autocast dtype (``auto``: bf16 on CUDA, fp32 on CPU).
        workers: DataLoader workers decoding the views.

    Returns:
        float32 ``[N, V, D]`` (pooled, logits) or ``[N, V, L, D]`` (tokens).
    """
    if kind not in VIEW_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; use one of {', '.join(VIEW_KINDS)}")
    observer = as_observer(model)
    contract = observer.contract
    if (tuple(spec.mean), tuple(spec.std)) != (tuple(contract.mean), tuple(contract.std)):
        raise ValueError(f"views are normalised by {observer.id}'s input contract (mean {tuple(contract.mean)}, "
                         f"std {tuple(contract.std)}), not the spec's {spec.mean} / {spec.std}: override the "
                         "contract in the model spec (|mean=..,std=..) instead")
    name = {"pooled": "final", "logits": "logits"}.get(kind) or token_layer(observer, layer)
    views = view_stimuli(items, spec)
    feats = extract(observer, views, layers=[name], pooling="tokens" if kind == "tokens" else pool,
                    batch_size=batch_size * spec.num_views, cache_dir=cache_dir, device=observer.device,
                    use_cache=use_cache, crop_fraction=1.0, checkpoint_hash=checkpoint_hash,
                    progress=progress, dtype=dtype, workers=workers)[name]  # [N * V, W]
    if kind == "tokens":
        feats = unflatten_tokens(feats, observer.token_layout(name))  # [N * V, L, D]
    return feats.reshape(len(items), spec.num_views, *feats.shape[1:])
