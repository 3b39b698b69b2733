"""Item-level image-vs-video contrasts from trial rows in the results store, written back as metric rows.

For two observers (models) that differ in one factor, every (dataset, condition) cell gets a
McNemar test on the items both judged, a paired bootstrap CI of the accuracy difference, and a
Holm (or BH) correction across cells. A data set with several corrupted conditions also gets a
pooled cell (``corrupted (pooled)``: every corrupted item x condition), and cue-conflict trials get a
shape-bias contrast (paired bootstrap over images, ``contrast_metric = shape_bias``); both are in the
same correction family. Difference rows carry ``value_a``/``value_b`` (the two models' accuracies). The rows land in the store under ``benchmark="contrasts"``,
where the report's contrasts section picks them up. The claims rest on items (``level = items``);
seed-level claims need one run per seed (see ``humanalign.compare.contrasts.paired_ttest_seeds``).

Usage:
    python analysis/contrasts.py --results DB --a vit_b16_image --b vit_b16_video [--correction fdr_bh]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from humanalign.compare.contrasts import adjust_pvalues, contrast_rows, item_contrasts_by_cell
from humanalign.io.results import ResultsStore
from humanalign.io.trials import short_image_id

POOLED = "corrupted (pooled)"
_CLEAN = {"", "0", "clean"}

logger = logging.getLogger("analysis.contrasts")


def trial_correctness(trials: pd.DataFrame) -> pd.DataFrame:
    """Add a 0/1 ``correct`` column (``object_response == category``) to trial rows."""
    missing = [c for c in ("object_response", "category") if c not in trials.columns]
    if missing:
        raise KeyError(f"trial rows lack column(s) {missing}")
    out = trials.copy()
    out["correct"] = (out["object_response"].astype(str) == out["category"].astype(str)).astype(int)
    out["condition"] = out["condition"].fillna("")
    out["dataset"] = out["dataset"].fillna("")
    return out


def pooled_corrupted(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials of every corrupted condition of data sets with more than one, as one ``corrupted (pooled)``
    cell whose items are image x condition."""
    corrupted = trials[~trials["condition"].isin(_CLEAN)]
    many = corrupted.groupby("dataset")["condition"].nunique()
    pooled = corrupted[corrupted["dataset"].isin(many[many > 1].index)].copy()
    pooled["imagename"] = pooled["imagename"].astype(str) + "|" + pooled["condition"].astype(str)
    pooled["condition"] = POOLED
    return pooled


def _texture(imagename: str) -> str:
    """Texture category of a cue-conflict image name (``airplane1-bicycle2.png`` -> ``bicycle``)."""
    stem = short_image_id(imagename).rsplit(".", 1)[0]
    return stem.split("-", 1)[1].rstrip("0123456789") if "-" in stem else ""


def shape_bias_contrast(trials: pd.DataFrame, model_a: str, model_b: str, n_boot: int = 2000,
                        seed: int = 0) -> dict | None:
    """Shape bias B - A on the cue-conflict images both judged, paired bootstrap over images.

    Shape bias = shape decisions / (shape + texture decisions), images whose shape and texture
    categories agree left out (as in model-vs-human). The p-value is the two-sided bootstrap
    p (twice the smaller tail of the resampled differences around 0).
    """
    cue = trials[trials["dataset"] == "cue-conflict"].copy()
    if cue.empty:
        return None
    cue["texture"] = cue["imagename"].map(_texture)
    cue = cue[cue["texture"] != cue["category"].astype(str)]
    cue["shape"] = (cue["object_response"] == cue["category"]).astype(float)
    cue["tex"] = (cue["object_response"] == cue["texture"]).astype(float)
    wide = cue.pivot_table(index="imagename", columns="observer", values=["shape", "tex"], aggfunc="mean")
    if (("shape", model_a) not in wide) or (("shape", model_b) not in wide):
        return None
    wide = wide.dropna()
    s_a, t_a = wide[("shape", model_a)].to_numpy(), wide[("tex", model_a)].to_numpy()
    s_b, t_b = wide[("shape", model_b)].to_numpy(), wide[("tex", model_b)].to_numpy()

    def bias(s: np.ndarray, t: np.ndarray) -> np.ndarray:
        total = s.sum(-1) + t.sum(-1)
        return np.where(total > 0, s.sum(-1) / np.maximum(total, 1e-12), np.nan)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(wide), size=(n_boot, len(wide)))
    boot = bias(s_b[idx], t_b[idx]) - bias(s_a[idx], t_a[idx])
    boot = boot[np.isfinite(boot)]
    value_a, value_b = float(bias(s_a, t_a)), float(bias(s_b, t_b))
    if not np.isfinite(value_a) or not np.isfinite(value_b) or boot.size == 0:
        return None
    p = min(1.0, 2 * min(float((boot <= 0).mean()), float((boot >= 0).mean())))
    return {"dataset": "cue-conflict", "condition": "shape bias", "n": int(len(wide)), "acc_a": value_a,
            "acc_b": value_b, "difference": value_b - value_a, "ci_low": float(np.quantile(boot, 0.025)),
            "ci_high": float(np.quantile(boot, 0.975)), "p_value": p, "test": "paired_bootstrap",
            "level": "items", "contrast_metric": "shape_bias"}


def run(store: ResultsStore, model_a: str, model_b: str, correction: str = "holm") -> pd.DataFrame:
    """Compute the per-cell contrasts of ``model_b`` vs ``model_a`` and append them to ``store``."""
    trials = store.trials(observer=[model_a, model_b])
    for name in (model_a, model_b):
        if not (trials["observer"] == name).any():
            raise ValueError(f"{store.path}: no trial rows for observer {name!r}")
    scored = trial_correctness(trials)
    table = item_contrasts_by_cell(pd.concat([scored, pooled_corrupted(scored)], ignore_index=True),
                                   model_a, model_b, method=correction)
    if table.empty:
        raise ValueError(f"{store.path}: no cell has trials from both {model_a!r} and {model_b!r}")
    table["contrast_metric"] = "accuracy"
    shape = shape_bias_contrast(scored, model_a, model_b)
    if shape is not None:
        table = pd.concat([table, pd.DataFrame([shape])], ignore_index=True)
    table["p_adjusted"] = adjust_pvalues(table["p_value"].to_numpy(), correction)
    table["correction"] = correction
    rows = contrast_rows(table, model_a, model_b)
    extra = table.set_index(["dataset", "condition"])
    for row in rows:
        rec = extra.loc[(row["dataset"], row["condition"])]
        row["contrast_metric"] = rec["contrast_metric"]
        if row["metric"] == "difference":
            row["value_a"], row["value_b"] = float(rec["acc_a"]), float(rec["acc_b"])
    store.append_metrics(rows)
    return table


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the per-cell table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, type=Path, help="results database")
    parser.add_argument("--a", required=True, help="observer A (e.g. the image model)")
    parser.add_argument("--b", required=True, help="observer B (e.g. the video model)")
    parser.add_argument("--correction", choices=("holm", "fdr_bh"), default="holm")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.results.is_file():
        print(f"error: results database not found: {args.results}", file=sys.stderr)
        return 2
    table = run(ResultsStore(args.results), args.a, args.b, args.correction)
    cols = ["dataset", "condition", "n", "acc_a", "acc_b", "difference", "ci_low", "ci_high", "p_value", "p_adjusted"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
