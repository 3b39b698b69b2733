"""The RSA figures of the report: layer profiles with noise ceilings, RDM panels, pairwise model tests.

Layer profiles come from the stored ``rsa_spearman`` rows. The RDMs and the pairwise tests are not
metric rows: ``experiments/rsa.py`` writes them next to the store (``rsa_rdms.png`` drawn by
:func:`humanalign.report.plots_rsa.plot_rdm`, ``rsa_pairwise_<reference>.csv``), and the report uses
them when it finds them under its ``artifacts`` folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from humanalign.report.glossary import condition_label, readable_test
from humanalign.report.plots_rsa import plot_layer_profile, plot_model_bars, plot_pairwise_matrix
from humanalign.report.style import ONE_COLUMN_IN, TWO_COLUMN_IN, apply_style

__all__ = ["rsa_figures", "layer_figure", "rdm_figure", "pairwise_figures"]

logger = logging.getLogger(__name__)


def _ceiling(rows: pd.DataFrame, reference: str) -> tuple[float, float] | None:
    ref = rows[rows["condition"].astype(str) == reference]
    lo = ref.loc[ref["metric"] == "rsa_spearman_noise_ceiling_lower", "value"]
    hi = ref.loc[ref["metric"] == "rsa_spearman_noise_ceiling_upper", "value"]
    return (float(lo.iloc[-1]), float(hi.iloc[-1])) if len(lo) and len(hi) else None


def layer_figure(rows: pd.DataFrame) -> list[tuple[str, Figure]]:
    """One panel per reference (human IT, behaviour): RSA per layer (or per model) with CI and noise ceiling."""
    main = rows[rows["metric"] == "rsa_spearman"]
    references = list(dict.fromkeys(main["condition"].dropna().astype(str)))
    if not references:
        return []
    apply_style()
    fig, axes = plt.subplots(1, len(references), figsize=(min(TWO_COLUMN_IN, 3.5 * len(references)), 3.2),
                             squeeze=False, sharey=True)
    layered = main.groupby("model")["layer"].nunique().max() > 1 if "layer" in main else False
    for ax, reference in zip(axes[0], references, strict=True):
        sub = main[main["condition"].astype(str) == reference].drop_duplicates(["model", "layer"], keep="last")
        ceiling = _ceiling(rows, reference)
        title = f"RSA to {condition_label(reference)}"
        if layered:
            plot_layer_profile(sub, ax=ax, noise_ceiling=ceiling, title=title)
        else:
            plot_model_bars(sub.drop_duplicates("model", keep="last"), ax=ax, noise_ceiling=ceiling, title=title)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    fig.tight_layout()
    n = pd.to_numeric(main["n"], errors="coerce").dropna() if "n" in main else pd.Series(dtype=float)
    ns = ", ".join(f"{condition_label(r)}: n = {int(v)}" for r, v in
                   main.assign(n=n).dropna(subset=["n"]).groupby("condition")["n"].max().items())
    caption = (f"Spearman correlation of each model's RDM with the reference RDM of the 92-image set, "
               f"{'per layer' if layered else 'per model (one layer)'}; bands/bars: 95% bootstrap CIs; grey: "
               f"noise ceiling (lower: leave-one-subject-out, upper: all subjects); reference subjects {ns}.")
    return [(caption, fig)]


def rdm_figure(artifacts: Path | None) -> list[tuple[str, Path]]:
    """The RDM panels the RSA experiment drew (model best layer next to human IT), when present."""
    if artifacts is None or not artifacts.is_dir():
        return []
    found = sorted(artifacts.rglob("rsa_rdms.png"))
    if not found:
        return []
    caption = ("RDMs of the 92 images, stimuli grouped by category, shown as percentiles of dissimilarity "
               "(Kriegeskorte et al. 2008): the mean human IT RDM and each model's best-layer RDM; drawn by "
               f"experiments/rsa.py ({found[-1].name}); no intervals.")
    return [(caption, found[-1])]


def pairwise_figures(artifacts: Path | None) -> list[tuple[str, Figure]]:
    """Model x model matrices of the pairwise RSA tests, stars at Holm-adjusted p < 0.05."""
    if artifacts is None or not artifacts.is_dir():
        return []
    from humanalign.compare.contrasts import adjust_pvalues

    figs = []
    for path in sorted(artifacts.rglob("rsa_pairwise_*.csv")):
        table = pd.read_csv(path)
        if table.empty or not {"model_a", "model_b", "difference", "p"} <= set(table.columns):
            continue
        table["p_holm"] = adjust_pvalues(table["p"].clip(0, 1).to_numpy(), "holm")
        reference = path.stem.removeprefix("rsa_pairwise_")
        kind = readable_test(table["test"].iloc[0]) + " test" if "test" in table else "pairwise test"
        kind = kind.replace("t-test test", "t-test over subjects").replace("bootstrap test", "bootstrap test over stimuli")
        apply_style()
        k = len(set(table["model_a"]) | set(table["model_b"]))
        fig, ax = plt.subplots(figsize=(min(TWO_COLUMN_IN, ONE_COLUMN_IN + 0.25 * k), ONE_COLUMN_IN + 0.1 * k))
        plot_pairwise_matrix(table, ax=ax, title=f"RSA to {condition_label(reference)}")
        caption = (f"Pairwise comparison of models' RSA to {condition_label(reference)}: colour = difference "
                   f"(row - column); * = Holm-adjusted p < 0.05 over the {len(table)} pairs (rsatoolbox's "
                   f"{kind}, from {path.name}).")
        figs.append((caption, fig))
    return figs


def rsa_figures(rows: pd.DataFrame, artifacts: Path | None = None) -> list[tuple[str, Figure | Path]]:
    """Layer profiles, RDM panels and pairwise matrices."""
    return [*layer_figure(rows), *rdm_figure(artifacts), *pairwise_figures(artifacts)]
