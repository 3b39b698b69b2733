"""Figures of the model-vs-human comparison: the shape-bias plot and the consistency-vs-accuracy scatter.

Plot functions take tables computed by :mod:`humanalign.compare.behaviour` and an optional Axes;
they never compute metrics.

Example:
    >>> per_cat = shape_bias_per_category(cue_conflict_trials)
    >>> overall = shape_bias(cue_conflict_trials)
    >>> fig = plot_shape_bias(per_cat, overall).figure
    >>> save_figure(fig, out / "shape_bias")
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from humanalign.io.trials import is_human
from humanalign.report.style import model_color, model_marker, require_columns, styled_axes

__all__ = ["plot_shape_bias", "plot_consistency_vs_accuracy", "plot_ood_accuracy"]

logger = logging.getLogger(__name__)


def _marker(observer: str) -> str:
    return "D" if observer == "humans" or is_human(observer) else model_marker(observer)


def plot_shape_bias(per_category: pd.DataFrame, overall: pd.DataFrame | None = None,
                    ax: Axes | None = None, order_by: str = "humans", individual_humans: bool = False) -> Axes:
    """Shape-bias plot: fraction of shape decisions per shape category (rows), one marker per observer.

    Args:
        per_category: Columns ``observer, category, value`` (from ``shape_bias_per_category``).
        overall: Optional columns ``observer, value`` (from ``shape_bias``); drawn as vertical lines.
        ax: Axes to draw on (default: a new 4.5 x 6 inch figure).
        order_by: Observer whose per-category values order the rows (falls back to the mean).
        individual_humans: Also draw each ``subject-XX`` (default: only the pooled ``humans``).

    Returns:
        The Axes.
    """
    require_columns(per_category, ["observer", "category", "value"], "plot_shape_bias")
    ax = styled_axes(ax, (4.5, 6))
    if not individual_humans:
        per_category = per_category[~per_category["observer"].map(is_human)]
        if overall is not None:
            overall = overall[~overall["observer"].map(is_human)]
    table = per_category.pivot(index="category", columns="observer", values="value")
    key = table[order_by] if order_by in table.columns else table.mean(axis=1)
    table = table.loc[key.sort_values(ascending=True).index]
    rows = np.arange(len(table))
    observers = [o for o in table.columns if o != "humans"] + (["humans"] if "humans" in table.columns else [])
    for obs in observers:
        ax.scatter(table[obs].to_numpy(), rows, color=model_color(obs), marker=_marker(obs),
                   label=obs, zorder=3, s=36, edgecolors="white", linewidths=0.4)
    if overall is not None:
        require_columns(overall, ["observer", "value"], "plot_shape_bias (overall)")
        for obs, value in overall.set_index("observer")["value"].items():
            if obs in table.columns:
                ax.axvline(value, color=model_color(str(obs)), linewidth=1.0, alpha=0.8)
    ax.set_yticks(rows, table.index)
    ax.set_xlim(-0.03, 1.03)  # markers at 0 and 1 (humans) stay whole
    ax.set_ylim(-0.5, len(table) - 0.5)
    ax.set_xlabel("fraction of shape decisions (shape bias)")
    ax.set_ylabel("shape category")
    secondary = ax.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
    secondary.set_xlabel("fraction of texture decisions")
    ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0))
    return ax


def plot_consistency_vs_accuracy(summary: pd.DataFrame, ax: Axes | None = None,
                                 annotate: bool = True,
                                 human_range: tuple[float, float, float, float] | None = None) -> Axes:
    """Error consistency (y) against accuracy difference to humans (x), one point per observer.

    Args:
        summary: Columns ``observer, accuracy_difference, error_consistency`` (from
            ``benchmark_summary``); optional ``*_ci_low``/``*_ci_high`` columns draw error bars.
        ax: Axes to draw on (default: a new 5 x 4 inch figure).
        annotate: Name the observers: next to their points (up to 3), else in a legend outside the axes.
        human_range: ``(x0, x1, y0, y1)`` of the human-to-human range, shaded grey.

    Returns:
        The Axes.
    """
    require_columns(summary, ["observer", "accuracy_difference", "error_consistency"], "plot_consistency_vs_accuracy")
    ax = styled_axes(ax, (5, 4))
    if human_range is not None:
        x0, x1, y0, y1 = human_range
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="0.85", edgecolor="none", zorder=0,
                               label="human range"))
    label_points = annotate and len(summary) <= 3  # more points: a legend, since names would overlap
    for row in summary.itertuples(index=False):
        obs = str(row.observer)
        x, y = float(row.accuracy_difference), float(row.error_consistency)
        if np.isnan(x) or np.isnan(y):
            continue
        xerr = yerr = None
        if "accuracy_difference_ci_low" in summary.columns:
            # percentile intervals need not contain the estimate (e.g. a squared difference): clip at 0
            xerr = np.clip([[x - row.accuracy_difference_ci_low], [row.accuracy_difference_ci_high - x]], 0, None)
            yerr = np.clip([[y - row.error_consistency_ci_low], [row.error_consistency_ci_high - y]], 0, None)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=_marker(obs), color=model_color(obs),
                    markersize=7, capsize=2, linewidth=0.8, label=obs, zorder=3)
        if label_points:
            ax.annotate(obs, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if annotate and not label_points:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("accuracy difference to humans (squared, lower = more human-like)")
    ax.set_ylabel("error consistency with humans (kappa)")
    ax.set_xlim(left=0)
    return ax


def _ordered_levels(values: pd.Series) -> tuple[list[str], bool]:
    """Distinct condition levels, numerically sorted when all are numbers (then lines may join them)."""
    levels = list(dict.fromkeys(values.fillna("").astype(str)))
    try:
        return sorted(levels, key=float), True
    except ValueError:
        return levels, False


def plot_ood_accuracy(rows: pd.DataFrame, ax: Axes | None = None, chance: float | None = None) -> Axes:
    """Accuracy per out-of-distribution data set, one marker series per observer (humans in black).

    Within a data set whose conditions are ordered numbers (e.g. contrast levels), the points of an
    observer are joined over those levels; data sets and unordered conditions are never joined.

    Args:
        rows: Columns ``model, dataset, condition, value`` and optionally ``ci_low``/``ci_high``.
        ax: Axes to draw on.
        chance: Chance accuracy, drawn as a dashed line.
    """
    require_columns(rows, ["model", "dataset", "value"], "plot_ood_accuracy")
    ax = styled_axes(ax, (5, 3))
    frame = rows.copy()
    frame["condition"] = frame["condition"] if "condition" in frame else ""
    datasets = list(dict.fromkeys(frame["dataset"].astype(str)))
    observers = [o for o in dict.fromkeys(frame["model"].astype(str)) if o != "humans"]
    observers += ["humans"] if (frame["model"] == "humans").any() else []
    ticks, labels, x0 = [], [], 0.0
    width = 0.7 / max(len(observers), 1)
    for dataset in datasets:
        sub = frame[frame["dataset"].astype(str) == dataset]
        levels, numeric = _ordered_levels(sub["condition"])
        for j, level in enumerate(levels):
            ticks.append(x0 + j)
            labels.append(dataset if len(levels) == 1 else f"{dataset}\n{level}")
        for k, obs in enumerate(observers):
            pts = sub[sub["model"].astype(str) == obs].copy()
            if pts.empty:
                continue
            pts["pos"] = [x0 + levels.index(c) + (k - (len(observers) - 1) / 2) * width
                          for c in pts["condition"].fillna("").astype(str)]
            pts = pts.sort_values("pos")
            err = None
            if {"ci_low", "ci_high"} <= set(pts.columns) and pts["ci_low"].notna().all():
                err = np.clip(np.vstack([pts["value"] - pts["ci_low"], pts["ci_high"] - pts["value"]]), 0, None)
            ax.errorbar(pts["pos"], pts["value"], yerr=err, fmt=_marker(obs), color=model_color(obs), capsize=2,
                        linestyle="-" if numeric and len(levels) > 1 else "none", markersize=5,
                        label=obs if dataset == datasets[0] else None)
        x0 += len(levels) + 0.6
    if chance is not None:
        ax.axhline(chance, color="0.4", lw=0.9, ls="--", label="chance")
    ax.set_xticks(ticks, labels)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy (16 classes)")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax
