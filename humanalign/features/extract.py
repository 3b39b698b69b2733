"""The one feature path: run an observer over a stimulus set and collect (cached) per-layer features.

Example:
    >>> from humanalign.features import extract
    >>> feats = extract("timm:resnet18", stimuli, layers="blocks")      # any spec, observer or suite encoder
    >>> feats["block0"].shape, feats.layers                               # [N, D] per layer
    >>> feats.aligned(reference_ids)                                      # rows reordered by stimulus id

Layers are named as in :mod:`humanalign.models.observers.layers`: ``block<i>`` for the model's repeated
blocks, ``final`` for its pooled embedding, or any module path; ``"all"`` is every block plus ``final``.
Pooling of layer outputs: ``"mean"`` (patch tokens averaged with prefix tokens excluded; feature maps
globally averaged), ``"cls"``, ``"tokens"`` (flattened) or ``"project"`` (flattened, then a seeded
sparse random projection to ``project_dim``).

Stimuli are resized and cropped by the observer's input contract, optionally perturbed on the device
(``perturb(x, batch_index)`` on ``[B, 3, (T,) S, S]`` pixels in [0, 1], e.g. an ImageNet-C corruption),
normalised, and run under autocast when ``dtype`` asks for it (``"auto"``: bf16 on CUDA, fp32 on CPU).

Under ``torchrun`` (an initialised process group) each rank extracts a contiguous share of the stimuli
and the shares are gathered in order, so every rank returns the whole set's features, equal to one
process's; perturbation seeds follow the batch index in the whole set.

Every layer is cached on disk under a hash of (weights content hash, stimulus fingerprint, layer,
pooling, input contract, perturbation id, autocast dtype, model class, extractor version), so re-runs
are free and any changed input produces a new key rather than stale features. A perturbed run is cached
only when its ``perturb_id`` names the perturbation fully (name, severity, seed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from humanalign.device import autocast, resolve_device, resolve_dtype
from humanalign.features.batches import pixel_batches
from humanalign.features.cache import FeatureCache
from humanalign.features.featureset import FeatureSet
from humanalign.features.hashing import settings_hash, stimulus_fingerprint
from humanalign.models.observers import Observer, as_observer
from humanalign.models.observers.layers import POOLINGS
from humanalign.stimuli.base import StimulusSet

__all__ = ["extract", "resolve_layers", "FeatureSet", "EXTRACTOR_VERSION"]

logger = logging.getLogger(__name__)

# Bump when the extraction code changes what it computes, so old cache entries are not reused.
EXTRACTOR_VERSION = 3  # 3: hooked outputs copied before in-place ops, channels-last maps, HF final without pooler
Perturb = Callable[[torch.Tensor, int], torch.Tensor]


def resolve_layers(model: Observer | nn.Module, layers: Sequence[int | str] | str | int = "all") -> list[str]:
    """Canonical layer names of ``model`` for a selection (see the module docstring).

    Raises:
        ValueError: for an unknown name or a block index outside the model's blocks.
    """
    return as_observer(model).resolve_layers(layers)


def extract(
    model: Observer | nn.Module | str | Path,
    stimuli: StimulusSet,
    layers: Sequence[int | str] | str | int = "all",
    pooling: str = "mean",
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    use_cache: bool = True,
    crop_fraction: float | None = None,
    model_name: str | None = None,
    checkpoint_hash: str | None = None,
    progress: bool = True,
    dtype: str = "auto",
    workers: int = 0,
    perturb: Perturb | None = None,
    perturb_id: str | None = None,
    pixels: torch.Tensor | None = None,
    project_dim: int = 4096,
) -> FeatureSet:
    """Features of ``model`` on every stimulus of ``stimuli`` at the requested layers.

    Args:
        model: An :class:`~humanalign.models.observers.Observer`, a model spec (``timm:resnet18``, a run
            folder, a registry name, ...) or an in-memory suite encoder / ``nn.Module``.
        stimuli: The stimulus set; rows of the result follow its order and carry its ids.
        layers: ``"all"``, ``"blocks"``, ``"final"``, block indices, ``block<i>``, module names or globs.
        pooling: One of ``mean``, ``cls``, ``tokens``, ``project``.
        batch_size: Stimuli per forward pass.
        cache_dir: Feature cache directory (default :func:`humanalign.features.default_cache_dir`).
        device: ``auto``, ``cpu``, ``cuda``...; the model is moved there (and left there).
        use_cache: Read and write the cache (False recomputes and writes nothing).
        crop_fraction: Centre-crop fraction (default: the observer's contract).
        model_name: Observer id when ``model`` is not an observer yet.
        checkpoint_hash: The weights hash, if the caller already has it (skips hashing the weights).
        progress: Show a tqdm progress bar.
        dtype: Autocast dtype (``auto``, ``fp32``, ``bf16``, ``fp16``).
        workers: DataLoader workers decoding and resizing the stimuli.
        perturb: ``perturb(x, k)`` applied to batch ``k`` of [0, 1] pixels on the device before normalising.
        perturb_id: Full description of ``perturb`` for the cache key (None: perturbed runs are not cached).
        pixels: Preloaded resized pixels ``[N, 3, (T,) S, S]`` (uint8 or float in [0, 1]) in set order.
        project_dim: Width of ``pooling="project"``.

    Returns:
        A :class:`FeatureSet` with one float32 ``[N, D]`` array per layer.

    Raises:
        ValueError: for an empty stimulus set, a bad layer/pooling or batch size.
    """
    dev = resolve_device(device)
    observer = as_observer(model if not isinstance(model, Path) else str(model), name=model_name)
    if len(stimuli) == 0:
        raise ValueError(f"stimulus set {stimuli.name!r} is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    names = observer.resolve_layers(layers)
    if pooling == "tokens" and "final" in names:
        raise ValueError("layer 'final' is the pooled embedding; with pooling='tokens' ask for layers='blocks' "
                         "or block indices")
    amp = resolve_dtype(dtype, dev)
    prep = observer.contract.preprocessing(crop_fraction)
    ids = stimuli.ids
    ckpt = checkpoint_hash or observer.weights_hash  # memoised on the observer: hashed once per model
    provenance: dict[str, Any] = {
        "model": observer.id,
        "model_class": f"{type(observer.module).__module__}.{type(observer.module).__qualname__}",
        "checkpoint_hash": ckpt,
        "stimulus_set": stimuli.name,
        "stimulus_fingerprint": stimulus_fingerprint(stimuli),
        "pooling": pooling,
        "project_dim": project_dim if pooling == "project" else None,
        "preprocessing": prep.describe(),
        "contract": observer.contract.describe() | {"source": None},
        "is_video": observer.is_video,
        "num_frames": observer.contract.frames,
        "perturbation": perturb_id,
        "inputs": "uint8" if pixels is not None and pixels.dtype == torch.uint8 else "float",
        "autocast": str(amp).replace("torch.", "") if amp is not None else "fp32",
        "extractor_version": EXTRACTOR_VERSION,
    }
    key_base = {k: provenance[k] for k in provenance if k not in ("model", "stimulus_set")}
    keys = {n: settings_hash({**key_base, "layer": n}) for n in names}
    provenance["cache_keys"] = keys
    cacheable = use_cache and (perturb is None or perturb_id is not None)

    cache = FeatureCache(cache_dir)
    feats: dict[str, np.ndarray] = {}
    if cacheable:
        for n in names:
            hit = cache.get(keys[n])
            if hit is not None and set(hit[0]) == set(ids):
                position = {sid: i for i, sid in enumerate(hit[0])}
                feats[n] = hit[1][[position[s] for s in ids]]
    todo = [n for n in names if n not in feats]
    logger.info("features of %s on %s: %d layers cached, %d to compute", observer.id, stimuli.name,
                len(names) - len(todo), len(todo))
    if todo:
        rank, world = _rank_world()
        rows = _shard(len(stimuli), rank, world, batch_size)  # this process's contiguous share, whole batches
        part = stimuli.subset([ids[i] for i in rows]) if world > 1 else stimuli
        part_pixels = pixels[rows.start:rows.stop] if pixels is not None and world > 1 else pixels
        batches = pixel_batches(part, prep, batch_size, workers, part_pixels)
        desc = f"features {observer.id} / {stimuli.name}" if progress and rank == 0 else None
        computed = _run(observer, batches, todo, pooling, prep, dev, amp, perturb, project_dim, desc,
                        -(-len(part) // batch_size), first_batch=rows.start // batch_size if world > 1 else 0)
        if world > 1:
            computed = _gather_in_order(computed, todo)
        for n in todo:
            feats[n] = computed[n]
            if cacheable and rank == 0:  # one writer per entry
                cache.put(keys[n], ids, computed[n], {**provenance, "layer": n, "time": time.time()})
    return FeatureSet(list(ids), {n: feats[n] for n in names}, provenance)


def _rank_world() -> tuple[int, int]:
    """This process's rank and the world size under ``torch.distributed`` (0, 1 otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _shard(n: int, rank: int, world: int, batch_size: int = 1) -> range:
    """Rank ``rank``'s contiguous rows of ``n``: whole batches, so gathering keeps the order and batch ``k`` of
    the set is the same batch (same perturbation seed) on any number of ranks."""
    batches = -(-n // batch_size)
    per = -(-batches // world) * batch_size
    return range(min(rank * per, n), min((rank + 1) * per, n))


def _gather_in_order(computed: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """Every rank's rows of every layer, concatenated in rank order (= stimulus order); all ranks get all."""
    import torch.distributed as dist

    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, computed)
    return {n: np.concatenate([p[n] for p in parts if len(p[n])]).astype(np.float32, copy=False) for n in names}


def _run(observer: Observer, batches, names: list[str], pooling: str, prep, device: torch.device,
         amp: torch.dtype | None, perturb: Perturb | None, project_dim: int, desc: str | None,
         total: int, first_batch: int = 0) -> dict[str, np.ndarray]:
    """Forward every batch; returns layer -> float32 ``[N, D']``."""
    module = observer.module
    was_training = module.training
    module.to(device).eval()
    chunks: dict[str, list[np.ndarray]] = {n: [] for n in names}
    mean = std = None
    try:
        with torch.inference_mode():
            for k, x in enumerate(tqdm(batches, desc=desc, disable=desc is None, unit="batch", total=total)):
                x = x.to(device, non_blocking=True)  # [B, 3, (T,) S, S] in [0, 1]
                if perturb is not None:
                    x = perturb(x, first_batch + k)  # the batch index of the whole set: seeds match any sharding
                if mean is None or mean.ndim != x.ndim:
                    shape = (1, 3) + (1,) * (x.ndim - 2)
                    mean = torch.tensor(prep.mean, device=device).view(shape)
                    std = torch.tensor(prep.std, device=device).view(shape)
                x = (x - mean) / std
                with autocast(device, amp):
                    out = observer.features(x, names, pooling, project_dim)
                for n, v in out.items():
                    chunks[n].append(v.float().cpu().numpy())
    finally:
        module.train(was_training)
    return {n: np.concatenate(chunks[n]).astype(np.float32, copy=False) if chunks[n]
            else np.zeros((0, 0), np.float32) for n in names}
