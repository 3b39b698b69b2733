"""``score_grid``: score one observer on the clean set and every (perturbation, severity) cell, resumably.

Each cell is one pass of :func:`humanalign.features.extract` over the labelled set with the cell's
perturbation applied on the device, batch by batch, from a generator seeded by (seed, name, severity,
batch). Predictions come from the observer's classifier when its classes index the set's classes
(class folders named by head index, e.g. ImageNet indices: the ``head`` protocol), otherwise from a
cross-validated readout on clean features (:class:`~humanalign.eval.readout.FoldedReadout`; each item is
predicted by the fold model that did not see it clean: the ``readout`` protocol).

Video sets follow the UCF101-P order (:func:`humanalign.perturb.video.perturb_then_sample`): each video is
read as a window of ``source_frames`` frames spaced over the whole video, temporal perturbations act on
that window, and ``frames`` frames are then sampled (zero-padded as the benchmark does); clean clips are
sampled by the same rule.

A cell's trial rows and its accuracy row are committed in one transaction, keyed by (observer id,
weights hash, protocol hash, cell): a rerun computes only the cells not stored, a retrained model (new
weights hash) is scored again, two processes running the same grid write each row once. Unreadable
stimuli are skipped before the grid, counted and listed in a ``unreadable_stimuli`` row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from humanalign.compare.robustness import bootstrap_ci
from humanalign.config import config_hash
from humanalign.device import resolve_device, resolve_dtype
from humanalign.eval.labelled import LabelledSet, readable
from humanalign.eval.readout import FoldedReadout, ReadoutProtocol
from humanalign.features.batches import StimulusPixels
from humanalign.features.extract import extract
from humanalign.io.results import ResultsStore
from humanalign.models.observers import Observer

__all__ = ["Cell", "GridSettings", "GridResult", "grid_cells", "score_grid", "head_indexes_classes", "CLEAN"]

logger = logging.getLogger(__name__)

CLEAN = "clean"
_PRELOAD_BYTES = 2 << 30  # keep decoded inputs in memory up to this size; stream them per cell above it


@dataclass(frozen=True)
class Cell:
    """One grid cell: a perturbation at a severity (``clean`` has severity 0)."""

    perturbation: str
    severity: int = 0

    @property
    def condition(self) -> str:
        """The results' ``condition``: ``clean`` or ``name/severity``."""
        return CLEAN if self.perturbation == CLEAN else f"{self.perturbation}/{self.severity}"


def grid_cells(perturbations: Sequence[str], severities: Sequence[int]) -> list[Cell]:
    """The clean cell then every (perturbation, severity)."""
    return [Cell(CLEAN)] + [Cell(p, int(s)) for p in perturbations for s in severities]


@dataclass(frozen=True)
class GridSettings:
    """How a grid is scored; every field but the execution ones enters the protocol hash.

    Attributes:
        seed: Seed of perturbations, folds and shots.
        mode: Video perturbations: ``coherent`` / ``dynamic`` (None: each one's default).
        folds, shots: Readout cross-validation.
        frames: Frames per scored clip (video sets).
        source_frames: Frames of the source window temporal perturbations act on (video sets).
        layer, pooling: Features the readout reads.
        device, dtype, batch_size, workers: Execution (dtype also enters the protocol: bf16 changes results;
            so does batch_size, since perturbation draws are seeded per batch).
        benchmark: The results' benchmark name.
        cache_dir: Feature cache folder.
        imagenet_c_files: Images: pass corrupted images through the released ImageNet-C files' encoding
            (uint8 truncation, JPEG q85) before the model, as models scored on those files saw them.
    """

    seed: int = 0
    mode: str | None = None
    folds: int = 5
    shots: int | None = None
    frames: int = 16
    source_frames: int = 64
    layer: str = "final"
    pooling: str = "mean"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 32
    workers: int = 0
    benchmark: str = "robustness"
    cache_dir: str | None = None
    imagenet_c_files: bool = False


@dataclass
class GridResult:
    """What one :func:`score_grid` call did."""

    observer: str
    weights_hash: str
    config_hash: str
    protocol: dict[str, Any]
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def head_indexes_classes(observer: Observer, classes: Sequence[str]) -> bool:
    """True when the observer has a classifier and every class name is one of its output indices."""
    n = observer.num_classes
    return bool(n) and all(c.isdigit() and int(c) < n for c in classes)


