"""Corruption robustness of video- and image-pretrained models on a labelled image or video set.

Every model is scored on clean and corrupted versions of the same items, through its classification
head when it has one whose classes the set names (class folders named by head index, e.g. ImageNet
indices), otherwise through a few-shot readout on frozen features: a logistic regression fitted on
clean-image features with stratified k-fold cross-validation (each item is predicted by the fold
model that did not see it) and applied to the corrupted features of the same held-out items. The
protocol is recorded with every row.

Results (per-item trials and per-cell accuracy with bootstrap CIs, gamma_a/gamma_r, mPC/rPC, mCE
for 1000-class ImageNet heads, McNemar per cell between models with Holm correction, paired
video-vs-image accuracy gaps) go to the results store; re-running skips finished cells, so an
interrupted grid resumes. Figures (PDF + PNG) go to ``--out``.

Usage:
    python experiments/robustness.py --models RUN1,RUN2|hvm1,imagemae --set DIR|name \
        [--corruptions all|gaussian_noise,fog] [--severities 1-5|1,3] [--results DB] [--out DIR] \
        [--device cuda] [--mode coherent|dynamic] [--shots K] [--folds 5] [--frames 16] [--seed 0]

A labelled set is an image or video folder with one sub-folder per class, or a registered stimulus
set whose table has a ``category`` column.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import hashlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from tqdm.auto import tqdm

from humanalign.compare import robustness as rb
from humanalign.config import config_hash
from humanalign.features.preprocess import Preprocessing
from humanalign.io.checkpoints import CheckpointError
from humanalign.io.results import DEFAULT_PATH, ResultsStore
from humanalign.perturb.corruptions import ALL_CORRUPTIONS, CorruptionError
from humanalign.perturb.video import corrupt_clip
from humanalign.registry import CORRUPTIONS, VIDEO_PERTURBATIONS
from humanalign.report.plots_robustness import (
    plot_corruption_heatmap,
    plot_family_curves,
    plot_robustness_gap,
)
from humanalign.report.style import save_figure
from humanalign.stimuli.base import IMAGE_SUFFIXES, StimulusSet, StimulusSetError, load_stimulus_set

logger = logging.getLogger("experiments.robustness")

BENCHMARK = "robustness"
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v")


# -- the labelled set ---------------------------------------------------------------------------------
@dataclass
class LabelledSet:
    """Stimuli with integer labels; ``pixels`` caches uint8 inputs ``[N, 3, (T,) S, S]`` per side S."""

    name: str
    stimuli: StimulusSet
    classes: list[str]
    labels: np.ndarray
    is_video: bool
    frames: int
    pixels: dict[int, torch.Tensor] = field(default_factory=dict)


def _video_loader(frames: int) -> Callable[[pd.Series], np.ndarray]:
    from humanalign.io.video import probe, read_frames

    def load(row: pd.Series) -> np.ndarray:
        n, _ = probe(row["path"])
        idx = np.linspace(0, max(n - 1, 0), frames).round().astype(int)
        return read_frames(row["path"], idx)  # uint8 [T, H, W, 3]

    return load


def load_labelled_set(spec: str, frames: int = 16, root: str | None = None) -> LabelledSet:
    """A class-folder image/video set (``DIR/<class>/<file>``) or a registered set with categories.

    Raises:
        StimulusSetError: naming the folder or file that does not fit.
    """
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        if images and videos:
            raise StimulusSetError(f"{path}: holds both images and videos; use one kind per set")
        chosen = videos or images
        if not chosen:
            raise StimulusSetError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) or videos "
                                   f"({', '.join(VIDEO_SUFFIXES)}) found")
        rows = []
        for p in chosen:
            rel = p.relative_to(path)
            if len(rel.parts) < 2:
                raise StimulusSetError(f"{p}: not inside a class sub-folder (expected {path}/<class>/{p.name})")
            rows.append({"stimulus_id": rel.as_posix(), "path": str(p), "category": rel.parts[0]})
        is_video = bool(videos)
        stimuli = StimulusSet(path.name, pd.DataFrame(rows), loader=_video_loader(frames) if is_video else None,
                              meta={"root": str(path)})
    else:
        stimuli = load_stimulus_set(spec, root)
        is_video = False
        if "category" not in stimuli.table.columns or (stimuli.table["category"].astype(str) == "").any():
            raise StimulusSetError(f"stimulus set {spec!r} has no 'category' label for every stimulus")
    cats = stimuli.table["category"].astype(str)
    classes = sorted(cats.unique())
    if len(classes) < 2:
        raise StimulusSetError(f"{spec}: needs at least 2 classes, found {classes}")
    labels = cats.map({c: i for i, c in enumerate(classes)}).to_numpy()
    return LabelledSet(stimuli.name, stimuli, classes, labels, is_video, frames)


def pixels(data: LabelledSet, size: int) -> torch.Tensor:
    """All stimuli resized and centre-cropped to ``size``, as uint8 ``[N, 3, S, S]`` or ``[N, 3, T, S, S]``.

    Kept in memory as 8-bit (as ImageNet-C stores its images) and converted to float per batch.
    """
    if size not in data.pixels:
        resize_crop = Preprocessing(size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # no normalisation: values in [0, 1]
        out = []
        for arr in tqdm(data.stimuli, total=len(data.stimuli), desc=f"loading {data.name}", leave=False):
            t = resize_crop(arr)  # [3, S, S] or [3, T, S, S]
            out.append(torch.round(t.clamp(0, 1) * 255).to(torch.uint8))
        data.pixels[size] = torch.stack(out)
    return data.pixels[size]


def per_class_subset(data: LabelledSet, k: int) -> LabelledSet:
    """The first ``k`` stimuli of every class (in set order), for quick runs."""
    keep = np.concatenate([np.flatnonzero(data.labels == c)[:k] for c in range(len(data.classes))])
    keep.sort()
    stimuli = data.stimuli.subset([data.stimuli.ids[i] for i in keep])
    return LabelledSet(data.name, stimuli, data.classes, data.labels[keep], data.is_video, data.frames)


# -- scoring -------------------------------------------------------------------------------------------
class Scorer:
    """Turns float inputs into predicted labels through a head or a cross-validated readout.

    Args:
        encoder: Encoder with ``encode``, ``img_size``, ``input_mean``, ``input_std``, ``is_video``.
        data: The labelled set.
        device: Torch device.
        batch_size: Inputs per forward pass.
        folds: Folds of the stratified cross-validation (readout).
        shots: Training items per class per fold (None: all of the training folds).
        seed: Seed of the folds and shot sampling.
    """

    def __init__(self, encoder: nn.Module, data: LabelledSet, device: torch.device, batch_size: int = 32,
                 folds: int = 5, shots: int | None = None, seed: int = 0) -> None:
        self.encoder, self.data, self.device, self.batch_size = encoder, data, device, batch_size
        self.mean = torch.tensor(encoder.input_mean, device=device).view(1, 3, *([1] * (3 if data.is_video else 2)))
        self.std = torch.tensor(encoder.input_std, device=device).view_as(self.mean)
        self.head = self._usable_head(encoder, data.classes)
        self.protocol = "head" if self.head is not None else "readout"
        self.readout: dict[str, object] = {"folds": folds, "shots": shots, "seed": seed}
        self.fold_of: np.ndarray | None = None
        self.fold_models: list = []

    @staticmethod
    def _usable_head(encoder: nn.Module, classes: list[str]) -> nn.Linear | None:
        head = getattr(encoder, "head", None)
        if not isinstance(head, nn.Linear):
            return None
        if all(c.isdigit() and int(c) < head.out_features for c in classes):
            return head
        logger.info("head of %d classes does not index the set's classes; using the readout", head.out_features)
        return None

    @torch.no_grad()
    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, D]`` of float inputs in [0, 1] (an image encoder averages clip frames)."""
        x = ((x.to(self.device) - self.mean) / self.std).float()
        if x.ndim == 5 and not getattr(self.encoder, "is_video", False):
            b, c, t, h, w = x.shape
            feats = self.encoder.encode(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), pool="mean")
            return feats.view(b, t, -1).mean(1)
        if x.ndim == 5 and x.shape[2] != getattr(self.encoder, "num_frames", x.shape[2]):
            idx = torch.linspace(0, x.shape[2] - 1, int(self.encoder.num_frames)).round().long().to(x.device)
            x = x.index_select(2, idx)
        pool = (getattr(self.encoder, "released", None) or {}).get("pool", "mean") if self.head is not None else "mean"
        return self.encoder.encode(x, pool=pool)

    @torch.no_grad()
    def features(self, inputs: torch.Tensor, transform: Callable[[torch.Tensor, int], torch.Tensor] | None = None
                 ) -> np.ndarray:
        """Features ``[N, D]`` (or head logits) of uint8 ``inputs``, optionally corrupted batch by batch."""
        out = []
        for k, start in enumerate(range(0, inputs.shape[0], self.batch_size)):
            x = inputs[start:start + self.batch_size].to(self.device).float() / 255
            if transform is not None:
                x = transform(x, k)
            f = self._encode(x)
            out.append((self.head(f) if self.head is not None else f).float().cpu())
        return torch.cat(out).numpy()

    def fit(self, clean: np.ndarray) -> np.ndarray:
        """Fit the readout on clean features; return the (out-of-fold) clean predictions."""
        if self.head is not None:
            return self.predict(clean)
        y = self.data.labels
        counts = np.bincount(y)
        k = int(min(self.readout["folds"], counts.min()))
        if k < 2:
            raise StimulusSetError(f"{self.data.name}: the readout needs >= 2 items in every class "
                                   f"(smallest class has {counts.min()})")
        self.readout["folds"] = k
        rng = np.random.default_rng(int(self.readout["seed"]))
        split = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(self.readout["seed"]))
        self.fold_of = np.zeros(len(y), dtype=int)
        self.fold_models = []
        for fold, (train, test) in enumerate(split.split(clean, y)):
            self.fold_of[test] = fold
            if self.readout["shots"]:
                train = np.concatenate([rng.permutation(train[y[train] == c])[: int(self.readout["shots"])]
                                        for c in np.unique(y[train])])
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
            self.fold_models.append(model.fit(clean[train], y[train]))
        return self.predict(clean)

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """Predicted label per item (class index into ``data.classes``)."""
        if self.head is not None:
            return np.array([self.data.classes.index(str(i)) if str(i) in self.data.classes else -1
                             for i in feats.argmax(1)])
        pred = np.empty(len(feats), dtype=int)
        for fold, model in enumerate(self.fold_models):
            mask = self.fold_of == fold
            pred[mask] = model.predict(feats[mask])
        return pred

    def describe(self) -> dict[str, object]:
        """The scoring protocol, recorded with every row."""
        if self.head is not None:
            return {"protocol": "head"}
        return {"protocol": "readout", "readout": "logistic regression (C=1, standardised) on clean features, "
                "stratified k-fold out-of-fold predictions", **self.readout}


