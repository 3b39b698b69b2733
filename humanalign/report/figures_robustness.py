"""The robustness figures of the report, from stored rows: accuracy vs severity per corruption family,
corruption summaries (mCE, relative mCE, mPC, rPC), accuracy by perturbation type, the paired gap.

Lines join severities of one corruption only (severity 0 is the clean accuracy every corruption
starts from); different corruptions are drawn with different line styles and never joined.
Plotting uses :mod:`humanalign.report.plots_robustness` (shared with ``experiments/robustness.py``).
"""

from __future__ import annotations

import logging
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.glossary import corruption_family, metric_label
from humanalign.report.plots_robustness import plot_accuracy_vs_severity, plot_robustness_gap
from humanalign.report.style import ONE_COLUMN_IN, TWO_COLUMN_IN, apply_style, model_color

__all__ = ["robustness_figures", "severity_figure", "summary_figure", "family_figure", "gap_figure",
           "severity_rows"]

logger = logging.getLogger(__name__)

_SUMMARIES = ("mCE", "relative_mCE", "mPC", "rPC")
_STYLES = ("-", "--", ":", "-.")  # the order plot_accuracy_vs_severity gives sorted corruptions


def severity_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Accuracy rows with ``corruption``, integer ``severity`` and ``family`` (clean rows: severity 0)."""
    acc = rows[rows["metric"] == "accuracy"].copy()
    if acc.empty:
        return acc
    cond = acc["condition"].fillna("").astype(str)
    parsed = cond.str.extract(r"^(?P<c>[^/]+)/(?P<s>\d+)$")
    corruption = acc["corruption"].astype(object) if "corruption" in acc else pd.Series(None, index=acc.index,
                                                                                          dtype=object)
    acc["corruption"] = corruption.fillna(parsed["c"].astype(object)).fillna(cond.where(cond == "clean"))
    severity = acc["severity"] if "severity" in acc else pd.Series(np.nan, index=acc.index)
    acc["severity"] = pd.to_numeric(severity, errors="coerce").fillna(pd.to_numeric(parsed["s"], errors="coerce"))
    acc.loc[acc["corruption"] == "clean", "severity"] = 0
    acc = acc.dropna(subset=["corruption", "severity"])
    acc["family"] = acc["corruption"].map(corruption_family)
    return acc


def _chance(rows: pd.DataFrame) -> float | None:
    return float(rows["chance"].dropna().iloc[0]) if "chance" in rows and rows["chance"].notna().any() else None


def _n(rows: pd.DataFrame) -> str:
    n = pd.to_numeric(rows["n"], errors="coerce").dropna() if "n" in rows else pd.Series(dtype=float)
    return f"n = {int(n.max())} items per cell" if len(n) else "n not stored"


def severity_figure(rows: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """Accuracy against severity, one panel per corruption family, one line per model and corruption."""
    acc = severity_rows(rows)
    if acc.empty or acc["severity"].nunique() < 2:
        return []
    clean = acc[acc["corruption"] == "clean"]
    corrupted = acc[acc["corruption"] != "clean"]
    families = sorted(corrupted["family"].unique())
    cols = min(len(families), 4)
    nrows = math.ceil(len(families) / cols)
    apply_style()
    width = TWO_COLUMN_IN if cols > 1 else ONE_COLUMN_IN + 0.5
    fig, axes = plt.subplots(nrows, cols, figsize=(width, 2.5 * nrows + 0.7), sharey=True, squeeze=False)
    chance = _chance(rows)
    for ax, family in zip(axes.flat, families, strict=False):
        fam = corrupted[corrupted["family"] == family]
        names = sorted(fam["corruption"].unique())
        curves = pd.concat([fam, *(clean.assign(corruption=c) for c in names)], ignore_index=True)
        plot_accuracy_vs_severity(curves, ax=ax, title=family)
        if len(names) > 1:  # which line style is which corruption, inside the panel
            ax.legend(handles=[plt.Line2D([], [], color="0.35", ls=_STYLES[k % 4], label=n.replace("_", " "))
                               for k, n in enumerate(names)], loc="lower left", fontsize=6, handlelength=2.2)
        if chance is not None:
            ax.axhline(chance, color="0.4", lw=0.9, ls="--")
    for ax in list(axes.flat)[len(families):]:
        ax.set_visible(False)
    for ax in axes[:, 1:].flat:
        ax.set_ylabel("")
    handles = [plt.Line2D([], [], color=model_color(m), marker="o", label=m) for m in sorted(acc["model"].unique())]
    ncol = min(len(handles), 4 if cols > 1 else 2)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=7, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.05 + 0.05 * math.ceil(len(handles) / ncol), 1, 1))
    corr = "; ".join(f"{f}: " + ", ".join(c.replace("_", " ") for c in sorted(
        corrupted.loc[corrupted["family"] == f, "corruption"].unique())) for f in families)
    caption = (f"Accuracy against corruption severity on {dataset}, one panel per family ({corr}); severity 0 is "
               f"clean accuracy; within a panel, line styles separate corruptions (legend in the panel) "
               f"and lines join severities of one corruption only; bands: 95% CIs over items; dashed line: chance"
               f"{f' ({chance:.3f})' if chance else ''}; {_n(acc)}.")
    return [(caption, fig)]


def summary_figure(rows: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """One bar panel per stored corruption summary (mCE, relative mCE, mPC, rPC), one bar per model."""
    present = [m for m in _SUMMARIES if (rows["metric"] == m).any()]
    if not present:
        return []
    apply_style()
    fig, axes = plt.subplots(1, len(present), figsize=(min(TWO_COLUMN_IN, 1.9 * len(present) + 0.6), 2.9),
                             squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        sub = rows[rows["metric"] == metric].drop_duplicates("model", keep="last").sort_values("model")
        x = np.arange(len(sub))
        ax.bar(x, sub["value"], color=[model_color(str(m)) for m in sub["model"]], zorder=2)
        ax.set_xticks(x, sub["model"].astype(str), rotation=40, ha="right", fontsize=7)
        ax.set_title(textwrap.fill(metric_label(metric), 18), fontsize=8)
        ax.grid(axis="x", visible=False)
        if metric in ("mCE", "relative_mCE"):
            ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
    fig.tight_layout()
    caption = (f"Corruption summaries on {dataset} over all corruptions and severities: "
               f"{', '.join(metric_label(m) for m in present)}; point estimates (no intervals stored); "
               f"{'dashed line at 1: AlexNet; ' if {'mCE', 'relative_mCE'} & set(present) else ''}"
               f"{_n(rows[rows['metric'].isin(present)])}.")
    return [(caption, fig)]


def family_figure(rows: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """Mean stored accuracy per perturbation type (family), grouped bars per model (video sets)."""
    acc = severity_rows(rows)
    corrupted = acc[acc["corruption"] != "clean"]
    if corrupted.empty:
        return []
    means = corrupted.groupby(["family", "model"])["value"].mean().unstack("model")
    clean = acc[acc["corruption"] == "clean"].groupby("model")["value"].mean()
    table = pd.concat([clean.rename("clean").to_frame().T, means]) if len(clean) else means
    apply_style()
    fig, ax = plt.subplots(figsize=(min(TWO_COLUMN_IN, 0.9 * len(table) + 2.6), 2.8))
    models = list(table.columns)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(table))
    for k, model in enumerate(models):
        ax.bar(x + (k - (len(models) - 1) / 2) * width, table[model], width=width, color=model_color(str(model)),
               label=str(model), zorder=2)
    chance = _chance(rows)
    if chance is not None:
        ax.axhline(chance, color="0.4", lw=0.9, ls="--", label="chance")
    ax.set_xticks(x, table.index)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    caption = (f"Accuracy on {dataset} by perturbation type: the mean of the stored per-cell accuracies over the "
               f"corruptions and severities of each type (noise, blur, weather, digital, camera, temporal, "
               f"compression, as present), clean first; no intervals (cells share items); {_n(acc)}.")
    return [(caption, fig)]


def gap_figure(rows: pd.DataFrame, dataset: str) -> list[tuple[str, Figure]]:
    """Paired accuracy gap (video - image) per corruption with bootstrap CIs."""
    gap = rows[rows["metric"] == "accuracy_gap_video_minus_image"].copy()
    if gap.empty or gap["ci_low"].isna().any():
        return []
    gap["corruption"] = gap["condition"].astype(str).str.split("/").str[0].str.replace("_", " ")
    gap["pair"] = gap["model"].astype(str)
    apply_style()
    fig, ax = plt.subplots(figsize=(min(TWO_COLUMN_IN, 0.5 * gap["corruption"].nunique() * gap["pair"].nunique()
                                        + 3.2), 2.8))
    plot_robustness_gap(gap, ax=ax)
    if ax.get_legend() is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    caption = (f"Paired accuracy gap (video model - image model) on {dataset} per corruption, over its "
               f"severities; bars: 95% paired bootstrap CIs over items; {_n(gap)}.")
    return [(caption, fig)]


def robustness_figures(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """Every robustness figure whose rows are stored, per data set."""
    figs: list[tuple[str, Figure]] = []
    for dataset, grp in rows.groupby(rows["dataset"].fillna("").astype(str), sort=True):
        made = severity_figure(grp, dataset) + summary_figure(grp, dataset) + family_figure(grp, dataset)
        made += gap_figure(grp, dataset)
        if not made:  # rows without corruption/severity structure: one point plot per metric
            from humanalign.report.sections import default_figures

            made = default_figures(grp)
        figs += made
    return figs
