"""Reproduce the few-shot data-scaling trends of Orhan et al. (2024) and test them on HVM-1.

Fits ``accuracy = a + b log10(hours)`` to the 0.2/2/20/200-hour child-S series (few-shot SSv2 and
Kinetics-700, 10 and 50 shots; numbers from the authors' released finetuning logs), extrapolates
to HVM-1's 4971 hours with confidence and prediction intervals, and marks the held-out HVM-1
points (same finetuning protocol) against the extrapolation. Also tests slope differences
(50-shot vs 10-shot) and fits the saturating power law where there are enough points.

Usage:
    python experiments/scaling.py --out DIR [--accuracy last|best] [--table CSV]

Writes DIR/scaling.pdf + .png (figure), DIR/scaling_params.csv (fitted parameters with CIs),
DIR/scaling_extrapolation.csv (held-out points vs prediction) and rows into the results store (``--results``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from humanalign.cli import add_results_arg, add_verbose_arg, run_cli
from humanalign.compare.published import load_published_scaling
from humanalign.compare.scaling import (
    ACCURACY_EPOCHS,
    DEFAULT_ACCURACY_EPOCH,
    accuracy_column,
    compare_slopes,
    extrapolate,
    fit_loglinear,
    fit_power_law,
    label_accuracy_epoch,
)
from humanalign.io.results import ResultsStore
from humanalign.report.plots import plot_scaling
from humanalign.report.style import apply_style, save_figure

logger = logging.getLogger("experiments.scaling")

SERIES_MODEL = "stmae_vith14_childS"
#: The store asks every model row for a checkpoint hash; these rows come from published logs, not weights.
PUBLISHED_HASH = "published:orhan2024"
GRID = np.geomspace(0.1, 20000, 60)


def fit_series(table: pd.DataFrame, acc: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Fit every (dataset, shots) series; return store rows, parameter rows, extrapolation rows."""
    rows: list[dict] = []
    params: list[dict] = []
    extrap: list[dict] = []
    fit_rows = table[table["role"] == "fit"]
    held = table[table["role"] == "heldout"]
    for (dataset, shots), grp in fit_rows.groupby(["dataset", "shots"], sort=True):
        cond = f"{shots}-shot"
        base = {"benchmark": "scaling", "dataset": dataset, "condition": cond, "metric": "top1_acc"}
        fit = fit_loglinear(grp["hours"], grp[acc])
        for rec in grp.itertuples(index=False):
            rows.append({**base, "model": rec.model, "value": getattr(rec, acc), "hours": rec.hours, "role": "fit",
                         "source": rec.source})
        for p in fit.params.itertuples(index=False):
            name = "slope_per_decade" if p.param == "slope" else "intercept"
            params.append({"dataset": dataset, "shots": shots, "model": "log-linear", "param": name,
                           "estimate": p.estimate, "se": p.se, "ci_low": p.ci_low, "ci_high": p.ci_high,
                           "p_value": p.p_value, "n_points": fit.n})
            rows.append({**base, "model": SERIES_MODEL, "metric": name, "value": p.estimate, "ci_low": p.ci_low,
                         "ci_high": p.ci_high, "n": fit.n, "role": "param"})
        curve = fit.predict(GRID)
        for c in curve.itertuples(index=False):
            rows.append({**base, "model": SERIES_MODEL, "metric": f"fit_mean@{c.x:.6g}", "value": c.mean,
                         "ci_low": c.mean_ci_low, "ci_high": c.mean_ci_high, "pi_low": c.pi_low,
                         "pi_high": c.pi_high, "hours": c.x, "role": "curve"})
        if len(grp) >= 5:
            power = fit_power_law(grp["hours"], grp[acc], n_boot=1000)
            for p in power.params.itertuples(index=False):
                params.append({"dataset": dataset, "shots": shots, "model": "power-law", "param": p.param,
                               "estimate": p.estimate, "se": p.se, "ci_low": p.ci_low, "ci_high": p.ci_high,
                               "p_value": np.nan, "n_points": len(grp)})
        else:
            logger.info("%s %s: power law (3 parameters) skipped, only %d points", dataset, cond, len(grp))
        for rec in held[(held["dataset"] == dataset) & (held["shots"] == shots)].itertuples(index=False):
            pred = pd.Series(extrapolate(fit, rec.hours))
            observed = getattr(rec, acc)
            extrap.append({"dataset": dataset, "shots": shots, "heldout_model": rec.model, "hours": rec.hours,
                           "decades_beyond_data": pred.decades_beyond,
                           "observed": observed, "predicted": pred["mean"], "mean_ci_low": pred.mean_ci_low,
                           "mean_ci_high": pred.mean_ci_high, "pi_low": pred.pi_low, "pi_high": pred.pi_high,
                           "residual": observed - pred["mean"],
                           "inside_pi": bool(pred.pi_low <= observed <= pred.pi_high), "source": rec.source})
            rows.append({**base, "model": rec.model, "value": observed, "hours": rec.hours, "role": "heldout",
                         "source": rec.source})
            rows.append({**base, "model": SERIES_MODEL, "metric": f"predicted_top1_acc@{rec.hours:g}h",
                         "value": pred["mean"], "ci_low": pred.pi_low, "ci_high": pred.pi_high,
                         "mean_ci_low": pred.mean_ci_low, "mean_ci_high": pred.mean_ci_high,
                         "role": "prediction"})
    return rows, params, extrap


