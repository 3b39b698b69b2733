"""Score any models as observers in the model-vs-human experiments and compare them with the human trials.

Usage:
    python experiments/alignment.py --models timm:resnet18,torchvision:resnet18,RUN --sets cue-conflict,edge,silhouette \\
        [--stimuli-root ../shared/data/texture-vs-shape] [--raw-data ../shared/data/model-vs-human/raw-data] \\
        [--results DB] [--out results/alignment] [--max-stimuli N] [--bootstrap 1000] [--device auto]

Every model makes one 16-class decision per image: models with a 1000-class ImageNet classifier through
the benchmark's 1000 -> 16 mapping, all others through a 16-class logistic readout on frozen features,
cross-validated over stimuli (protocol recorded with every row). The decisions become trial rows of the
model-vs-human schema, compared with the human trials of the same images under the benchmark's rules.
Trial and metric rows (benchmark ``model-vs-human``) go to the results store; the shape-bias plot and
the error-consistency vs accuracy-difference scatter go to ``--out`` as PDF and PNG.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from humanalign.cli import add_device_args, add_results_arg, add_verbose_arg
from humanalign.eval.alignment import SETS, run_alignment, store_rows
from humanalign.eval.readout16 import ReadoutProtocol
from humanalign.io.results import ResultsStore
from humanalign.launch import add_launcher_args
from humanalign.launch.study import script_main
from humanalign.models.observers import load_observers
from humanalign.paths import shared_data_root

logger = logging.getLogger("experiments.alignment")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--models", nargs="+", required=True, help="model specs, comma- or space-separated")
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated stimulus sets (default: %(default)s)")
    p.add_argument("--stimuli-root", type=Path, default=None, help="folder holding the stimulus folders "
                   "(default: $HUMANALIGN_SHARED_DATA/texture-vs-shape)")
    p.add_argument("--raw-data", type=Path, default=shared_data_root() / "model-vs-human" / "raw-data",
                   help="model-vs-human raw-data/ folder with the human trials")
    add_results_arg(p)
    p.add_argument("--out", type=Path, default=Path("results") / "alignment", help="figure/CSV folder")
    p.add_argument("--max-stimuli", type=int, default=None, help="score at most N images per set "
                   "(spread over the categories)")
    p.add_argument("--layer", default="final", help="feature layer for the readout (default: %(default)s)")
    p.add_argument("--pooling", default="mean", choices=("mean", "cls", "project"))
    p.add_argument("--shots", type=int, default=None, help="readout training images per category and fold")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (0 = none)")
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache (default: the features default)")
    add_device_args(p)
    add_verbose_arg(p)
    add_launcher_args(p)  # --launcher local|slurm: run as a submitit job (docs/scaling-out.md)
    args = p.parse_args(argv)
    args.sets = [s for s in args.sets.split(",") if s]
    return args


def write_figures(result, out: Path) -> list[Path]:
    """Shape bias per category (humans shown) and error consistency vs accuracy difference."""
    import matplotlib.pyplot as plt

    from humanalign.report.plots_behaviour import plot_consistency_vs_accuracy, plot_shape_bias
    from humanalign.report.style import save_figure

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if not result.per_category.empty:
        ax = plot_shape_bias(result.per_category, result.shape_bias_all)
        written += save_figure(ax.figure, out / "shape_bias")
        plt.close(ax.figure)
    ax = plot_consistency_vs_accuracy(result.summary)
    written += save_figure(ax.figure, out / "consistency_vs_accuracy")
    plt.close(ax.figure)
    return written


def run(args: argparse.Namespace) -> int:
    """Score, store, plot and print the benchmark summary."""
    protocol = ReadoutProtocol(layer=args.layer, pooling=args.pooling, shots=args.shots, folds=args.folds,
                               seed=args.seed)
    store = ResultsStore(args.results)
    observers = load_observers(args.models)
    result = run_alignment(observers, args.sets, args.raw_data, args.stimuli_root, args.max_stimuli, protocol,
                           args.bootstrap, args.batch_size, args.device, args.dtype, args.cache_dir)
    new_trials, new_metrics = store_rows(store, result, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    result.summary.to_csv(args.out / "alignment_summary.csv", index=False)
    written = write_figures(result, args.out)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        cols = ["observer", "ood_accuracy", "accuracy_difference", "observed_consistency",
                "error_consistency", "shape_bias"]
        print(result.summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{len(result.rows)} metric rows ({new_metrics} new) and {len(result.trials)} trial rows "
          f"({new_trials} new) -> {args.results}")
    print("figures: " + ", ".join(str(p) for p in written))
    return 0 if np.isfinite(result.summary["ood_accuracy"]).all() else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: a submitit job under ``--launcher``, else :func:`run` under the one-line error rule."""
    return script_main(parse_args(argv), __file__, argv, run)


if __name__ == "__main__":
    raise SystemExit(main())
