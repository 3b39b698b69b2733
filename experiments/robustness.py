"""Corruption robustness of any models on a labelled image or video set.

Every model is scored on clean and corrupted versions of the same items, through its classifier when
its classes index the set's classes (class folders named by head index, e.g. ImageNet indices), otherwise
through a cross-validated readout on frozen features (each item predicted by the fold model that did not
see it clean). Video sets follow the UCF101-P order: temporal perturbations act on the source video,
then clips are sampled. Per-item trials, per-cell accuracy with bootstrap CIs and the summaries (mPC,
rPC, gamma, mCE for ImageNet heads, flip rate, McNemar with Holm correction, paired video-vs-image gaps)
go to the results store; a rerun computes only the cells not stored for the model's weights and
protocol. Figures (PDF + PNG) go to ``--out``.

Usage:
    python experiments/robustness.py --models RUN1,timm:resnet18,hf:DIR,py:net.py:build --set DIR|name \
        [--corruptions all|gaussian_noise,fog] [--severities 1-5|1,3] [--results DB] [--out DIR] \
        [--device auto] [--dtype auto] [--mode coherent|dynamic] [--shots K] [--folds 5] [--frames 16]

A labelled set is an image or video folder with one sub-folder per class, a ``path,label`` CSV, or a
registered stimulus set whose table has a ``category`` column.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from humanalign.cli import add_device_args, add_results_arg, add_verbose_arg
from humanalign.eval.grid import GridSettings
from humanalign.eval.labelled import load_labelled
from humanalign.eval.robustness import parse_severities, parse_shard, resolve_corruptions, run_robustness
from humanalign.io.results import ResultsStore
from humanalign.launch import add_launcher_args
from humanalign.launch.study import script_main
from humanalign.models.observers import load_observers

logger = logging.getLogger("experiments.robustness")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True, help="model specs, comma- or space-separated "
                   "(timm:NAME[@FILE], torchvision:, hf:DIR, hub:DIR:ENTRY, py:FILE.py:FUNC, registry names, runs)")
    p.add_argument("--set", required=True, dest="set_spec", help="class folder, path,label CSV, or a set name")
    p.add_argument("--set-root", default=None, help="local copy of a registered set")
    p.add_argument("--name", default=None, help="dataset name in the results (default: the set's name)")
    p.add_argument("--corruptions", default="all")
    p.add_argument("--severities", default="1-5")
    add_results_arg(p)
    p.add_argument("--out", default=None, help="figure folder (default results/robustness/<set>)")
    add_device_args(p)
    p.add_argument("--mode", choices=("coherent", "dynamic"), default=None,
                   help="video: one draw per clip or per frame (default: each perturbation's own)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--shots", type=int, default=None, help="training items per class for the readout")
    p.add_argument("--frames", type=int, default=16, help="frames per scored clip (video sets)")
    p.add_argument("--source-frames", type=int, default=64,
                   help="frames of the source window temporal perturbations act on (video sets)")
    p.add_argument("--layer", default="final", help="feature layer the readout reads")
    p.add_argument("--imagenet-c-files", action="store_true",
                   help="images: encode corrupted images as the released ImageNet-C files (uint8, JPEG q85)")
    p.add_argument("--per-class", type=int, default=None, help="use only the first K stimuli of each class")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="score only shard I of N of the cells, no summaries (job arrays; merge, then rerun)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="feature cache (default $HUMANALIGN_CACHE/features)")
    add_verbose_arg(p)
    add_launcher_args(p)  # --launcher local|slurm: run as a submitit job (docs/scaling-out.md)
    return p.parse_args(argv)


def write_figures(summary, out: Path) -> list[Path]:
    """Accuracy-vs-severity per family, model x corruption heat map, and the video-vs-image gap."""
    import matplotlib.pyplot as plt

    from humanalign.report.plots_robustness import (
        plot_corruption_heatmap,
        plot_family_curves,
        plot_robustness_gap,
    )
    from humanalign.report.style import save_figure

    written: list[Path] = []
    if len(summary.families):
        fig = plot_family_curves(summary.families)
        written += save_figure(fig, out / "accuracy_vs_severity")
        plt.close(fig)
    for table, plot, name in ((summary.heat, plot_corruption_heatmap, "model_corruption_heatmap"),
                              (summary.gap, plot_robustness_gap, "video_vs_image_gap")):
        if len(table):
            ax = plot(table)
            written += save_figure(ax.figure, out / name)
            plt.close(ax.figure)
    return written


def run(args: argparse.Namespace) -> int:
    """Score the grid of every model, write the summaries and figures, print a summary table."""
    data = load_labelled(args.set_spec, args.frames, args.set_root, name=args.name, min_classes=2)
    if args.per_class:
        data = data.per_class(args.per_class)
    corruptions = resolve_corruptions(args.corruptions, data.is_video)
    severities = parse_severities(args.severities)
    store = ResultsStore(args.results)
    observers = load_observers(args.models)
    settings = GridSettings(seed=args.seed, mode=args.mode, folds=args.folds, shots=args.shots, frames=args.frames,
                            source_frames=args.source_frames, layer=args.layer, device=args.device,
                            dtype=args.dtype, batch_size=args.batch_size, workers=args.workers,
                            cache_dir=args.cache_dir, imagenet_c_files=args.imagenet_c_files)
    grids, summary = run_robustness(observers, data, corruptions, severities, store, settings,
                                    parse_shard(args.shard))
    out = Path(args.out) if args.out else Path("results") / "robustness" / data.name
    written = write_figures(summary, out)
    computed, skipped = sum(len(g.computed) for g in grids), sum(len(g.skipped) for g in grids)
    print(f"{computed} cells computed, {skipped} already in {args.results}")
    bad = grids[0].unreadable if grids else []
    if bad:
        print(f"{len(bad)} unreadable stimuli skipped: " + "; ".join(why for _, why in bad[:5]))
    if args.shard:
        return 0
    rows = [r for r in summary.rows if r["metric"] in ("mPC", "rPC", "mCE", "relative_mCE")]
    clean = summary.cells[summary.cells["corruption"] == "clean"][["model", "value"]]
    print("clean accuracy:\n" + clean.rename(columns={"value": "accuracy"}).to_string(index=False))
    if rows:
        import pandas as pd

        print(pd.DataFrame(rows).pivot_table(index="model", columns="metric", values="value").round(4).to_string())
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a submitit job under ``--launcher``, else :func:`run` under the one-line error rule."""
    return script_main(parse_args(argv), __file__, argv, run)


if __name__ == "__main__":
    raise SystemExit(main())
