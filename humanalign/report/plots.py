"""Generic report plots. Each takes a DataFrame of stored rows and an optional Axes; none computes metrics.

Area-specific plots live in ``plots_<area>.py`` next to this module and follow the same contract.

Example:
    >>> fig, ax = plt.subplots()
    >>> plot_metric_points(store.metrics(benchmark="robustness", dataset="sketch"), ax=ax)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from humanalign.report.style import model_color, model_marker, styled_axes

__all__ = ["plot_metric_points", "plot_contrast_forest", "plot_scaling"]

logger = logging.getLogger(__name__)


def _errors(frame: pd.DataFrame) -> np.ndarray | None:
    if "ci_low" not in frame or frame["ci_low"].isna().all():
        return None
    lo = (frame["value"] - frame["ci_low"]).clip(lower=0).fillna(0)
    hi = (frame["ci_high"] - frame["value"]).clip(lower=0).fillna(0)
    return np.vstack([lo.to_numpy(), hi.to_numpy()])  # [2, K]


def plot_metric_points(rows: pd.DataFrame, ax: Axes | None = None, x: str = "condition",
                       hue: str = "model") -> Axes:
    """Metric value (with CI bars) per ``x`` level, one coloured series per ``hue`` (e.g. model).

    Args:
        rows: Metric rows of one benchmark/dataset/metric.
        ax: Axes to draw on (a new figure when None).
        x: Column on the x axis (categorical, in first-seen order).
        hue: Column that defines the series.
    """
    ax = styled_axes(ax)
    if rows.empty:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
        return ax
    frame = rows.copy()
    frame[x] = frame[x].fillna("").astype(str) if x in frame else ""
    levels = list(dict.fromkeys(frame[x]))
    pos = {lvl: i for i, lvl in enumerate(levels)}
    series = list(dict.fromkeys(frame[hue].astype(str)))
    width = 0.6 / max(len(series), 1)
    for k, name in enumerate(series):
        sub = frame[frame[hue].astype(str) == name]
        xs = np.array([pos[v] for v in sub[x]]) + (k - (len(series) - 1) / 2) * width
        ax.errorbar(xs, sub["value"], yerr=_errors(sub), fmt=model_marker(name), color=model_color(name),
                    label=name, capsize=2, linestyle="-" if len(levels) > 1 else "none")
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels(levels, rotation=30 if len(levels) > 4 else 0, ha="right" if len(levels) > 4 else "center")
    ax.set_ylabel(str(frame["metric"].iloc[0]) if "metric" in frame else "value")
    ax.set_xlabel(x)
    if len(series) > 1:
        ax.legend(loc="best")
    return ax


def plot_contrast_forest(rows: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Forest plot of contrast differences with CIs, one line per cell; labels show the test level.

    Args:
        rows: Contrast rows with ``metric == "difference"`` (others are ignored); optional
            ``test``/``level`` columns are shown in the labels.
    """
    ax = styled_axes(ax, size=(5.5, 0.35 * max(len(rows), 4) + 1))
    diff = rows[rows["metric"] == "difference"] if "metric" in rows else rows
    if diff.empty:
        ax.text(0.5, 0.5, "no contrast rows", ha="center", va="center", transform=ax.transAxes)
        return ax
    labels = []
    for rec in diff.itertuples(index=False):
        parts = [str(getattr(rec, c)) for c in ("model", "dataset", "condition") if getattr(rec, c, None)]
        level = getattr(rec, "level", None)
        labels.append(" | ".join(parts) + (f"  ({level})" if isinstance(level, str) and level else ""))
    ys = np.arange(len(diff))[::-1]
    ax.errorbar(diff["value"], ys, xerr=_errors(diff), fmt="o", color=model_color("video"), capsize=2)
    ax.axvline(0.0, color="0.3", linewidth=1, linestyle="--")
    ax.set_yticks(ys)
    ax.set_yticklabels(labels)
    ax.set_xlabel("difference (B - A) with 95% CI")
    ax.grid(axis="y", visible=False)
    return ax


def plot_scaling(rows: pd.DataFrame, ax: Axes | None = None, x: str = "hours", series: str = "condition",
                 show_pi: bool = True) -> Axes:
    """Scaling trends: fitted mean curve with CI band (and prediction interval), observed points.

    Rows with ``metric == "fit_mean"`` are curve points (``value`` = mean, ``ci_low``/``ci_high``
    = confidence band, optional ``pi_low``/``pi_high``; the curve is dashed beyond the largest
    fitted point); other rows are observations, drawn by ``role``: ``fit`` (filled circles),
    ``heldout`` (stars), ``reference`` (open diamonds).

    Args:
        rows: Rows of one dataset/metric, with an ``x`` column (e.g. hours).
        ax: Axes to draw on.
        x: Data-size column (log-scaled axis).
        series: Column that separates trends (e.g. ``condition`` = "10-shot").
        show_pi: Also shade the prediction interval.
    """
    ax = styled_axes(ax)
    if rows.empty or x not in rows:
        ax.text(0.5, 0.5, "no scaling rows", ha="center", va="center", transform=ax.transAxes)
        return ax
    curve_mask = rows["metric"] == "fit_mean"
    obs = rows[~curve_mask]
    role = obs["role"] if "role" in obs else pd.Series("fit", index=obs.index)
    for name in dict.fromkeys(rows[series].astype(str)):
        color = model_color(name)
        cur = rows[curve_mask & (rows[series].astype(str) == name)].sort_values(x)
        fit_pts = obs[(obs[series].astype(str) == name) & (role == "fit")]
        if not cur.empty:
            xmax = fit_pts[x].max() if not fit_pts.empty else cur[x].max()
            inside, beyond = cur[cur[x] <= xmax], cur[cur[x] >= xmax]
            ax.plot(inside[x], inside["value"], color=color, label=f"{name} fit")
            ax.plot(beyond[x], beyond["value"], color=color, linestyle="--")
            ax.fill_between(cur[x], cur["ci_low"], cur["ci_high"], color=color, alpha=0.25, linewidth=0)
            if show_pi and "pi_low" in cur and cur["pi_low"].notna().any():
                ax.fill_between(cur[x], cur["pi_low"], cur["pi_high"], color=color, alpha=0.1, linewidth=0)
        for kind, marker, face, size in (("fit", "o", color, 30), ("heldout", "*", color, 140),
                                         ("reference", "D", "none", 36)):
            pts = obs[(obs[series].astype(str) == name) & (role == kind)]
            if not pts.empty:
                ax.scatter(pts[x], pts["value"], marker=marker, s=size, facecolors=face, edgecolors=color
                           if kind != "heldout" else "black", linewidths=0.8, zorder=3,
                           label=f"{name} {kind}" if kind != "fit" else None)
                if kind == "heldout" and "model" in pts:
                    for px, py, label in zip(pts[x], pts["value"], pts["model"].astype(str), strict=True):
                        ax.annotate(label, (px, py), xytext=(5, -2), textcoords="offset points", fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(str(obs["metric"].iloc[0]) if not obs.empty else "value")
    ax.legend(loc="upper left", fontsize=7)
    return ax
