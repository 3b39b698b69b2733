"""Models as observers in the model-vs-human experiments: their 16-class decisions as trial rows.

A model with a 1000-class (ImageNet) classifier decides through the benchmark's 1000 -> 16 mapping
(model-vs-human's rule); every other model through a 16-class readout on frozen features,
cross-validated over stimuli (:mod:`humanalign.eval.readout16`). The decisions become trial rows of the
model-vs-human schema, so the model is one more observer; :func:`run_alignment` compares them with the
human trials of the same images and returns the scores, the summary and the metric rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from humanalign.compare.behaviour import (
    benchmark_summary,
    decisions_16,
    per_dataset_scores,
    shape_bias,
    shape_bias_per_category,
)
from humanalign.compare.behaviour_rows import BENCHMARK, alignment_metric_rows
from humanalign.config import config_hash
from humanalign.eval.readout16 import ReadoutProtocol, cross_validated_readout
from humanalign.features import extract
from humanalign.io.trials import load_raw_data, model_trials
from humanalign.models.observers import Observer
from humanalign.registry import STIMULUS_SETS
from humanalign.stimuli.base import StimulusSet

__all__ = ["SETS", "spread_subset", "observer_trials", "AlignmentResult", "run_alignment", "store_rows"]

logger = logging.getLogger(__name__)

SETS = ("cue-conflict", "edge", "silhouette")


def spread_subset(stimuli: StimulusSet, n: int | None) -> StimulusSet:
    """At most ``n`` stimuli, taken round-robin over categories (so every category keeps examples)."""
    if n is None or n >= len(stimuli):
        return stimuli
    table = stimuli.table.assign(_rank=stimuli.table.groupby("category").cumcount())
    ids = table.sort_values(["_rank", "category"]).head(n).sort_index()["stimulus_id"].tolist()
    return stimuli.subset(ids)


def observer_trials(observer: Observer, dataset: str, stimuli: StimulusSet, protocol: ReadoutProtocol,
                    batch_size: int = 32, device: str = "cpu", dtype: str = "auto",
                    cache_dir: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """The observer's trial rows on one stimulus set, and how its decisions were made."""
    common = dict(batch_size=batch_size, cache_dir=cache_dir, device=device, dtype=dtype, progress=False,
                  checkpoint_hash=observer.weights_hash)
    if observer.has_imagenet_logits:
        logits = extract(observer, stimuli, layers="logits", **common).aligned(stimuli.ids)["logits"]  # [N, 1000]
        decisions = decisions_16(torch.softmax(torch.from_numpy(logits), dim=-1))
        how = {"decision": "imagenet_1000_to_16", "layer": "logits"}
    else:
        feats = extract(observer, stimuli, layers=[protocol.layer], pooling=protocol.pooling, **common)
        x = feats.aligned(stimuli.ids)[observer.resolve_layers(protocol.layer)[0]]  # [N, D]
        proto, textures = protocol, None
        if dataset == "cue-conflict":
            proto = ReadoutProtocol(**{**protocol.__dict__, "labels": "shape+texture"})
            textures = stimuli.table["texture"].tolist()
        result = cross_validated_readout(x, stimuli.table["category"].tolist(), proto, textures=textures)
        decisions = result.decisions
        how = {"decision": "readout16", **proto.as_dict(), "shots_used": result.shots_used}
    trials = model_trials(observer.id, dataset, stimuli.table, decisions)
    trials["checkpoint_hash"] = observer.weights_id
    trials["config_hash"] = config_hash(how)  # two protocols of one model are two sets of trials
    return trials, how


@dataclass
class AlignmentResult:
    """Everything :func:`run_alignment` computed."""

    trials: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    rows: pd.DataFrame
    per_category: pd.DataFrame = field(default_factory=pd.DataFrame)
    shape_bias_all: pd.DataFrame = field(default_factory=pd.DataFrame)


def run_alignment(observers: Sequence[Observer], sets: Sequence[str], raw_data: str | Path,
                  stimuli_root: str | Path | None = None, max_stimuli: int | None = None,
                  protocol: ReadoutProtocol = ReadoutProtocol(), n_boot: int = 1000, batch_size: int = 32,
                  device: str = "cpu", dtype: str = "auto", cache_dir: str | Path | None = None) -> AlignmentResult:
    """Every observer's decisions on every set, compared with the human trials of the same images."""
    stimuli = {s: spread_subset(STIMULUS_SETS.build(s, stimuli_root), max_stimuli) for s in sets}
    humans = load_raw_data(raw_data, datasets=list(sets), observers=["humans"])
    model_rows, info = [], {}
    for obs in observers:
        for dataset, stim in stimuli.items():
            trials, how = observer_trials(obs, dataset, stim, protocol, batch_size, device, dtype, cache_dir)
            model_rows.append(trials)
            info[(obs.id, dataset)] = {"checkpoint_hash": obs.weights_id, "layer": how["layer"],
                                       "protocol": how}
            logger.info("%s on %s: %d trials, accuracy %.3f", obs.id, dataset, len(trials),
                        (trials["object_response"] == trials["category"]).mean())
    models = pd.concat(model_rows, ignore_index=True)
    seen = set(zip(models["dataset"], models["image_id"], strict=True))  # humans only on the images scored
    humans = humans[[k in seen for k in zip(humans["dataset"], humans["image_id"], strict=True)]]
    trials = pd.concat([models, humans], ignore_index=True)
    scores = per_dataset_scores(trials, n_boot=n_boot, seed=protocol.seed)
    summary = benchmark_summary(trials, n_boot=n_boot, seed=protocol.seed)
    per_category = sb_all = pd.DataFrame()
    if "cue-conflict" in stimuli:
        cc = trials[trials["dataset"] == "cue-conflict"]
        per_category = shape_bias_per_category(cc, n_boot=n_boot, seed=protocol.seed)
        sb_all = shape_bias(cc)
        scores = pd.concat([scores, per_category.assign(dataset="cue-conflict", metric="shape_bias_category")])
    rows = alignment_metric_rows(scores, info, protocol.seed)
    return AlignmentResult(models, scores, summary, rows, per_category, sb_all)


def store_rows(store, result: AlignmentResult, seed: int) -> tuple[int, int]:
    """Write the models' trial rows and the metric rows (idempotent); returns the new (trials, metrics)."""
    models = result.trials
    trials = models.assign(observer=models["subj"], subject=models["subj"], benchmark=BENCHMARK,
                           seed=seed).drop(columns=["subj"])
    written = store.append(trials=trials, metrics=result.rows)
    return written.trials, written.metrics
