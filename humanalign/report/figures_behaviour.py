"""The model-vs-human figures of the report, from stored rows: shape bias per category, error consistency
vs accuracy difference, OOD accuracy per data set, observed vs error consistency.

Each builder takes the behaviour section's metric rows and returns ``[(caption, figure)]``; the
captions say what is plotted, how the intervals were made and n. Plotting is delegated to
:mod:`humanalign.report.plots_behaviour` (the functions ``experiments/alignment.py`` uses).
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.glossary import dataset_label
from humanalign.report.plots_behaviour import plot_consistency_vs_accuracy, plot_ood_accuracy, plot_shape_bias
from humanalign.report.style import ONE_COLUMN_IN, TWO_COLUMN_IN, apply_style, model_color, model_marker

__all__ = ["behaviour_figures", "shape_bias_figure", "consistency_figure", "ood_figure", "observed_figure"]

logger = logging.getLogger(__name__)

_CI = "bars: 95% bootstrap CIs over images"


def _n(rows: pd.DataFrame) -> str:
    if "n" not in rows:
        return "n not stored"
    models = pd.to_numeric(rows.loc[rows["model"] != "humans", "n"], errors="coerce").dropna()
    if not len(models):
        return "n not stored"
    if set(rows["dataset"].dropna().astype(str)) == {"all"}:
        return f"pooled over the data sets (n = {int(models.max())} as stored)"
    return f"n = {int(models.max())} images per model"


def shape_bias_figure(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Shape bias per shape category (Geirhos et al. style), humans included when stored."""
    per = rows[rows["metric"] == "shape_bias_category"]
    if per.empty:
        return []
    per_cat = per.rename(columns={"model": "observer", "condition": "category"})[["observer", "category", "value"]]
    per_cat = per_cat.drop_duplicates(["observer", "category"], keep="last")
    overall = rows[rows["metric"] == "shape_bias"].rename(columns={"model": "observer"})
    overall = overall.drop_duplicates("observer", keep="last")[["observer", "value"]] if len(overall) else None
    apply_style()
    fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN + 1.6, 4.6))
    plot_shape_bias(per_cat, overall, ax=ax)
    n_cat = per_cat["category"].nunique()
    humans = "humans (black diamonds) included" if (per_cat["observer"] == "humans").any() else "no human rows stored"
    caption = (f"Shape bias per shape category on cue-conflict images ({n_cat} categories; {humans}); vertical "
               f"lines: each observer's overall shape bias. Fractions of decisions, no intervals; "
               f"{_n(rows[rows['metric'] == 'shape_bias'])}.")
    return [(caption, fig)]


def _summary(rows: pd.DataFrame, metrics: tuple[str, str], dataset: str) -> pd.DataFrame:
    sub = rows[rows["metric"].isin(metrics) & (rows["dataset"].fillna("").astype(str) == dataset)]
    sub = sub.drop_duplicates(["model", "metric"], keep="last")
    if set(sub["metric"]) != set(metrics):
        return pd.DataFrame()
    wide = sub.pivot(index="model", columns="metric", values="value")
    for bound in ("ci_low", "ci_high"):
        wide = wide.join(sub.pivot(index="model", columns="metric", values=bound).add_suffix(f"_{bound}"))
    return wide.reset_index().rename(columns={"model": "observer"}).dropna(subset=list(metrics))


def _dataset(rows: pd.DataFrame) -> str:
    names = set(rows["dataset"].dropna().astype(str))
    return "all" if "all" in names else (sorted(names)[0] if names else "")


def consistency_figure(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Error consistency against accuracy difference, the human-to-human range shaded."""
    dataset = _dataset(rows)
    summary = _summary(rows, ("accuracy_difference", "error_consistency"), dataset)
    if summary.empty:
        return []
    humans = summary[summary["observer"] == "humans"]
    models = summary[summary["observer"] != "humans"]
    human_range = None
    if len(humans) and humans[["error_consistency_ci_low", "accuracy_difference_ci_high"]].notna().all(axis=None):
        h = humans.iloc[0]
        human_range = (0.0, float(h["accuracy_difference_ci_high"]), float(h["error_consistency_ci_low"]),
                       float(h["error_consistency_ci_high"]))
    apply_style()
    fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN + 1.0, 3.4))
    plot_consistency_vs_accuracy(models, ax=ax, human_range=human_range)
    shade = "grey box: the human-to-human range (95% CI of humans vs other humans)" if human_range else \
        "no human-to-human rows stored"
    caption = (f"Error consistency with humans against accuracy difference to humans, {dataset_label(dataset)}; one "
               f"point per model; {shade}; {_CI}; {_n(rows[rows['dataset'] == dataset])}.")
    return [(caption, fig)]


def ood_figure(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """OOD accuracy per data set over its condition levels (model-vs-human's per-data-set curves)."""
    ood = rows[(rows["metric"] == "ood_accuracy") & (rows["dataset"].fillna("") != "all")].copy()
    if ood.empty:
        return []
    chance = float(ood["chance"].dropna().iloc[0]) if "chance" in ood and ood["chance"].notna().any() else None
    apply_style()
    n_sets = ood["dataset"].nunique()
    fig, ax = plt.subplots(figsize=(min(TWO_COLUMN_IN, 1.2 * n_sets + 3.4), 3.0))
    plot_ood_accuracy(ood, ax=ax, chance=chance)
    caption = (f"16-class accuracy per out-of-distribution data set ({n_sets} sets; within a set, lines join its "
               f"ordered condition levels only); humans in black; dashed line: chance"
               f"{f' ({chance:.3f})' if chance else ''}; {_CI}; {_n(ood)}.")
    return [(caption, fig)]


def observed_figure(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Observed consistency against error consistency (kappa), one point per observer and data set."""
    dataset = _dataset(rows)
    summary = _summary(rows, ("observed_consistency", "error_consistency"), dataset)
    if summary.empty:
        return []
    apply_style()
    fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN + 1.0, 3.2))
    for rec in summary.itertuples(index=False):
        obs = str(rec.observer)
        ax.errorbar(rec.observed_consistency, rec.error_consistency,
                    xerr=np.clip([[rec.observed_consistency - rec.observed_consistency_ci_low],
                                  [rec.observed_consistency_ci_high - rec.observed_consistency]], 0, None),
                    yerr=np.clip([[rec.error_consistency - rec.error_consistency_ci_low],
                                  [rec.error_consistency_ci_high - rec.error_consistency]], 0, None),
                    fmt="D" if obs == "humans" else model_marker(obs), color=model_color(obs), capsize=2,
                    markersize=6, linewidth=0.8, label=obs)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("observed consistency (fraction)")
    ax.set_ylabel("error consistency (kappa)")
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    caption = (f"Observed consistency (fraction of trials both right or both wrong) against error consistency "
               f"(the same, corrected for the agreement the two accuracies predict), {dataset_label(dataset)}; "
               f"{_CI}; {_n(rows[rows['dataset'] == dataset])}.")
    return [(caption, fig)]


def behaviour_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """All model-vs-human figures whose rows are stored, in the order of Geirhos et al. 2021."""
    return shape_bias_figure(rows) + consistency_figure(rows) + ood_figure(rows) + observed_figure(rows)