def _generator(seed: int, name: str, severity: int, batch: int, device: torch.device) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}/{name}/{severity}/{batch}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:7], "little"))


def _transform(cell: Cell, data: LabelledSet, settings: GridSettings, device: torch.device):
    """``f(x, k)`` turning batch ``k`` of [0, 1] pixels into the cell's inputs (None: images, clean)."""
    from humanalign.perturb.video import perturb_then_sample, sample_clip
    from humanalign.registry import CORRUPTIONS

    if not data.is_video:
        if cell.perturbation == CLEAN:
            return None
        fn = CORRUPTIONS.get(cell.perturbation)

        def corrupt(x: torch.Tensor, k: int) -> torch.Tensor:
            out = fn(x, cell.severity, generator=_generator(settings.seed, cell.perturbation, cell.severity, k, device))
            if settings.imagenet_c_files:
                from humanalign.perturb.corruptions import imagenet_c_encode

                out = imagenet_c_encode(out).float() / 255  # [B, 3, S, S] as decoded from the released files
            return out

        return corrupt
    if cell.perturbation == CLEAN:
        return lambda x, k: sample_clip(x, settings.frames)  # [B, 3, frames, S, S]
    return lambda x, k: perturb_then_sample(x, cell.perturbation, cell.severity, settings.frames,
                                            _generator(settings.seed, cell.perturbation, cell.severity, k, device),
                                            settings.mode)


def _preload(data: LabelledSet, observer: Observer) -> torch.Tensor | None:
    """Decoded, resized inputs as uint8 ``[N, 3, (T,) S, S]`` when they fit in memory, else None."""
    prep = observer.contract.preprocessing()
    frames = data.frames if data.is_video else 1
    if len(data) * 3 * frames * prep.img_size ** 2 > _PRELOAD_BYTES:
        return None
    pixels = StimulusPixels(data.stimuli, prep)
    return torch.stack([torch.round(pixels[i].clamp(0, 1) * 255).to(torch.uint8) for i in range(len(data))])


def _settings_hash(data: LabelledSet, settings: GridSettings, protocol: dict[str, Any], amp: str,
                   device_type: str = "cpu") -> str:
    ids = hashlib.sha256("\n".join(data.ids).encode()).hexdigest()[:16]
    video = {"frames": settings.frames, "source_frames": settings.source_frames, "mode": settings.mode} \
        if data.is_video else ({"imagenet_c_files": True} if settings.imagenet_c_files else {})
    # perturbation draws are seeded per batch (seed, cell, batch index) from a generator on the device, so the
    # batch size and the device type change the inputs: a grid resumed on another device is a new protocol
    return config_hash({"set": data.name, "ids": ids, "seed": settings.seed, "autocast": amp,
                        "perturb_batch": settings.batch_size, "perturb_device": device_type, **video, **protocol})


