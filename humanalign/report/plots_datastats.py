"""Plot of the synthetic progression's data-set statistics (one panel per metric, stage on x)."""

from __future__ import annotations

import logging
import re

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from humanalign.report.style import apply_style, model_color, require_columns, styled_axes

__all__ = ["plot_datastats", "plot_datastat_metric", "METRIC_LABELS"]

logger = logging.getLogger(__name__)

METRIC_LABELS = {
    "spectrum_alpha": "spectrum exponent alpha",
    "lab_symmetric_kl": "Lab colour sym. KL",
    "frame_diversity": "frame diversity (log det)",
    "fid": "FID-style distance",
    "fvd": "FVD-style distance",
}
_REQUIRED = ("dataset", "metric", "value", "model")


def _stage(dataset: str) -> int | None:
    match = re.search(r"stage(\d+)", str(dataset))
    return int(match.group(1)) if match else None


def plot_datastat_metric(frame: pd.DataFrame, metric: str, ax: Axes | None = None) -> Axes:
    """One metric across stages, one line per encoder (rows as stored by the stats CLI).

    Raises:
        ValueError: if required columns are missing or the metric has no rows.
    """
    require_columns(frame, _REQUIRED, "plot_datastat_metric (datastats rows)")
    rows = frame[frame["metric"] == metric].assign(stage=lambda d: d["dataset"].map(_stage)).dropna(subset=["stage"])
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}")
    ax = styled_axes(ax, (3.2, 2.6))
    for model, group in rows.groupby("model"):
        mean = group.groupby("stage")["value"].mean().sort_index()
        ax.plot(mean.index, mean.values, marker="o", color=model_color(str(model)), label=str(model))
    ax.set_xlabel("stage")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_xticks(sorted(rows["stage"].unique().astype(int)))
    return ax


def plot_datastats(frame: pd.DataFrame, metrics: tuple[str, ...] | None = None) -> Figure:
    """A row of panels, one per metric present in ``frame``, statistics against stage."""
    present = [m for m in (metrics or tuple(METRIC_LABELS)) if m in set(frame.get("metric", []))]
    if not present:
        raise ValueError("no known data-set statistics in the given rows")
    apply_style()
    fig, axes = plt.subplots(1, len(present), figsize=(3.0 * len(present), 2.6), squeeze=False)
    for metric, ax in zip(present, axes[0]):
        plot_datastat_metric(frame, metric, ax)
    axes[0][-1].legend(loc="best")
    fig.tight_layout()
    return fig