def slope_tests(table: pd.DataFrame, acc: str) -> list[dict]:
    """50-shot vs 10-shot slope difference per dataset (interaction test)."""
    fit_rows = table[table["role"] == "fit"]
    rows = []
    for dataset, grp in fit_rows.groupby("dataset", sort=True):
        ten, fifty = grp[grp["shots"] == 10], grp[grp["shots"] == 50]
        res = compare_slopes(ten["hours"], ten[acc], fifty["hours"], fifty[acc])
        rows.append({"benchmark": "scaling", "model": SERIES_MODEL, "dataset": dataset,
                     "condition": "50-shot vs 10-shot", "metric": "slope_difference", "value": res["difference"],
                     "ci_low": res["ci_low"], "ci_high": res["ci_high"], "p_value": res["p_value"],
                     "n": len(grp), "role": "test", "test": "ols_interaction"})
    return rows


def make_figure(rows: pd.DataFrame, out: Path) -> list[Path]:
    """Two panels (SSv2, Kinetics-700): trend lines with bands, held-out HVM-1 points as stars."""
    apply_style()
    datasets = sorted(rows["dataset"].unique(), reverse=True)  # ssv2, kinetics700
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.55 * len(datasets), 3.2), squeeze=False)
    titles = {"ssv2": "Something-Something V2 (few-shot)", "kinetics700": "Kinetics-700 (few-shot)"}
    for ax, dataset in zip(axes[0], datasets, strict=True):
        sub = rows[(rows["dataset"] == dataset) & rows["hours"].notna()]
        plot_scaling(sub, ax=ax)
        ax.set_title(titles.get(dataset, dataset))
        ax.set_xlabel("pretraining video (hours)")
        ax.set_ylabel("top-1 accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0]:  # the panels share their entries: one legend under both
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    paths = save_figure(fig, out / "scaling")
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Entry point: fit, write the figure, CSVs and results rows; print a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    add_results_arg(parser)
    parser.add_argument("--accuracy", choices=tuple(ACCURACY_EPOCHS), default=DEFAULT_ACCURACY_EPOCH,
                        help="finetuning epoch whose accuracy is used (default: last logged epoch; best is "
                             "selected on the evaluation split); every output row names it")
    parser.add_argument("--table", type=Path, default=None, help="published-points CSV (default: shipped table)")
    add_verbose_arg(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("humanalign", "experiments"):
        logging.getLogger(name).setLevel(logging.INFO)
    return run_cli(lambda: run(args), verbose=args.verbose)


def run(args: argparse.Namespace) -> int:
    """Fit, write the figure, CSVs and results rows; print a summary."""
    acc = accuracy_column(args.accuracy)
    table = load_published_scaling(args.table)
    args.out.mkdir(parents=True, exist_ok=True)

    rows, params, extrap = fit_series(table, acc)
    rows += slope_tests(table, acc)
    frame = label_accuracy_epoch(pd.DataFrame(rows), args.accuracy)
    figure_paths = make_figure(frame, args.out)
    params_path = args.out / "scaling_params.csv"
    label_accuracy_epoch(pd.DataFrame(params), args.accuracy).to_csv(params_path, index=False)
    extrap_path = args.out / "scaling_extrapolation.csv"
    extrap_df = label_accuracy_epoch(pd.DataFrame(extrap), args.accuracy)
    extrap_df.to_csv(extrap_path, index=False)
    store = ResultsStore(args.results)
    store.append_metrics(frame.assign(checkpoint_hash=PUBLISHED_HASH))

    print(f"figure: {', '.join(str(p) for p in figure_paths)}")
    print(f"parameters: {params_path}")
    print(f"extrapolation: {extrap_path}")
    print(f"results: {store.path} ({len(frame)} rows)")
    slopes = pd.DataFrame(params)
    slopes = slopes[slopes["param"] == "slope_per_decade"]
    for rec in slopes.itertuples(index=False):
        print(f"  {rec.dataset:12s} {rec.shots:2d}-shot: +{rec.estimate:.2f} points per decade "
              f"[{rec.ci_low:.2f}, {rec.ci_high:.2f}]")
    for rec in extrap_df.itertuples(index=False):
        print(f"  {rec.dataset:12s} {rec.shots:2d}-shot {rec.heldout_model}: observed {rec.observed:.2f}, "
              f"predicted {rec.predicted:.2f} (95% PI {rec.pi_low:.2f} to {rec.pi_high:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
