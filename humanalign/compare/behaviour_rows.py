"""Metric rows of the model-vs-human comparison from its per-data-set scores (rows in, rows out).

Each model row carries the weights hash and decision protocol of its (model, data set); rows over all
data sets carry the per-data-set protocols. The pooled ``humans`` observer is kept as the reference
(no weights hash); individual subjects are not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from humanalign.config import config_hash
from humanalign.io.trials import is_human

__all__ = ["alignment_metric_rows", "BENCHMARK"]

BENCHMARK = "model-vs-human"


def alignment_metric_rows(scores: pd.DataFrame, info: Mapping[tuple[str, str], dict], seed: int,
                          benchmark: str = BENCHMARK) -> pd.DataFrame:
    """Long-format rows of every model's scores.

    Args:
        scores: Per-data-set scores (``observer``, ``dataset``, ``metric``, ``value``, ``ci_low``, ``ci_high``,
            ``n``, optional ``category``), as from :func:`humanalign.compare.behaviour.per_dataset_scores`.
        info: ``(observer, dataset) -> {"checkpoint_hash", "layer", "protocol"}``.
        seed: Bootstrap seed of the scores.
    """
    rows = []
    for rec in scores.to_dict("records"):
        observer = rec["observer"]
        if is_human(observer) or not np.isfinite(rec["value"]):  # NaN: e.g. no shape/texture decision at all
            continue
        own = {d: v for (o, d), v in info.items() if o == observer}
        if not own:
            if observer != "humans":
                continue
            meta = {"checkpoint_hash": "", "layer": "", "protocol": {"decision": "human"}}  # the reference
        elif rec["dataset"] in own:
            meta = own[rec["dataset"]]
        else:
            first = next(iter(own.values()))
            meta = {"checkpoint_hash": first["checkpoint_hash"], "layer": first["layer"],
                    "protocol": {d: v["protocol"] for d, v in own.items()}}
        rows.append({"model": observer, "checkpoint_hash": meta["checkpoint_hash"], "layer": meta["layer"],
                     "benchmark": benchmark, "dataset": rec["dataset"], "condition": rec.get("category", "all"),
                     "metric": rec["metric"], "value": rec["value"], "ci_low": rec["ci_low"],
                     "ci_high": rec["ci_high"], "n": rec["n"], "seed": seed,
                     "config_hash": config_hash(meta["protocol"]), "protocol": json.dumps(meta["protocol"])})
    return pd.DataFrame(rows)