# -- corruption of inputs --------------------------------------------------------------------------------
def resolve_corruptions(spec: str, is_video: bool) -> list[str]:
    """Names to run: "all" or a comma list, validated against the registries for the set's kind."""
    if spec == "all":
        return list(VIDEO_PERTURBATIONS.list()) if is_video else list(ALL_CORRUPTIONS)
    known = set(CORRUPTIONS.list()) | (set(VIDEO_PERTURBATIONS.list()) if is_video else set())
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in known:
            kind = "video perturbation or image corruption" if is_video else "image corruption"
            close = difflib.get_close_matches(n, sorted(known), n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise CorruptionError(f"unknown {kind} {n!r}.{hint} Known: {', '.join(sorted(known))}")
    if not names:
        raise CorruptionError(f"no corruption named in {spec!r}")
    return names


def parse_severities(spec: str) -> list[int]:
    """"1-5" or "1,3" -> sorted severities in 1..5."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    if not out or min(out) < 1 or max(out) > 5:
        raise ValueError(f"severities must lie in 1..5, got {spec!r}")
    return sorted(out)


def family_of(name: str, is_video: bool) -> str:
    """Corruption family from the registry metadata."""
    if is_video and name in VIDEO_PERTURBATIONS:
        return str(VIDEO_PERTURBATIONS.meta(name).get("family", "other"))
    return str(CORRUPTIONS.meta(name).get("family", "other"))


def cell_transform(name: str, severity: int, is_video: bool, seed: int, mode: str | None,
                   device: torch.device) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """A function corrupting batch ``k``; each (name, severity, batch) has its own seeded generator."""

    def transform(x: torch.Tensor, k: int) -> torch.Tensor:
        digest = hashlib.sha256(f"{seed}/{name}/{severity}/{k}".encode()).digest()
        g = torch.Generator(device=device).manual_seed(int.from_bytes(digest[:7], "little"))
        if not is_video:
            return CORRUPTIONS.get(name)(x, severity, generator=g)
        if name in VIDEO_PERTURBATIONS:
            return VIDEO_PERTURBATIONS.get(name)(x, severity, generator=g, mode=mode)
        return corrupt_clip(x, name, severity, g, mode=mode or "coherent")

    return transform


# -- the grid ---------------------------------------------------------------------------------------------
@dataclass
class GridResult:
    """What one call of :func:`run_grid` did."""

    computed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    config_hash: str = ""
    is_video: dict[str, bool] = field(default_factory=dict)  # per loaded model: video pretraining?


def model_id(spec: str) -> str:
    """Display name of a model given by registry name or path."""
    path = Path(spec)
    return path.name if path.exists() else spec


def run_grid(models: Sequence[str], data: LabelledSet, corruptions: Sequence[str], severities: Sequence[int],
             store: ResultsStore, device: str = "cpu", batch_size: int = 32, seed: int = 0, mode: str | None = None,
             folds: int = 5, shots: int | None = None, stop_after: int | None = None) -> GridResult:
    """Score every model on the clean set and every (corruption, severity) cell; skip finished cells.

    Args:
        stop_after: Stop after computing this many cells (simulates an interruption; for tests).
    """
    from humanalign.features.hashing import state_dict_hash
    from humanalign.models import load_model

    dev = torch.device(device)
    settings = {"set": data.name, "ids": hashlib.sha256("\n".join(data.stimuli.ids).encode()).hexdigest()[:16],
                "seed": seed, "mode": mode, "folds": folds, "shots": shots, "frames": data.frames}
    result = GridResult(config_hash=config_hash(settings))
    cells = [("clean", 0)] + [(c, s) for c in corruptions for s in severities]
    bar = tqdm(total=len(models) * len(cells), desc="robustness grid", unit="cell")
    for spec in models:
        mid = model_id(spec)
        base = {"model": mid, "benchmark": BENCHMARK, "dataset": data.name, "config_hash": result.config_hash}
        todo = [(c, s) for c, s in cells if not store.has_metrics(**base, condition=_condition(c, s),
                                                                  metric="accuracy")]
        done = [cell for cell in cells if cell not in todo]
        result.skipped += [(mid, _condition(c, s)) for c, s in done]
        bar.update(len(done))
        if not todo:
            continue
        encoder = load_model(spec, device=str(dev))
        result.is_video[mid] = bool(getattr(encoder, "is_video", False))
        ckpt = state_dict_hash(encoder)[:16]
        inputs = pixels(data, int(np.atleast_1d(encoder.img_size)[0]))
        scorer = Scorer(encoder, data, dev, batch_size, folds, shots, seed)
        clean_pred = scorer.fit(scorer.features(inputs))
        protocol = scorer.describe()
        for c, s in todo:
            if stop_after is not None and len(result.computed) >= stop_after:
                bar.close()
                return result
            pred = clean_pred if c == "clean" else scorer.predict(
                scorer.features(inputs, cell_transform(c, s, data.is_video, seed, mode, dev)))
            _write_cell(store, base, ckpt, data, c, s, pred, protocol, seed)
            result.computed.append((mid, _condition(c, s)))
            bar.update(1)
    bar.close()
    return result


def _condition(corruption: str, severity: int) -> str:
    return "clean" if corruption == "clean" else f"{corruption}/{severity}"


def _write_cell(store: ResultsStore, base: dict, ckpt: str, data: LabelledSet, corruption: str, severity: int,
                pred: np.ndarray, protocol: dict, seed: int) -> None:
    cond = _condition(corruption, severity)
    correct = pred == data.labels
    trials = pd.DataFrame({
        "observer": base["model"], "checkpoint_hash": ckpt, "benchmark": BENCHMARK, "dataset": data.name,
        "subject": base["model"], "session": protocol["protocol"], "trial": np.arange(len(pred)),
        "object_response": [data.classes[p] if p >= 0 else "" for p in pred],
        "category": [data.classes[y] for y in data.labels], "condition": cond, "imagename": data.stimuli.ids,
        "seed": seed, "config_hash": base["config_hash"], "corruption": corruption, "severity": severity,
        "correct": correct.astype(int),
    })
    store.append_trials(trials)
    low, high = rb.bootstrap_ci(correct.astype(float), seed=seed)
    store.append_metrics([{**base, "checkpoint_hash": ckpt, "condition": cond, "metric": "accuracy",
                           "value": float(correct.mean()), "ci_low": low, "ci_high": high, "n": int(correct.size),
                           "seed": seed, "corruption": corruption, "severity": severity, **protocol}])


# -- summaries and figures -------------------------------------------------------------------------------
def load_trials(store: ResultsStore, models: Sequence[str], data: LabelledSet, cfg: str) -> pd.DataFrame:
    """Per-item correctness of the grid (the last write of each item wins)."""
    df = store.trials(observer=[model_id(m) for m in models], benchmark=BENCHMARK, dataset=data.name,
                      config_hash=cfg)
    df = df.drop_duplicates(["observer", "condition", "imagename"], keep="last")
    df["severity"] = df["severity"].astype(int)
    df["correct"] = df["correct"].astype(int)
    return df.rename(columns={"observer": "model", "imagename": "item"})


def summarise(store: ResultsStore, trials: pd.DataFrame, models: Sequence[str], data: LabelledSet,
              corruptions: Sequence[str], severities: Sequence[int], cfg: str, seed: int,
              encoders_video: dict[str, bool]) -> dict[str, pd.DataFrame]:
    """Compute summary metrics, write the new ones to the store, and return the figure tables."""
    selection = config_hash({"corruptions": list(corruptions), "severities": list(severities)})
    rows: list[dict] = []
    cells = rb.accuracy_per_cell(trials, by=("model", "corruption", "severity"), seed=seed)
    fam_rows, heat_rows = [], []
    for mid, mcells in cells.groupby("model"):
        clean = float(mcells.loc[mcells["corruption"] == "clean", "value"].iloc[0])
        grid = mcells[mcells["corruption"] != "clean"]
        acc = {c: grid.loc[grid["corruption"] == c, "value"].tolist() for c in corruptions}
        base = {"model": mid, "benchmark": BENCHMARK, "dataset": data.name, "config_hash": cfg, "seed": seed,
                "n": int(len(data.labels))}
        rows.append({**base, "condition": f"summary:{selection}", "metric": "mPC",
                     "value": rb.mean_corruption_accuracy(acc)})
        if clean > 0:
            rows.append({**base, "condition": f"summary:{selection}", "metric": "rPC",
                         "value": rb.relative_corruption_accuracy(acc, clean)})
            for r in grid.itertuples():
                cond = _condition(r.corruption, r.severity)
                rows.append({**base, "condition": cond, "metric": "gamma_a", "value": rb.gamma_absolute(clean, r.value)})
                rows.append({**base, "condition": cond, "metric": "gamma_r", "value": rb.gamma_relative(clean, r.value)})
        if len(data.classes) == 1000 and all(c.isdigit() for c in data.classes) and set(severities) == {1, 2, 3, 4, 5}:
            errors = {c: [1 - a for a in acc[c]] for c in corruptions if c in rb.ALEXNET_ERRORS}
            if errors:
                rows.append({**base, "condition": f"summary:{selection}", "metric": "mCE",
                             "value": rb.mean_corruption_error(errors, allow_subset=True)})
                rows.append({**base, "condition": f"summary:{selection}", "metric": "relative_mCE",
                             "value": rb.relative_mean_corruption_error(errors, 1 - clean, allow_subset=True)})
        mt = trials[trials["model"] == mid]
        for c in corruptions:
            heat_rows.append({"model": mid, "corruption": c, "value": float(np.mean(acc[c]))})
            steps = mt[mt["corruption"].isin(["clean", c])].pivot_table(
                index="item", columns="severity", values="object_response", aggfunc="first")
            if steps.shape[1] >= 2:  # predictions clean -> severity 1 -> ... : how often do they flip?
                rows.append({**base, "condition": f"{c}/severities", "metric": "flip_rate",
                             "value": rb.flip_rate(steps.sort_index(axis=1).to_numpy())})
        fams = {c: family_of(c, data.is_video) for c in corruptions}
        for fam in sorted(set(fams.values())):
            for s in [0, *severities]:
                names = ["clean"] if s == 0 else [c for c in corruptions if fams[c] == fam]
                sub = mt[mt["corruption"].isin(names) & (mt["severity"] == s)]
                per_item = sub.groupby("item")["correct"].mean()
                low, high = rb.bootstrap_ci(per_item.to_numpy(), seed=seed)
                fam_rows.append({"model": mid, "family": fam, "severity": s, "value": float(per_item.mean()),
                                 "ci_low": low, "ci_high": high})
    gap_rows = []
    for a, b in combinations([model_id(m) for m in models], 2):
        test = rb.compare_models(trials[trials["corruption"] != "clean"], a, b, cell=("corruption", "severity"),
                                 method="holm")
        for r in test.itertuples():
            rows.append({"model": f"{a}|{b}", "benchmark": BENCHMARK, "dataset": data.name, "config_hash": cfg,
                         "condition": _condition(r.corruption, r.severity), "metric": "mcnemar_p_holm",
                         "value": r.pvalue_adj, "n": r.n, "seed": seed, "pvalue": r.pvalue, "diff": r.diff})
        va, vb = encoders_video.get(a), encoders_video.get(b)
        if va is None or vb is None or va == vb:
            continue
        video, image = (a, b) if va else (b, a)
        for c in corruptions:
            sub = trials[trials["corruption"] == c].pivot_table(index="item", columns="model", values="correct")
            if video not in sub or image not in sub:
                continue
            diff, low, high = rb.paired_bootstrap_diff(sub[video].to_numpy(), sub[image].to_numpy(), seed=seed)
            pair = f"{video} - {image}"
            gap_rows.append({"pair": pair, "corruption": c, "value": diff, "ci_low": low, "ci_high": high})
            rows.append({"model": pair, "benchmark": BENCHMARK, "dataset": data.name, "config_hash": cfg,
                         "condition": f"{c}/all", "metric": "accuracy_gap_video_minus_image", "value": diff,
                         "ci_low": low, "ci_high": high, "n": int(len(sub)), "seed": seed})
    stored = store.metrics(benchmark=BENCHMARK, dataset=data.name, config_hash=cfg)  # one query, not one per row
    done = set(zip(stored["model"], stored["condition"], stored["metric"]))
    new = [r for r in rows if (r["model"], r["condition"], r["metric"]) not in done]
    store.append_metrics(new)
    return {"cells": cells, "families": pd.DataFrame(fam_rows), "heat": pd.DataFrame(heat_rows),
            "gap": pd.DataFrame(gap_rows), "summary": pd.DataFrame(rows)}


def write_figures(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Accuracy-vs-severity per family, model x corruption heat map, and the video-vs-image gap."""
    import matplotlib.pyplot as plt

    written: list[Path] = []
    if len(tables["families"]):
        fig = plot_family_curves(tables["families"])
        written += save_figure(fig, out / "accuracy_vs_severity")
        plt.close(fig)
    if len(tables["heat"]):
        ax = plot_corruption_heatmap(tables["heat"])
        written += save_figure(ax.figure, out / "model_corruption_heatmap")
        plt.close(ax.figure)
    if len(tables["gap"]):
        ax = plot_robustness_gap(tables["gap"])
        written += save_figure(ax.figure, out / "video_vs_image_gap")
        plt.close(ax.figure)
    return written


# -- command line -----------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="comma-separated registry names or run/checkpoint paths")
    p.add_argument("--set", required=True, dest="set_spec", help="class-folder of images/videos, or a set name")
    p.add_argument("--set-root", default=None, help="local copy of a registered set")
    p.add_argument("--name", default=None, help="dataset name in the results (default: the set's name)")
    p.add_argument("--corruptions", default="all")
    p.add_argument("--severities", default="1-5")
    p.add_argument("--results", default=str(DEFAULT_PATH), help="results store (SQLite)")
    p.add_argument("--out", default=None, help="figure folder (default results/robustness/<set>)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--mode", choices=("coherent", "dynamic"), default=None,
                   help="video: one draw per clip or per frame (default: each perturbation's own)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--shots", type=int, default=None, help="training items per class for the readout")
    p.add_argument("--frames", type=int, default=16, help="frames sampled per video")
    p.add_argument("--per-class", type=int, default=None, help="use only the first K stimuli of each class")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid, the summaries and the figures; print a summary table."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        data = load_labelled_set(args.set_spec, args.frames, args.set_root)
        if args.per_class:
            data = per_class_subset(data, args.per_class)
        if args.name:
            data = dataclasses.replace(data, name=args.name)
        corruptions = resolve_corruptions(args.corruptions, data.is_video)
        severities = parse_severities(args.severities)
        store = ResultsStore(args.results)
        result = run_grid(models, data, corruptions, severities, store, args.device, args.batch_size, args.seed,
                          args.mode, args.folds, args.shots)
    except (FileNotFoundError, CheckpointError, StimulusSetError, CorruptionError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    is_video = dict(result.is_video)
    if len(models) > 1:
        from humanalign.models import load_model

        for m in models:  # models whose cells were all done already were not loaded
            is_video.setdefault(model_id(m), bool(getattr(load_model(m), "is_video", False)))
    trials = load_trials(store, models, data, result.config_hash)
    tables = summarise(store, trials, models, data, corruptions, severities, result.config_hash, args.seed, is_video)
    out = Path(args.out) if args.out else Path("results") / "robustness" / data.name
    written = write_figures(tables, out)
    print(f"{len(result.computed)} cells computed, {len(result.skipped)} already in {args.results}")
    summary = tables["summary"]
    pick = summary[summary["metric"].isin(["mPC", "rPC", "mCE", "relative_mCE"])]
    clean = tables["cells"][tables["cells"]["corruption"] == "clean"][["model", "value"]]
    print("clean accuracy:\n" + clean.rename(columns={"value": "accuracy"}).to_string(index=False))
    if len(pick):
        print(pick.pivot_table(index="model", columns="metric", values="value").round(4).to_string())
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
