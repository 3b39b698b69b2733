"""Frozen features of a labelled set, one row per item and view, cached by content hash.

``view_features(model, items, spec)`` runs every view of every item (see :mod:`humanalign.eval.data`)
through the encoder and returns either pooled vectors ``[N, V, D]`` (``model.encode``) or the tokens of a
block ``[N, V, L, D]`` (``model.block_outputs(..., norm=True)``, for the attentive probe). Results
are cached with :class:`humanalign.features.FeatureCache` under a hash of the weights, the files' bytes,
the view settings and the feature kind, so a re-run or a second probe on the same features is free.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from humanalign.eval.data import LabelledSet, ViewSpec, load_views
from humanalign.features.cache import FeatureCache
from humanalign.features.hashing import file_hash, settings_hash, state_dict_hash
from humanalign.models.observers import Observer

__all__ = ["view_spec_for", "view_features", "FEATURES_VERSION"]

logger = logging.getLogger(__name__)

# Bump when the computation changes, so stale cache entries are not reused.
FEATURES_VERSION = 1


def view_spec_for(model: nn.Module | Observer, num_clips: int = 1, num_crops: int = 1, stride: int = 4) -> ViewSpec:
    """Views sized and normalised for ``model`` (an observer's input contract, or a suite encoder's fields)."""
    if isinstance(model, Observer):
        c = model.contract
        return ViewSpec(img_size=c.size, num_frames=c.frames if c.is_video else 1, stride=stride,
                        num_clips=num_clips, num_crops=num_crops, mean=tuple(c.mean), std=tuple(c.std))
    return ViewSpec(img_size=int(model.img_size), num_frames=int(getattr(model, "num_frames", 1) or 1),
                    stride=stride, num_clips=num_clips, num_crops=num_crops,
                    mean=tuple(model.input_mean), std=tuple(model.input_std))


def _encode(model: nn.Module | Observer, x: torch.Tensor, kind: str, pool: str, layer: int) -> torch.Tensor:
    if isinstance(model, Observer):
        if kind == "pooled":
            return model.features(x, ["final"], pool)["final"]  # [B, D]
        return model.tokens(x, model.resolve_layers([layer])[0])  # [B, L, D]
    if kind == "pooled":
        return model.encode(x, pool=pool)  # [B, D]
    tokens = model.block_outputs(x, layers=[layer], norm=True)[0]  # [B, L(+1), D]
    return tokens[:, int(getattr(model, "num_prefix_tokens", 0)):]


def module_of(model: nn.Module | Observer) -> nn.Module:
    """The network of an observer, or the module itself."""
    return model.module if isinstance(model, Observer) else model


def view_features(model: nn.Module, items: LabelledSet, spec: ViewSpec, kind: str = "pooled",
                  pool: str = "mean", layer: int = -1, batch_size: int = 8, cache_dir: str | Path | None = None,
                  use_cache: bool = True, progress: bool = True, checkpoint_hash: str | None = None) -> np.ndarray:
    """Features of every view of every item.

    Args:
        model: An observer (any model) or a suite encoder (``encode``, ``block_outputs``).
        items: The labelled files.
        spec: View settings.
        kind: ``"pooled"`` -> ``[N, V, D]``; ``"tokens"`` -> ``[N, V, L, D]`` (patch tokens of ``layer``).
        pool: Pooling for ``"pooled"`` (``"mean"`` or ``"cls"``).
        layer: Block index for ``"tokens"`` (negative counts from the end).
        batch_size: Items per forward pass.
        cache_dir: Cache root (default :func:`humanalign.features.default_cache_dir`).
        use_cache: Read/write the cache.
        progress: Show a progress bar.
        checkpoint_hash: ``state_dict_hash(model)`` when the caller already has it (hashing large
            weights takes seconds); computed here otherwise. Only used for the cache key.

    Returns:
        float32 array as above.
    """
    if kind not in ("pooled", "tokens"):
        raise ValueError(f"unknown feature kind {kind!r}; use 'pooled' or 'tokens'")
    ids = [str(p) for p in items.paths]
    cache = FeatureCache(cache_dir)
    if use_cache:
        key = settings_hash({
            "weights": checkpoint_hash or state_dict_hash(module_of(model)), "files": [file_hash(p) for p in items.paths],
            "spec": dataclasses.asdict(spec), "kind": kind, "pool": pool, "layer": layer,
            "model_class": type(module_of(model)).__qualname__, "version": FEATURES_VERSION, "what": "eval.view_features",
        })
        if (hit := cache.get(key)) is not None and hit[0] == ids:
            logger.info("eval features of %d items: cache hit %s", len(ids), key[:12])
            return hit[1]
    module = model.module if isinstance(model, Observer) else model
    device = next(iter(module.parameters()), torch.empty(0)).device
    was_training = module.training
    module.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, len(items), batch_size), desc="eval features", disable=not progress):
                views = [load_views(p, spec) for p in items.paths[start:start + batch_size]]  # each [V, ...]
                x = torch.cat(views).to(device)  # [b*V, 3, (T,) S, S]
                out = _encode(model, x, kind, pool, layer).float().cpu()
                chunks.append(out.reshape(len(views), spec.num_views, *out.shape[1:]).numpy())
    finally:
        module.train(was_training)
    feats = np.concatenate(chunks).astype(np.float32, copy=False)
    if use_cache:
        cache.put(key, ids, feats, {"source": items.source, "kind": kind, "spec": dataclasses.asdict(spec),
                                    "model": model.id if isinstance(model, Observer) else
                                    getattr(model, "model_name", type(model).__name__),
                                    "time": time.time()})
    return feats
