"""Metric rows of a robustness grid from its tidy trial rows (no store access: rows in, rows out).

From per-item correctness of every (model, corruption, severity) cell: mPC, rPC, gamma_a / gamma_r per
cell, mCE and relative mCE (1000-class ImageNet heads over all five severities), flip rates over
severities, McNemar per cell between every two models (Holm-corrected), and, for a video and an image
model, the paired item-level accuracy gap per corruption. Rows about one model carry its weights hash;
pairwise rows (``a|b``, ``a - b``) are about two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from humanalign.compare import robustness as rb
from humanalign.config import config_hash

__all__ = ["GridSummary", "summarise_grid", "condition_name"]


def condition_name(corruption: str, severity: int) -> str:
    """``clean`` or ``name/severity``."""
    return "clean" if corruption == "clean" else f"{corruption}/{severity}"


@dataclass
class GridSummary:
    """Summary rows for the store and the tables the figures draw."""

    rows: list[dict] = field(default_factory=list)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    families: pd.DataFrame = field(default_factory=pd.DataFrame)
    heat: pd.DataFrame = field(default_factory=pd.DataFrame)
    gap: pd.DataFrame = field(default_factory=pd.DataFrame)


def summarise_grid(trials: pd.DataFrame, *, dataset: str, corruptions: Sequence[str], severities: Sequence[int],
                   families: Mapping[str, str], hashes: Mapping[str, str], is_video: Mapping[str, bool],
                   num_classes: int, imagenet_classes: bool, cfgs: Mapping[str, str], seed: int, benchmark: str = "robustness",
                   ) -> GridSummary:
    """Summary metric rows and figure tables of one grid.

    Args:
        trials: One row per (model, item, cell): ``model``, ``item``, ``corruption``, ``severity``,
            ``correct`` (0/1), ``object_response``.
        dataset: Data set name of the rows.
        corruptions, severities: The grid (the selection is hashed into the summary condition).
        families: Corruption -> family (for the per-family curves).
        hashes: Model -> weights hash (on the model's own rows).
        is_video: Model -> video pretraining (a video and an image model get the paired gap).
        num_classes: Classes of the set; ``imagenet_classes``: its class names are ImageNet indices.
        cfgs: Model -> protocol hash of its grid (pairwise rows: a hash of both). seed: Bootstrap seed.
    """
    selection = config_hash({"corruptions": list(corruptions), "severities": list(severities)})
    summary_condition = f"summary:{selection}"
    out = GridSummary()
    out.cells = rb.accuracy_per_cell(trials, by=("model", "corruption", "severity"), seed=seed)
    fam_rows, heat_rows, rows = [], [], out.rows
    for mid, mcells in out.cells.groupby("model"):
        clean = float(mcells.loc[mcells["corruption"] == "clean", "value"].iloc[0])
        grid = mcells[mcells["corruption"] != "clean"]
        acc = {c: grid.loc[grid["corruption"] == c, "value"].tolist() for c in corruptions}
        base = {"model": mid, "checkpoint_hash": hashes[mid], "benchmark": benchmark, "dataset": dataset,
                "config_hash": cfgs[mid], "seed": seed, "n": int(trials.loc[trials["model"] == mid, "item"].nunique())}
        rows.append({**base, "condition": summary_condition, "metric": "mPC", "value": rb.mean_corruption_accuracy(acc),
                     "corruptions": list(corruptions), "severities": list(severities)})
        if clean > 0:
            rows.append({**base, "condition": summary_condition, "metric": "rPC",
                         "value": rb.relative_corruption_accuracy(acc, clean)})
            for r in grid.itertuples():
                cond = condition_name(r.corruption, r.severity)
                rows.append({**base, "condition": cond, "metric": "gamma_a", "value": rb.gamma_absolute(clean, r.value)})
                rows.append({**base, "condition": cond, "metric": "gamma_r", "value": rb.gamma_relative(clean, r.value)})
        if num_classes == 1000 and imagenet_classes and set(severities) == {1, 2, 3, 4, 5}:
            errors = {c: [1 - a for a in acc[c]] for c in corruptions if c in rb.ALEXNET_ERRORS}
            if errors:
                rows.append({**base, "condition": summary_condition, "metric": "mCE",
                             "value": rb.mean_corruption_error(errors, allow_subset=True)})
                rows.append({**base, "condition": summary_condition, "metric": "relative_mCE",
                             "value": rb.relative_mean_corruption_error(errors, 1 - clean, allow_subset=True)})
        mt = trials[trials["model"] == mid]
        for c in corruptions:
            heat_rows.append({"model": mid, "corruption": c, "value": float(np.mean(acc[c]))})
            steps = mt[mt["corruption"].isin(["clean", c])].pivot_table(
                index="item", columns="severity", values="object_response", aggfunc="first")
            if steps.shape[1] >= 2:  # predictions clean -> severity 1 -> ... : how often do they flip?
                rows.append({**base, "condition": f"{c}/severities", "metric": "flip_rate",
                             "value": rb.flip_rate(steps.sort_index(axis=1).to_numpy())})
        for fam in sorted({families[c] for c in corruptions}):
            for s in [0, *severities]:
                names = ["clean"] if s == 0 else [c for c in corruptions if families[c] == fam]
                sub = mt[mt["corruption"].isin(names) & (mt["severity"] == s)]
                per_item = sub.groupby("item")["correct"].mean()
                low, high = rb.bootstrap_ci(per_item.to_numpy(), seed=seed)
                fam_rows.append({"model": mid, "family": fam, "severity": s, "value": float(per_item.mean()),
                                 "ci_low": low, "ci_high": high})
    gap_rows = []
    models = list(hashes)
    for a, b in combinations(models, 2):
        pair = {"benchmark": benchmark, "dataset": dataset, "seed": seed,
                "config_hash": cfgs[a] if cfgs[a] == cfgs[b] else config_hash({"a": cfgs[a], "b": cfgs[b]}),
                "hashes": {a: hashes[a], b: hashes[b]}}
        test = rb.compare_models(trials[trials["corruption"] != "clean"], a, b, cell=("corruption", "severity"),
                                 method="holm")
        for r in test.itertuples():
            rows.append({**pair, "model": f"{a}|{b}", "condition": condition_name(r.corruption, r.severity),
                         "metric": "mcnemar_p_holm", "value": r.pvalue_adj, "n": r.n, "pvalue": r.pvalue,
                         "diff": r.diff})
        va, vb = is_video.get(a), is_video.get(b)
        if va is None or vb is None or va == vb:
            continue
        video, image = (a, b) if va else (b, a)
        for c in corruptions:
            sub = trials[trials["corruption"] == c].pivot_table(index="item", columns="model", values="correct")
            if video not in sub or image not in sub:
                continue
            diff, low, high = rb.paired_bootstrap_diff(sub[video].to_numpy(), sub[image].to_numpy(), seed=seed)
            name = f"{video} - {image}"
            gap_rows.append({"pair": name, "corruption": c, "value": diff, "ci_low": low, "ci_high": high})
            rows.append({**pair, "model": name, "condition": f"{c}/all", "metric": "accuracy_gap_video_minus_image",
                         "value": diff, "ci_low": low, "ci_high": high, "n": int(len(sub))})
    out.families, out.heat, out.gap = pd.DataFrame(fam_rows), pd.DataFrame(heat_rows), pd.DataFrame(gap_rows)
    return out
