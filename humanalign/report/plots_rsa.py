"""RSA figures: RDM heat maps ordered by category, layer profiles and model bars with noise-ceiling bands.

Plot functions take tables that already hold the numbers (from :mod:`humanalign.compare.rsa`) and
an optional Axes; they compute no metrics. Display transforms (percentile ranks of an RDM) are
presentation only.

Example:
    >>> apply_style()
    >>> ax = plot_layer_profile(rows, noise_ceiling=(0.372, 0.666))
    >>> save_figure(ax.figure, out / "rsa_layers")
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy.stats import rankdata

from humanalign.report.style import model_color, model_marker, require_columns

__all__ = ["plot_rdm", "plot_layer_profile", "plot_model_bars", "plot_pairwise_matrix"]

logger = logging.getLogger(__name__)

_NC_COLOR = "#BBBBBB"


def styled_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=size)
    return ax


def _nc_band(ax: Axes, noise_ceiling: tuple[float, float] | None) -> None:
    if noise_ceiling is not None:
        ax.axhspan(noise_ceiling[0], noise_ceiling[1], color=_NC_COLOR, alpha=0.5, lw=0, zorder=0,
                   label="noise ceiling")


def plot_rdm(
    rdm: pd.DataFrame,
    categories: pd.Series | None = None,
    ax: Axes | None = None,
    *,
    category_order: Sequence[str] | None = None,
    rank: bool = True,
    title: str = "",
    colorbar: bool = True,
) -> Axes:
    """Heat map of one RDM with stimuli grouped by category.

    Args:
        rdm: Square DataFrame, index and columns = stimulus ids.
        categories: Stimulus id -> category; stimuli are grouped in ``category_order`` (default:
            order of first appearance) and category boundaries are drawn.
        ax: Axes to draw on (default: a new figure).
        category_order: Category display order.
        rank: Show percentiles of the off-diagonal dissimilarities (as in Kriegeskorte et al.
            2008) instead of raw values.
        title: Axes title.
        colorbar: Add a colour bar.

    Raises:
        ValueError: if the RDM is not square with matching index and columns, or a stimulus has
            no category.
    """
    if rdm.shape[0] != rdm.shape[1] or list(rdm.index) != list(rdm.columns):
        raise ValueError(f"plot_rdm needs a square RDM with identical index and columns, got {rdm.shape}")
    ids = list(rdm.index)
    if categories is not None:
        cats = categories.reindex(ids)
        if cats.isna().any():
            raise ValueError(f"plot_rdm: no category for stimuli {list(cats[cats.isna()].index[:3])}")
        order_names = list(category_order) if category_order is not None else list(dict.fromkeys(cats))
        rank_of = {c: i for i, c in enumerate(order_names)}
        ids = sorted(ids, key=lambda s: (rank_of.get(cats[s], len(rank_of)), ids.index(s)))
    mat = rdm.loc[ids, ids].to_numpy(dtype=float)
    if rank:
        iu = np.triu_indices(len(ids), 1)
        pct = np.zeros_like(mat)
        pct[iu] = 100 * (rankdata(mat[iu]) - 1) / max(len(iu[0]) - 1, 1)
        mat = pct + pct.T
    ax = styled_axes(ax, (4.5, 4.0))
    im = ax.imshow(mat, cmap="viridis", interpolation="nearest")
    ax.grid(False)
    if categories is not None:
        labels = [categories[s] for s in ids]
        bounds = [i for i in range(1, len(ids)) if labels[i] != labels[i - 1]]
        for b in bounds:
            ax.axhline(b - 0.5, color="white", lw=0.6)
            ax.axvline(b - 0.5, color="white", lw=0.6)
        edges = [0, *bounds, len(ids)]
        centres = [(a + b - 1) / 2 for a, b in zip(edges[:-1], edges[1:])]
        names = [labels[a] for a in edges[:-1]]
        ax.set_xticks(centres, names, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(centres, names, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                           label="dissimilarity (percentile)" if rank else "dissimilarity")
    ax.set_title(title)
    return ax


def plot_layer_profile(
    df: pd.DataFrame,
    ax: Axes | None = None,
    *,
    noise_ceiling: tuple[float, float] | None = None,
    ylabel: str = "RSA (Spearman)",
    title: str = "",
) -> Axes:
    """RSA per layer, one line per model, bootstrap CI as a shaded band, noise ceiling as a grey band.

    Args:
        df: Rows with ``model``, ``layer``, ``value`` and optionally ``ci_low``/``ci_high``;
            layers are plotted in table order within each model.
        ax: Axes to draw on.
        noise_ceiling: ``(lower, upper)``.
        ylabel: Y-axis label.
        title: Axes title.
    """
    require_columns(df, ("model", "layer", "value"), "plot_layer_profile")
    ax = styled_axes(ax, (5.0, 3.2))
    _nc_band(ax, noise_ceiling)
    layers = list(dict.fromkeys(df["layer"].astype(str)))
    pos = {name: i for i, name in enumerate(layers)}
    for model, rows in df.groupby("model", sort=False):
        x = rows["layer"].astype(str).map(pos).to_numpy()
        color = model_color(str(model))
        ax.plot(x, rows["value"], color=color, marker=model_marker(str(model)), label=str(model))
        if {"ci_low", "ci_high"} <= set(rows.columns) and rows["ci_low"].notna().any():
            ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=color, alpha=0.2, lw=0)
    ax.set_xticks(range(len(layers)), layers, rotation=45 if len(layers) > 8 else 0)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


def plot_model_bars(
    df: pd.DataFrame,
    ax: Axes | None = None,
    *,
    noise_ceiling: tuple[float, float] | None = None,
    label_column: str = "model",
    ylabel: str = "RSA (Spearman)",
    title: str = "",
) -> Axes:
    """One bar per model (table order) with bootstrap CI error bars and the noise-ceiling band.

    Args:
        df: Rows with ``label_column``, ``value`` and optionally ``ci_low``/``ci_high``.
        ax: Axes to draw on.
        noise_ceiling: ``(lower, upper)``.
        label_column: Column naming the bars (colours follow ``model`` when present).
        ylabel: Y-axis label.
        title: Axes title.
    """
    require_columns(df, (label_column, "value"), "plot_model_bars")
    ax = styled_axes(ax, (max(3.0, 0.55 * len(df) + 1.5), 3.2))
    _nc_band(ax, noise_ceiling)
    x = np.arange(len(df))
    values = df["value"].to_numpy(dtype=float)
    colors = [model_color(str(m)) for m in df["model" if "model" in df.columns else label_column]]
    yerr = None
    if {"ci_low", "ci_high"} <= set(df.columns) and df["ci_low"].notna().all():
        yerr = np.vstack([values - df["ci_low"].to_numpy(float), df["ci_high"].to_numpy(float) - values])
    ax.bar(x, values, color=colors, yerr=yerr, capsize=3, error_kw={"lw": 1}, zorder=2)
    ax.set_xticks(x, df[label_column].astype(str), rotation=45, ha="right")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if noise_ceiling is not None:
        ax.legend(loc="upper right")
    return ax


def plot_pairwise_matrix(pairs: pd.DataFrame, ax: Axes | None = None, *, alpha: float = 0.05,
                         p_column: str = "p_holm", title: str = "") -> Axes:
    """Model x model matrix of RSA differences (row - column), stars where the paired test rejects.

    Args:
        pairs: Columns ``model_a``, ``model_b``, ``difference`` (a - b) and ``p_column``.
        ax: Axes to draw on.
        alpha: Significance level for the star.
        p_column: Which p-value column decides significance (e.g. Holm-adjusted).
        title: Axes title.
    """
    require_columns(pairs, ("model_a", "model_b", "difference", p_column), "plot_pairwise_matrix")
    names = list(dict.fromkeys([*pairs["model_a"].astype(str), *pairs["model_b"].astype(str)]))
    k = len(names)
    diff = np.full((k, k), np.nan)
    sig = np.zeros((k, k), dtype=bool)
    for rec in pairs.itertuples(index=False):
        i, j = names.index(str(rec.model_a)), names.index(str(rec.model_b))
        diff[i, j], diff[j, i] = rec.difference, -rec.difference
        sig[i, j] = sig[j, i] = getattr(rec, p_column) < alpha
    ax = styled_axes(ax, (0.5 * k + 2.4, 0.5 * k + 1.6))
    bound = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    im = ax.imshow(diff, cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.grid(False)
    short = [n.split(":")[0] for n in names] if len({n.split(":")[0] for n in names}) == k else names
    ax.set_xticks(range(k), short, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), short, fontsize=7)
    for i in range(k):
        for j in range(k):
            if sig[i, j]:
                ax.text(j, i, "*", ha="center", va="center", fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="RSA difference (row - column)")
    ax.set_title(title)
    return ax
