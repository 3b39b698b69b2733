"""Robustness figures: accuracy vs severity, model x corruption heat map, video-vs-image gap with CIs.

Every function takes a tidy DataFrame of already computed metrics and an optional Axes; none
computes a metric. Colours follow :func:`humanalign.report.style.model_color`.
"""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from humanalign.report.style import apply_style, model_color, model_marker, require_columns, styled_axes

__all__ = ["plot_accuracy_vs_severity", "plot_family_curves", "plot_corruption_heatmap", "plot_robustness_gap"]

logger = logging.getLogger(__name__)


_STYLES = ("-", "--", ":", "-.")


def plot_accuracy_vs_severity(df: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """One line per model (and per ``corruption`` when that column is present): accuracy against severity.

    Lines join the severities of one corruption only; corruptions get different line styles
    (in sorted order), so unrelated corruptions are never joined.

    Args:
        df: Columns ``model``, ``severity`` (0 = clean), ``value``; optional ``corruption`` and
            ``ci_low``/``ci_high`` (a CI band).
        ax: Axes to draw into (a new figure if None).
        title: Axes title.
    """
    require_columns(df, ("model", "severity", "value"), "plot_accuracy_vs_severity")
    ax = styled_axes(ax, (3.4, 2.6))
    keys = ["model", "corruption"] if "corruption" in df.columns else ["model"]
    corruptions = sorted(df["corruption"].astype(str).unique()) if "corruption" in df.columns else []
    for key, grp in df.groupby(keys, sort=True):
        model = key[0] if isinstance(key, tuple) else key
        style = _STYLES[corruptions.index(str(key[1])) % len(_STYLES)] if corruptions else "-"
        grp = grp.sort_values("severity")
        color = model_color(str(model))
        label = str(model) if not corruptions or str(key[1]) == corruptions[0] else None
        ax.plot(grp["severity"], grp["value"], marker=model_marker(str(model)), color=color, label=label,
                linestyle=style)
        if {"ci_low", "ci_high"} <= set(grp.columns) and grp["ci_low"].notna().any():
            ax.fill_between(grp["severity"], grp["ci_low"], grp["ci_high"], color=color, alpha=0.12, linewidth=0)
    ax.set_xlabel("severity")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(sorted(df["severity"].unique()))
    if title:
        ax.set_title(title)
    return ax


def plot_family_curves(df: pd.DataFrame) -> Figure:
    """A row of :func:`plot_accuracy_vs_severity` panels, one per corruption ``family``."""
    require_columns(df, ("family", "model", "severity", "value"), "plot_family_curves")
    apply_style()
    families = sorted(df["family"].unique())
    cols = min(3, len(families))  # rows of three stay within a two-column page (7.2 in)
    rows = -(-len(families) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.35 * cols, 2.4 * rows), sharey=True, squeeze=False)
    for ax, family in zip(axes.flat, families):
        plot_accuracy_vs_severity(df[df["family"] == family], ax=ax, title=str(family))
    for i, ax in enumerate(axes.flat):
        if i >= len(families):
            ax.set_visible(False)
        elif i % cols:
            ax.set_ylabel("")
    axes.flat[len(families) - 1].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return fig


def plot_corruption_heatmap(df: pd.DataFrame, ax: Axes | None = None, label: str = "accuracy") -> Axes:
    """Model x corruption heat map of ``value`` (one row per model, one column per corruption).

    Args:
        df: Columns ``model``, ``corruption``, ``value`` (one row per pair).
        ax: Axes to draw into.
        label: Colour-bar label.
    """
    require_columns(df, ("model", "corruption", "value"), "plot_corruption_heatmap")
    grid = df.pivot(index="model", columns="corruption", values="value")
    ax = styled_axes(ax, (0.45 * grid.shape[1] + 2.0, 0.4 * grid.shape[0] + 1.4))
    im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black")
    ax.figure.colorbar(im, ax=ax, label=label, fraction=0.03)
    ax.grid(False)
    return ax


def plot_robustness_gap(df: pd.DataFrame, ax: Axes | None = None,
                        ylabel: str = "accuracy gap (video - image)") -> Axes:
    """Bars of a paired accuracy gap per ``corruption`` with CI error bars (``ci_low``/``ci_high``).

    Args:
        df: Columns ``corruption``, ``value``, ``ci_low``, ``ci_high``; optional ``pair`` (one bar
            colour per model pair).
        ax: Axes to draw into.
        ylabel: Axis label.
    """
    require_columns(df, ("corruption", "value", "ci_low", "ci_high"), "plot_robustness_gap")
    ax = styled_axes(ax, (0.45 * df["corruption"].nunique() + 2.0, 2.8))
    pairs = list(df["pair"].unique()) if "pair" in df.columns else [None]
    names = list(dict.fromkeys(df["corruption"]))
    width = 0.8 / len(pairs)
    for k, pair in enumerate(pairs):
        sub = df if pair is None else df[df["pair"] == pair]
        sub = sub.set_index("corruption").reindex(names)
        x = np.arange(len(names)) + (k - (len(pairs) - 1) / 2) * width
        err = np.vstack([sub["value"] - sub["ci_low"], sub["ci_high"] - sub["value"]])
        ax.bar(x, sub["value"], width=width, yerr=err, capsize=2,
               color=model_color(str(pair)) if pair is not None else model_color("video"), label=pair)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_ylabel(ylabel)
    if pairs != [None]:
        ax.legend(fontsize=8)
    return ax
