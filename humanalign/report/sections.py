"""Section renderers for the report: rows -> appendix tables and figures (reshaping and plotting only).

A table renderer takes the metric rows of one section and returns ``[(caption, table)]``; a figure
renderer returns ``[(caption, figure)]`` (a figure may also be the path of a PNG an experiment drew).
The area figure builders live in ``figures_<area>.py``; generic rows get one point-with-CI plot per
(data set, metric), with categorical conditions never joined by lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.appendix import area_table, contrast_table
from humanalign.report.figures_behaviour import behaviour_figures
from humanalign.report.figures_eval import contrast_figures, probe_figures, scaling_figures
from humanalign.report.figures_robustness import robustness_figures
from humanalign.report.figures_rsa import rsa_figures
from humanalign.report.glossary import condition_label, metric_label
from humanalign.report.plots import plot_metric_points
from humanalign.report.style import styled_axes

__all__ = [
    "MAX_FIGURES_PER_SECTION",
    "default_tables",
    "default_figures",
    "contrast_tables",
    "contrast_figures",
    "scaling_tables",
    "scaling_figures",
    "rsa_figures",
    "behaviour_figures",
    "robustness_figures",
    "probe_figures",
]

logger = logging.getLogger(__name__)

MAX_FIGURES_PER_SECTION = 8


def _groups(rows: pd.DataFrame, keys: Sequence[str] = ("dataset", "metric")) -> list[tuple[str, pd.DataFrame]]:
    present = [k for k in keys if k in rows]
    out = []
    for key, grp in rows.groupby([rows[k].fillna("") for k in present], sort=True):
        parts = [str(p) for p in (key if isinstance(key, tuple) else (key,)) if str(p)]
        out.append((" / ".join(parts) or "all", grp))
    return out


def default_tables(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One table for the whole section: model (layer), data set, condition by metric."""
    table = area_table(rows)
    return [("all metrics", table)] if not table.empty else []


def default_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One point-with-CI figure per (dataset, metric) group; conditions are categories (not joined)."""
    figs = []
    for _, grp in _groups(rows)[:MAX_FIGURES_PER_SECTION]:
        grp = grp.copy()
        grp["condition"] = [condition_label(c, d) for c, d in zip(grp.get("condition", ""), grp["dataset"],
                                                                  strict=True)]
        ax = styled_axes(None, (5.5, 3.2))
        plot_metric_points(grp, ax=ax)
        metric = str(grp["metric"].iloc[0])
        ax.set_ylabel(metric_label(metric))
        ax.set_xlabel("condition")
        dataset = str(grp["dataset"].iloc[0])
        ax.set_title(f"{metric_label(metric)}, {dataset}", fontsize=9)
        caption = f"{metric_label(metric)} on {dataset} per condition; bars: stored 95% CIs where present."
        figs.append((caption, ax.figure))
    return figs


def contrast_tables(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Every contrast cell: B - A [CI], p, Holm p, test and level."""
    table = contrast_table(rows)
    return [("contrast cells", table)] if not table.empty else []


def scaling_tables(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Fitted parameters, predictions and observed points (curve points are left to the figure)."""
    table = area_table(rows)
    return [("fits and points", table)] if not table.empty else []