def score_grid(observer: Observer, data: LabelledSet, cells: Sequence[Cell], store: ResultsStore | None = None,
               settings: GridSettings = GridSettings(), stop_after: int | None = None) -> GridResult:
    """Score ``observer`` on every cell of the grid; skip cells already stored for its weights and protocol.

    Args:
        observer: The model.
        data: The labelled set (unreadable items are dropped first and reported).
        cells: Grid cells (:func:`grid_cells`); ``clean`` is always scored (the readout is fitted on it).
        store: Results store (None: compute and return nothing stored; for benches).
        settings: Protocol and execution settings.
        stop_after: Stop after computing this many cells (simulates an interruption; tests).

    Returns:
        A :class:`GridResult` naming the computed and skipped conditions.
    """
    device = resolve_device(settings.device)
    amp = resolve_dtype(settings.dtype, device)
    amp_name = str(amp).replace("torch.", "") if amp is not None else "fp32"
    data, unreadable = readable(data)
    if data.is_video:
        data = data.with_frames(settings.source_frames)
    head = head_indexes_classes(observer, data.classes)
    readout_protocol = ReadoutProtocol(layer=settings.layer, pooling=settings.pooling, shots=settings.shots,
                                       folds=settings.folds, seed=settings.seed)
    protocol: dict[str, Any] = {"protocol": "head"} if head else {
        "protocol": "readout", "readout": "logistic regression (C=1, standardised) on clean features, stratified "
        "k-fold out-of-fold predictions", **readout_protocol.as_dict()}
    cfg = _settings_hash(data, settings, protocol, amp_name, device.type)
    wid = observer.weights_id
    result = GridResult(observer.id, wid, cfg, protocol, unreadable=list(data.skipped))
    done = store.done_conditions(observer.id, wid, settings.benchmark, data.name, cfg, "accuracy") if store else set()
    todo = [c for c in cells if c.condition not in done]
    result.skipped = [c.condition for c in cells if c.condition in done]
    if not todo:
        return result
    pixels = _preload(data, observer)
    layer = "logits" if head else settings.layer

    def features(cell: Cell) -> np.ndarray:
        perturb = _transform(cell, data, settings, device)
        pid = None if perturb is None else (f"{cell.condition}/seed{settings.seed}/{settings.mode}/"
                                            f"{settings.frames}-of-{data.frames}/c-files{settings.imagenet_c_files}/"
                                            f"batch{settings.batch_size}")
        feats = extract(observer, data.stimuli, layers=[layer], pooling=settings.pooling,
                        batch_size=settings.batch_size, cache_dir=settings.cache_dir, device=device,
                        dtype=settings.dtype, workers=settings.workers, perturb=perturb, perturb_id=pid,
                        pixels=pixels, progress=False, checkpoint_hash=observer.weights_hash)
        return feats[layer]  # [N, D] or [N, C]

    classes = data.classes
    if head:
        def predict(x: np.ndarray) -> np.ndarray:
            names = [str(i) for i in x.argmax(1)]
            return np.array([classes.index(n) if n in classes else -1 for n in names])
    else:
        readout = FoldedReadout(readout_protocol, classes).fit(features(Cell(CLEAN)),
                                                               [classes[y] for y in data.labels])
        protocol.update(folds=readout.protocol.folds)
        predict = readout.predict
    if unreadable and store is not None:
        store.append_metrics([_unreadable_row(observer, wid, data, cfg, settings, unreadable)])
    for cell in todo:
        if stop_after is not None and len(result.computed) >= stop_after:
            break
        pred = predict(features(cell))
        trials, metric = cell_rows(observer.id, wid, data, cell, pred, protocol, cfg, settings)
        if store is not None:
            store.append(trials=trials, metrics=[metric])
        result.computed.append(cell.condition)
        logger.info("%s / %s / %s: accuracy %.3f", observer.id, data.name, cell.condition, metric["value"])
    return result


def _unreadable_row(observer: Observer, wid: str, data: LabelledSet, cfg: str, settings: GridSettings,
                    unreadable: list[tuple[str, str]]) -> dict[str, Any]:
    return {"model": observer.id, "checkpoint_hash": wid, "benchmark": settings.benchmark, "dataset": data.name,
            "condition": "all", "metric": "unreadable_stimuli", "value": float(len(unreadable)),
            "n": len(unreadable) + len(data), "seed": settings.seed, "config_hash": cfg,
            "skipped": [f"{sid}: {why}" for sid, why in unreadable]}


def cell_rows(observer_id: str, weights_hash: str, data: LabelledSet, cell: Cell, pred: np.ndarray,
              protocol: dict[str, Any], cfg: str, settings: GridSettings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A cell's trial rows (model-vs-human schema plus ``correct``) and its accuracy row (bootstrap CI)."""
    correct = pred == data.labels
    trials = pd.DataFrame({
        "observer": observer_id, "checkpoint_hash": weights_hash, "benchmark": settings.benchmark,
        "dataset": data.name, "subject": observer_id, "session": protocol["protocol"],
        "trial": np.arange(len(pred)), "object_response": [data.classes[p] if p >= 0 else "" for p in pred],
        "category": [data.classes[y] for y in data.labels], "condition": cell.condition, "imagename": data.ids,
        "seed": settings.seed, "config_hash": cfg, "corruption": cell.perturbation, "severity": cell.severity,
        "correct": correct.astype(int),
    })
    low, high = bootstrap_ci(correct.astype(float), seed=settings.seed)
    metric = {"model": observer_id, "checkpoint_hash": weights_hash, "benchmark": settings.benchmark,
              "dataset": data.name, "condition": cell.condition, "metric": "accuracy",
              "value": float(correct.mean()), "ci_low": low, "ci_high": high, "n": int(correct.size),
              "seed": settings.seed, "config_hash": cfg, "corruption": cell.perturbation,
              "severity": cell.severity, **protocol}
    return trials, metric
