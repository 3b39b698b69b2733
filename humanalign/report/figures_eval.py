"""Report figures for probes and few-shot, scaling trends and the per-cell contrast forest plots.

Each builder takes one section's rows and returns ``[(caption, figure)]`` with a caption that says
what is plotted, the interval method and n.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.glossary import condition_label, metric_label
from humanalign.report.plots import plot_contrast_forest, plot_scaling
from humanalign.report.plots_eval import plot_accuracy_by_shots
from humanalign.report.style import ONE_COLUMN_IN, TWO_COLUMN_IN, apply_style, model_color, model_marker

__all__ = ["probe_figures", "scaling_figures", "contrast_figures"]

logger = logging.getLogger(__name__)


def _chance(rows: pd.DataFrame) -> float | None:
    return float(rows["chance"].dropna().iloc[0]) if "chance" in rows and rows["chance"].notna().any() else None


def probe_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Top-1 accuracy per model and probe with Wilson CIs and the chance line; few-shot curves when stored."""
    figs: list[tuple[str, Figure]] = []
    for dataset, grp in rows.groupby(rows["dataset"].fillna("").astype(str), sort=True):
        top1 = grp[grp["metric"] == "top1"]
        shots = top1["condition"].fillna("").astype(str).str.endswith("-shot")
        chance = _chance(grp)
        if (~shots).any():
            sub = top1[~shots].drop_duplicates(["model", "benchmark"], keep="last")
            apply_style()
            fig, ax = plt.subplots(figsize=(min(TWO_COLUMN_IN, 0.55 * len(sub) + 2.2), 2.9))
            x = np.arange(len(sub))
            err = np.clip(np.vstack([sub["value"] - sub["ci_low"], sub["ci_high"] - sub["value"]]), 0, None) \
                if sub["ci_low"].notna().all() else None
            for i, rec in enumerate(sub.itertuples(index=False)):
                ax.errorbar(i, rec.value, yerr=None if err is None else err[:, i : i + 1], fmt=model_marker(rec.model),
                            color=model_color(str(rec.model)), capsize=3, markersize=6)
            labels = [f"{m}\n({b.removeprefix('eval_')})" if sub["benchmark"].nunique() > 1 else str(m)
                      for m, b in zip(sub["model"], sub["benchmark"], strict=True)]
            ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
            if chance is not None:
                ax.axhline(chance, color="0.4", lw=0.9, ls="--", label=f"chance ({chance:.3f})")
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
            ax.set_ylim(0, 1.02)
            ax.set_xlim(-0.6, len(sub) - 0.4)
            ax.set_ylabel("top-1 accuracy")
            ax.grid(axis="x", visible=False)
            n = pd.to_numeric(sub["n"], errors="coerce").dropna()
            below = sub[sub["value"] < chance] if chance is not None else sub.iloc[:0]
            note = (f" At or below chance: {', '.join(map(str, below['model']))} (these features carry no "
                    f"usable signal for the task)." if len(below) else "")
            top5 = grp[grp["metric"] == "top5"]
            classes = round(1 / chance) if chance else None
            note += (f" Top-5 accuracy is not plotted: with {classes} classes it is 1 by construction."
                     if classes is not None and classes <= 5 and len(top5) else "")
            caption = (f"Top-1 accuracy of probes on frozen features, {dataset}; bars: 95% Wilson intervals over "
                       f"validation items (n = {int(n.max()) if len(n) else '?'}); dashed line: chance.{note}")
            figs.append((caption, fig))
        if shots.any():
            apply_style()
            fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN + 0.8, 2.9))
            plot_accuracy_by_shots(grp, ax=ax)
            if chance is not None:
                ax.axhline(chance, color="0.4", lw=0.9, ls="--", label="chance")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
            figs.append((f"Few-shot top-1 accuracy against training examples per class, {dataset}; bands: 95% "
                         f"Wilson intervals; dashed line: chance.", fig))
    return figs


def scaling_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One panel per dataset: log-linear fits per condition, bands clipped to the metric's range."""
    if "hours" not in rows:
        return []
    plot_rows = rows[rows["hours"].notna()]
    datasets = sorted(plot_rows["dataset"].dropna().astype(str).unique())
    if not datasets:
        return []
    apply_style()
    fig, axes = plt.subplots(1, len(datasets), figsize=(min(TWO_COLUMN_IN, 3.5 * len(datasets)), 3.4),
                             squeeze=False)
    entries: dict[str, object] = {}
    for ax, dataset in zip(axes[0], datasets, strict=True):
        plot_scaling(plot_rows[plot_rows["dataset"] == dataset], ax=ax)
        ax.set_title(dataset)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
        ax.get_legend().remove()
    ncol = 3 if len(datasets) > 1 else 2
    fig.legend(list(entries.values()), list(entries), loc="lower center", ncol=ncol, fontsize=7)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * -(-len(entries) // ncol), 1, 1))
    n_fit = int((plot_rows.get("role") == "fit").sum()) if "role" in plot_rows else len(plot_rows)
    caption = ("Few-shot accuracy against hours of pretraining video with log-linear fits, one colour and line "
               "style per condition; dark band: 95% CI of the mean, light band: 95% prediction interval, both "
               "clipped to 0-100 %; faded line: extrapolation; circles: fitted points, other markers: released "
               f"models held out of the fit (named in the legend); {n_fit} fitted points in all.")
    return [(caption, fig)]


def contrast_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One forest plot per contrast pair: B - A per cell with its CI and the replication level."""
    diff = rows[rows["metric"] == "difference"].copy()
    if diff.empty:
        return []
    figs = []
    for pair, grp in diff.groupby("model", sort=False):
        grp = grp.copy()
        grp["condition"] = [condition_label(c, d) for c, d in zip(grp["condition"], grp["dataset"], strict=True)]
        if "contrast_metric" in grp:
            grp["condition"] = [f"{c} ({metric_label(str(m))})" if isinstance(m, str) and m != "accuracy"
                                and metric_label(str(m)) not in c else c
                                for c, m in zip(grp["condition"], grp["contrast_metric"], strict=True)]
        apply_style()
        fig, ax = plt.subplots(figsize=(TWO_COLUMN_IN - 1.5, 0.26 * len(grp) + 1.2))
        plot_contrast_forest(grp.drop(columns=["model"]), ax=ax)
        ax.set_title(str(pair), fontsize=9)
        n = pd.to_numeric(grp["n"], errors="coerce").dropna()
        caption = (f"Contrast {pair}: difference in accuracy (shape bias where marked) per data set and condition, "
                   f"B - A; bars: 95% paired bootstrap CIs over items; level of replication in brackets; "
                   f"n = {int(n.min()) if len(n) else '?'}-{int(n.max()) if len(n) else '?'} items per cell.")
        figs.append((caption, fig))
    return figs
