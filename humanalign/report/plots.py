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

from humanalign.report.style import PALETTE, model_color, model_marker, styled_axes

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

    Lines join the points of a series only when the levels are numbers (ordered); categorical
    levels (corruption names, data sets) are shown as unconnected points.

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
    try:  # numeric levels are ordered and may be joined by lines; categories never are
        levels, ordered = sorted(levels, key=float), True
    except ValueError:
        ordered = False
    pos = {lvl: i for i, lvl in enumerate(levels)}
    series = list(dict.fromkeys(frame[hue].astype(str)))
    width = 0.6 / max(len(series), 1)
    for k, name in enumerate(series):
        sub = frame[frame[hue].astype(str) == name]
        xs = np.array([pos[v] for v in sub[x]]) + (k - (len(series) - 1) / 2) * width
        ax.errorbar(xs, sub["value"], yerr=_errors(sub), fmt=model_marker(name), color=model_color(name),
                    label=name, capsize=2, linestyle="-" if ordered and len(levels) > 1 else "none")
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels(levels, rotation=35 if len(levels) > 3 else 0, ha="right" if len(levels) > 3 else "center",
                       fontsize=8)
    ax.set_ylabel(str(frame["metric"].iloc[0]) if "metric" in frame else "value")
    ax.set_xlabel(x)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
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


_SERIES_STYLES = ("-", "--", "-.", ":")
_RELEASED_MARKERS = ("*", "P", "X", "D", "v", "h")


def plot_scaling(rows: pd.DataFrame, ax: Axes | None = None, x: str = "hours", series: str = "condition",
                 show_pi: bool = True, limits: tuple[float | None, float | None] | None = None) -> Axes:
    """Scaling trends: fitted mean curve with CI band (and prediction interval), observed points.

    Rows with ``metric == "fit_mean"`` (or ``fit_mean@<x>``, one natural key per curve point) are curve points (``value`` = mean, ``ci_low``/``ci_high``
    = confidence band, optional ``pi_low``/``pi_high``; the curve is dashed beyond the largest
    fitted point); other rows are observations, drawn by ``role``: ``fit`` (filled circles),
    ``heldout`` (one marker shape per released model, named in the legend), ``reference`` (open
    diamonds). Each series (e.g. 10-shot, 50-shot) has its own colour and line style; bands are
    clipped to ``limits`` (default: the metric's range from the glossary, e.g. 0-100 %).

    Args:
        rows: Rows of one dataset/metric, with an ``x`` column (e.g. hours).
        ax: Axes to draw on.
        x: Data-size column (log-scaled axis).
        series: Column that separates trends (e.g. ``condition`` = "10-shot").
        show_pi: Also shade the prediction interval.
        limits: ``(low, high)`` the bands and the y axis are clipped to.
    """
    from humanalign.report.glossary import metric_info

    ax = styled_axes(ax)
    if rows.empty or x not in rows:
        ax.text(0.5, 0.5, "no scaling rows", ha="center", va="center", transform=ax.transAxes)
        return ax
    curve_mask = rows["metric"].astype(str).str.match(r"^fit_mean(@|$)")
    obs = rows[~curve_mask & ~rows["metric"].isin(["intercept", "slope_per_decade", "slope_difference"])]
    obs = obs[~obs["metric"].astype(str).str.startswith("predicted_")]
    metric = str(obs["metric"].iloc[0]) if not obs.empty else "value"
    info = metric_info(metric)
    lo, hi = limits if limits is not None else (info.lo, info.hi)
    role = obs["role"] if "role" in obs else pd.Series("fit", index=obs.index)
    released = list(dict.fromkeys(obs.loc[role == "heldout", "model"].astype(str))) if "model" in obs else []
    for k, name in enumerate(dict.fromkeys(rows[series].astype(str))):
        color, style = PALETTE[k % len(PALETTE)], _SERIES_STYLES[k % len(_SERIES_STYLES)]
        cur = rows[curve_mask & (rows[series].astype(str) == name)].sort_values(x)
        fit_pts = obs[(obs[series].astype(str) == name) & (role == "fit")]
        if not cur.empty:
            xmax = fit_pts[x].max() if not fit_pts.empty else cur[x].max()
            inside = cur[cur[x] <= xmax]
            beyond = cur[cur[x] >= (inside[x].max() if not inside.empty else xmax)]
            ax.plot(inside[x], inside["value"], color=color, linestyle=style, label=f"{name}: fit")
            ax.plot(beyond[x], beyond["value"], color=color, linestyle=style, alpha=0.6)
            ax.fill_between(cur[x], cur["ci_low"].clip(lo, hi), cur["ci_high"].clip(lo, hi), color=color,
                            alpha=0.25, linewidth=0)
            if show_pi and "pi_low" in cur and cur["pi_low"].notna().any():
                ax.fill_between(cur[x], cur["pi_low"].clip(lo, hi), cur["pi_high"].clip(lo, hi), color=color,
                                alpha=0.08, linewidth=0)
        pts = obs[(obs[series].astype(str) == name) & (role == "fit")]
        ax.scatter(pts[x], pts["value"], marker="o", s=28, color=color, zorder=3)
        pts = obs[(obs[series].astype(str) == name) & (role == "reference")]
        if not pts.empty:
            ax.scatter(pts[x], pts["value"], marker="D", s=32, facecolors="none", edgecolors=color, zorder=3,
                       label=f"{name}: reference protocol")
        for model, grp in obs[(obs[series].astype(str) == name) & (role == "heldout")].groupby("model", sort=False):
            marker = _RELEASED_MARKERS[released.index(str(model)) % len(_RELEASED_MARKERS)]
            ax.scatter(grp[x], grp["value"], marker=marker, s=90 if marker == "*" else 45, color=color,
                       edgecolors="black", linewidths=0.6, zorder=4,
                       label=f"{name}: {str(model).removeprefix('reference:')} (held out)")
    ax.set_xscale("log")
    ax.set_xlabel("pretraining video (hours, log scale)" if x == "hours" else x)
    ax.set_ylabel(info.label)
    if lo is not None and hi is not None:
        shown = pd.concat([obs["value"], rows.loc[curve_mask, "value"]]).astype(float)
        top = min(hi, float(np.nanmax(shown)) * 1.1 + 1e-9) if len(shown) else hi
        ax.set_ylim(lo, max(top, lo + 1e-9))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=7)  # below: never over the data
    return ax
