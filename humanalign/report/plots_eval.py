"""Plots of the downstream evaluations: clip embeddings by class, and accuracy against shots per model.

Functions take a DataFrame (never compute metrics) and an optional Axes, and return the Axes.
"""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.axes import Axes

from humanalign.report.style import PALETTE, model_color, require_columns, styled_axes

__all__ = ["plot_embedding", "plot_accuracy_by_shots"]

logger = logging.getLogger(__name__)


def plot_embedding(df: pd.DataFrame, ax: Axes | None = None, title: str | None = None,
                   legend: bool = True) -> Axes:
    """Scatter of a 2-D embedding coloured by class.

    Args:
        df: Columns ``x``, ``y``, ``label`` (as :func:`humanalign.eval.embedding.tsne_embedding` returns).
        ax: Axes to draw on (a new figure if None).
        title: Axes title.
        legend: Draw a class legend (at most 16 entries).
    """
    require_columns(df, ("x", "y", "label"), "plot_embedding (embedding table)")
    ax = styled_axes(ax, (4, 4))
    for i, (label, group) in enumerate(df.groupby("label", sort=True)):
        ax.scatter(group["x"], group["y"], s=10, color=PALETTE[i % len(PALETTE)], label=str(label), alpha=0.8,
                   linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    if title:
        ax.set_title(title)
    if legend and df["label"].nunique() <= 16:
        ax.legend(loc="best", markerscale=2, fontsize=7)
    return ax


def plot_accuracy_by_shots(df: pd.DataFrame, ax: Axes | None = None, metric: str = "top1") -> Axes:
    """Accuracy against training shots, one line per model, with interval bars when present.

    Args:
        df: Results-store metric rows with ``model``, ``condition`` (``"<k>-shot"``), ``metric``, ``value``
            and optionally ``ci_low``/``ci_high``.
        ax: Axes to draw on.
        metric: Which metric rows to plot.
    """
    rows = df[(df["metric"] == metric) & df["condition"].astype(str).str.endswith("-shot")].copy()
    if rows.empty:
        raise ValueError(f"no '<k>-shot' rows of metric {metric!r} to plot")
    rows["shots"] = rows["condition"].str.replace("-shot", "", regex=False).astype(int)
    ax = styled_axes(ax, (4, 3))
    for model, group in rows.groupby("model", sort=True):
        group = group.sort_values("shots")
        color = model_color(str(model))
        ax.plot(group["shots"], group["value"], marker="o", color=color, label=str(model))
        if {"ci_low", "ci_high"} <= set(group.columns) and group["ci_low"].notna().all():
            ax.fill_between(group["shots"], group["ci_low"], group["ci_high"], color=color, alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_xlabel("training examples per class")
    ax.set_ylabel(f"{metric} accuracy")
    ax.legend(loc="best")
    return ax
