"""Representational similarity of models (per layer) to human IT and human similarity judgements.

Usage:
    # The 8 reference model RDMs shipped with the 92-image data vs the 4 hIT subjects:
    python experiments/rsa.py --references-only --root ../shared/data/rsa92 --format csv

    # Layer-wise RSA of any models (specs: timm:, torchvision:, hf:, py:, registry names, runs) on the 92 images:
    python experiments/rsa.py --models timm:vit_small_patch16_224 vit_test_video --set rsa92 --layers blocks \\
        --root ../shared/data/rsa92 --out results/rsa [--device auto] [--results DB]

Models are evaluated against each reference (``hIT``: 4 subjects, sessions averaged; ``behaviour``:
16 subjects' judgements) as fixed RDMs: the value is the mean Spearman correlation over subjects,
the interval a bootstrap CI (by default the dual bootstrap over subjects and stimuli; rows say which),
and the band the leave-one-subject-out noise ceiling. Rows go to the results store (benchmark ``rsa``), figures
(PDF + PNG) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd
from rsatoolbox.rdm import RDMs

from humanalign.cli import add_device_args, add_results_arg, add_verbose_arg, run_cli
from humanalign.compare.rsa import COMPARISONS, evaluate, metric_rows, rdm_frame, rdm_from_features
from humanalign.config import config_hash
from humanalign.features import extract
from humanalign.launch import add_launcher_args
from humanalign.launch.study import launch_script
from humanalign.stimuli.base import load_stimulus_set
from humanalign.stimuli.rsa92 import CATEGORY_ORDER, Rsa92References, load_references

logger = logging.getLogger("experiments.rsa")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--references-only", action="store_true",
                   help="evaluate the reference model RDMs shipped with the data, no networks")
    p.add_argument("--models", nargs="+", default=[], help="model specs, comma- or space-separated (timm:NAME, "
                   "torchvision:NAME, hf:DIR, hub:DIR:ENTRY, py:FILE.py:FUNC, registry names, run folders)")
    p.add_argument("--set", default="rsa92", help="stimulus set (only rsa92 has reference RDMs)")
    p.add_argument("--root", type=Path, default=None, help="local folder of the stimulus/reference data")
    p.add_argument("--layers", default="all", help="'all', 'blocks', 'final', or comma-separated block indices, "
                   "block<i>, module names or globs (python -m humanalign list layers SPEC)")
    p.add_argument("--pooling", default="mean", choices=("mean", "cls", "project"))
    p.add_argument("--dissimilarity", default="correlation", choices=("correlation", "euclidean", "cosine"))
    p.add_argument("--method", default="spearman", choices=sorted(COMPARISONS))
    p.add_argument("--reference", default="hIT", choices=("hIT", "behaviour", "both"),
                   help="human data the models are compared with")
    p.add_argument("--bootstrap", default="auto",  # auto: dual with >= 3 subjects, else stimuli (compare/rsa.py)
                   choices=("auto", "stimuli", "subjects", "joint", "dual", "both", "none"))
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    add_device_args(p)
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache (default $HUMANALIGN_CACHE/features)")
    add_results_arg(p)
    p.add_argument("--out", type=Path, default=None, help="folder for figures and the CSV of rows")
    p.add_argument("--format", default="table", choices=("table", "csv", "json"), help="stdout format")
    add_verbose_arg(p)
    add_launcher_args(p)  # --launcher local|slurm: run as a submitit job (docs/scaling-out.md)
    args = p.parse_args(argv)
    if not args.references_only and not args.models:
        p.error("give --models ... or --references-only")
    return args


def _reference_data(refs: Rsa92References, which: str) -> dict[str, RDMs]:
    data = {"hIT": refs.hit_subjects(), "behaviour": refs.behaviour}
    return data if which == "both" else {which: data[which]}


def _emit(df: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False, float_format="%.6g")
    elif fmt == "json":
        print(df.to_json(orient="records", indent=1))
    else:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _settings(args: argparse.Namespace) -> dict:
    keys = ("set", "layers", "pooling", "dissimilarity", "method", "bootstrap", "n_boot", "seed")
    return {k: getattr(args, k) for k in keys}


def run_references(args: argparse.Namespace) -> pd.DataFrame:
    """The reference model RDMs vs each human data set; one row per model plus the noise ceiling."""
    refs = load_references(args.root)
    boot = None if args.bootstrap == "none" else args.bootstrap
    names = [str(n) for n in refs.models.rdm_descriptors["name"]]
    tables, rows = [], []
    chash = config_hash(_settings(args))
    for condition, data in _reference_data(refs, args.reference).items():
        ev = evaluate({n: refs.model(n) for n in names}, data, method=args.method, bootstrap=boot,
                      n_boot=args.n_boot, seed=args.seed)
        table = ev.table.assign(reference=condition, nc_lower=ev.noise_ceiling[0], nc_upper=ev.noise_ceiling[1])
        ceiling = {"model": "noise_ceiling", "value": float("nan"), "n": data.n_rdm, "reference": condition,
                   "nc_lower": ev.noise_ceiling[0], "nc_upper": ev.noise_ceiling[1]}
        tables.append(pd.concat([table, pd.DataFrame([ceiling])], ignore_index=True))
        rows.append(metric_rows(ev, dataset=args.set, condition=condition, config_hash=chash,
                                labels={n: {"model": f"reference:{n}"} for n in names}))
    _store(args, pd.concat(rows, ignore_index=True))
    cols = ["reference", "model", "value", "ci_low", "ci_high", "sem", "p_zero", "n", "nc_lower", "nc_upper"]
    return pd.concat(tables, ignore_index=True)[cols]


def _store(args: argparse.Namespace, rows: pd.DataFrame) -> None:
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(args.out / "rsa_rows.csv", index=False)
    if args.results:
        from humanalign.io.results import ResultsStore

        n = ResultsStore(args.results).append_metrics(rows)
        logger.info("appended %d rows to %s", n, args.results)


def run_models(args: argparse.Namespace) -> pd.DataFrame:
    """Layer-wise RSA of every model against the chosen human references; writes rows and figures."""
    from humanalign.models.observers import load_observers

    if args.set != "rsa92":
        raise ValueError(f"--set {args.set!r}: reference RDMs exist only for 'rsa92'")
    stimuli = load_stimulus_set(args.set, root=args.root)
    refs = load_references(args.root)
    references = _reference_data(refs, args.reference)
    boot = None if args.bootstrap == "none" else args.bootstrap
    chash = config_hash(_settings(args))
    model_rdms: dict[str, RDMs] = {}
    per_layer: dict[str, RDMs] = {}
    labels: dict[str, dict[str, str]] = {}
    for observer in load_observers(args.models):
        t0 = time.perf_counter()
        name = observer.id
        feats = extract(observer, stimuli, layers=args.layers, pooling=args.pooling, batch_size=args.batch_size,
                        cache_dir=args.cache_dir, device=args.device, dtype=args.dtype, workers=args.workers)
        rdms = rdm_from_features(feats, dissimilarity=args.dissimilarity)
        model_rdms[name] = rdms
        for i, layer in enumerate(feats.layers):
            per_layer[f"{name}:{layer}"] = rdms[i]
            labels[f"{name}:{layer}"] = {"model": name, "layer": layer, "checkpoint_hash": observer.weights_id}
        logger.info("%s: features and RDMs of %d layers in %.1f s", name, len(feats.layers),
                    time.perf_counter() - t0)
    # All models' layers are evaluated together, so the paired tests can compare any two of them.
    results, rows = [], []
    for condition, data in references.items():
        ev = evaluate(per_layer, data, method=args.method, bootstrap=boot, n_boot=args.n_boot, seed=args.seed)
        rows.append(metric_rows(ev, dataset=args.set, condition=condition, labels=labels, config_hash=chash))
        results.append(ev.table.assign(model=[labels[k]["model"] for k in ev.table["model"]],
                                       layer=[labels[k]["layer"] for k in ev.table["model"]],
                                       reference=condition, nc_lower=ev.noise_ceiling[0],
                                       nc_upper=ev.noise_ceiling[1]))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            ev.pairwise().to_csv(args.out / f"rsa_pairwise_{condition}.csv", index=False)
            ev.subjects.to_csv(args.out / f"rsa_subjects_{condition}.csv", index=False)
    table = pd.concat(results, ignore_index=True)
    _store(args, pd.concat(rows, ignore_index=True))
    if args.out is not None:
        _figures(args.out, table, model_rdms, refs)
    cols = ["reference", "model", "layer", "value", "ci_low", "ci_high", "n", "nc_lower", "nc_upper"]
    return table[cols]


def _figures(out: Path, table: pd.DataFrame, model_rdms: dict[str, RDMs], refs: Rsa92References) -> None:
    """RDM heat maps, layer profiles and best-layer bars (PDF + PNG)."""
    import matplotlib.pyplot as plt

    from humanalign.report.plots_rsa import plot_layer_profile, plot_model_bars, plot_rdm
    from humanalign.report.style import apply_style, save_figure

    apply_style()
    categories = refs.table.set_index("stimulus_id")["category"]
    hit = refs.hit_subjects()
    hit_mean = RDMs(hit.get_matrices().mean(axis=0)[None], pattern_descriptors=dict(hit.pattern_descriptors))
    panels = [("human IT\n(mean of 4)", rdm_frame(hit_mean))]
    for name, rdms in model_rdms.items():
        first = table[table["reference"] == table["reference"].iloc[0]]
        best = first[first["model"] == name].sort_values("value").iloc[-1]["layer"]
        layers = list(rdms.rdm_descriptors.get("layer", [best] * rdms.n_rdm))  # one layer: no descriptor
        panels.append((f"{name}\n({best})", rdm_frame(rdms, layers.index(best))))
    cols = min(3, len(panels))  # rows of three keep the figure within a two-column page (7.2 in)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 0.5, 2.6 * rows + 0.6), squeeze=False)
    for i, (ax, (title, frame)) in enumerate(zip(axes.flat, panels)):
        plot_rdm(frame, categories, ax, category_order=CATEGORY_ORDER, title=title, colorbar=False)
        ax.title.set_fontsize(8)
        if i % cols:
            ax.set_yticklabels([])
        if i < (rows - 1) * cols:  # category names on the bottom row only
            ax.set_xticklabels([])
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.colorbar(axes.flat[0].images[0], ax=list(axes.flat), fraction=0.03, pad=0.02,
                 label="dissimilarity (percentile)")
    save_figure(fig, out / "rsa_rdms")
    plt.close(fig)
    for condition, rows in table.groupby("reference", sort=False):
        nc = (float(rows["nc_lower"].iloc[0]), float(rows["nc_upper"].iloc[0]))
        ax = plot_layer_profile(rows, noise_ceiling=nc, title=f"RSA with {condition} per layer")
        save_figure(ax.figure, out / f"rsa_layers_{condition}")
        plt.close(ax.figure)
        best = rows.loc[rows.groupby("model", sort=False)["value"].idxmax()].copy()
        best["label"] = best["model"] + " (" + best["layer"] + ")"
        ax = plot_model_bars(best, noise_ceiling=nc, label_column="label",
                             title=f"best layer vs {condition} (95% bootstrap CI)")
        save_figure(ax.figure, out / f"rsa_models_{condition}")
        plt.close(ax.figure)
    logger.info("figures written to %s", out)


def _run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    table = run_references(args) if args.references_only else run_models(args)
    _emit(table, args.format)
    logger.info("done in %.1f s (%s)", time.perf_counter() - t0, json.dumps(_settings(args), default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: the suite's one-line error rule around the run."""
    args = parse_args(argv)
    if args.launcher:
        return launch_script(args, __file__, argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    for name in ("humanalign", "experiments"):
        logging.getLogger(name).setLevel(logging.INFO if args.verbose else logging.WARNING)
    return run_cli(lambda: _run(args), verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
