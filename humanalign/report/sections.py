"""Section renderers for the report: rows -> tables and figures (reshaping and plotting only).

A renderer takes the metric rows of one section and returns ``[(caption, table)]`` or
``[(caption, figure)]``. Area plot modules (``plots_rsa``, ``plots_behaviour``) are used where they
fit; other rows get the generic point-with-CI plot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.plots import plot_contrast_forest, plot_metric_points, plot_scaling
from humanalign.report.plots_behaviour import plot_consistency_vs_accuracy
from humanalign.report.plots_rsa import plot_layer_profile, plot_model_bars
from humanalign.report.style import styled_axes
from humanalign.report.tables import format_ci, format_value, metric_table

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
    """One value-with-CI table per (dataset, metric): models (x layer) by condition."""
    return [(name, metric_table(grp)) for name, grp in _groups(rows)]


def default_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One point-with-CI figure per (dataset, metric) group."""
    figs = []
    for name, grp in _groups(rows)[:MAX_FIGURES_PER_SECTION]:
        ax = styled_axes(None, (5.5, 3.4))
        plot_metric_points(grp, ax=ax)
        ax.set_title(name)
        figs.append((name, ax.figure))
    return figs


def contrast_tables(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Contrast rows as one table: difference [CI], p, adjusted p, effect size, test and level."""
    if rows.empty:
        return []
    keys = [c for c in ("model", "dataset", "condition", "test", "level") if c in rows]
    frame = rows.copy()
    for col in keys:
        frame[col] = frame[col].fillna("").astype(str)
    diff = frame[frame["metric"] == "difference"][keys + ["value", "ci_low", "ci_high", "n"]]
    table = diff.rename(columns={"value": "difference"})
    table["difference"] = [format_ci(v, lo, hi) for v, lo, hi in zip(diff["value"], diff["ci_low"], diff["ci_high"],
                                                                      strict=True)]
    table = table.drop(columns=["ci_low", "ci_high"])
    for metric in ("p_value", "p_adjusted", "effect_size"):
        vals = frame[frame["metric"] == metric].drop_duplicates(keys, keep="last").set_index(keys)["value"]
        table[metric] = [format_value(vals.get(tuple(r), None)) for r in table[keys].itertuples(index=False)]
    table["n"] = table["n"].astype("Int64").astype(str).replace("<NA>", "")
    return [("contrasts", table.reset_index(drop=True))]


def contrast_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """A forest plot of all contrast differences."""
    diff = rows[rows["metric"] == "difference"]
    if diff.empty:
        return []
    ax = styled_axes(None, (6.5, 0.35 * len(diff) + 1.2))
    plot_contrast_forest(diff, ax=ax)
    return [("contrasts", ax.figure)]


def scaling_tables(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Fitted parameters and extrapolations (curve points are left to the figure)."""
    keep = rows[~rows["metric"].isin(["fit_mean"])]
    if "role" in keep:
        keep = keep[keep["role"].isna() | keep["role"].isin(["param", "prediction", "test", "heldout"])]
    return [
        (name, metric_table(grp, index=("model", "condition"), columns=("metric",)))
        for name, grp in _groups(keep, keys=("dataset",))
    ]


def scaling_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One scaling-trend figure per dataset (needs an ``hours`` column)."""
    if "hours" not in rows:
        return default_figures(rows)
    figs = []
    plot_rows = rows[rows["hours"].notna()]
    for dataset, grp in plot_rows.groupby(plot_rows["dataset"].fillna("")):
        ax = styled_axes(None, (5.5, 3.8))
        plot_scaling(grp, ax=ax)
        ax.set_title(str(dataset))
        figs.append((str(dataset) or "scaling", ax.figure))
    return figs


def _noise_ceiling(rows: pd.DataFrame, metric: str) -> tuple[float, float] | None:
    lo = rows[rows["metric"] == f"{metric}_noise_ceiling_lower"]["value"]
    hi = rows[rows["metric"] == f"{metric}_noise_ceiling_upper"]["value"]
    return (float(lo.iloc[-1]), float(hi.iloc[-1])) if len(lo) and len(hi) else None


def rsa_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Per (dataset, condition, metric): layer profiles when models have several layers, else bars;
    noise-ceiling rows (``<metric>_noise_ceiling_lower/upper``) become the grey band."""
    figs: list[tuple[str, Figure]] = []
    main = rows[~rows["metric"].astype(str).str.contains("noise_ceiling")]
    keys = [c for c in ("dataset", "condition", "metric") if c in main]
    for key, grp in main.groupby([main[k].fillna("") for k in keys], sort=True):
        if len(figs) >= MAX_FIGURES_PER_SECTION:
            break
        parts = key if isinstance(key, tuple) else (key,)
        name = " / ".join(str(p) for p in parts if str(p))
        scope = rows
        for k, v in zip(keys[:-1], parts[:-1], strict=True):
            scope = scope[scope[k].fillna("") == v]
        ceiling = _noise_ceiling(scope, str(parts[-1]))
        ax = styled_axes(None, (5.5, 3.4))
        layered = "layer" in grp and grp.groupby("model")["layer"].nunique().max() > 1
        if layered:
            plot_layer_profile(grp, ax=ax, noise_ceiling=ceiling, title=name)
        else:
            plot_model_bars(grp.drop_duplicates("model", keep="last"), ax=ax, noise_ceiling=ceiling, title=name)
        figs.append((name, ax.figure))
    return figs


def behaviour_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Error consistency against accuracy difference (model-vs-human summary) when both metrics are
    stored, plus the generic per-metric plots."""
    figs: list[tuple[str, Figure]] = []
    need = {"accuracy_difference", "error_consistency"}
    if need <= set(rows["metric"]):
        sub = rows[rows["metric"].isin(need)].drop_duplicates(["model", "metric"], keep="last")
        wide = sub.pivot(index="model", columns="metric", values="value")
        for bound in ("ci_low", "ci_high"):
            if sub[bound].notna().all():
                extra = sub.pivot(index="model", columns="metric", values=bound)
                wide = wide.join(extra.add_suffix(f"_{bound}"))
        summary = wide.reset_index().rename(columns={"model": "observer"})
        ax = styled_axes(None, (5.5, 4.0))
        plot_consistency_vs_accuracy(summary, ax=ax)
        figs.append(("error consistency vs accuracy difference", ax.figure))
    return figs + default_figures(rows)[: MAX_FIGURES_PER_SECTION - len(figs)]
