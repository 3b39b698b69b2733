"""``python -m humanalign.eval {linear,attentive,fewshot,head,tsne}``: downstream evaluations from the command line.

Examples:
    python -m humanalign.eval linear --model runs/demo --train data/train --val data/val
    python -m humanalign.eval fewshot --model hvm1 --train ssv2/train.csv --val ssv2/val.csv --shots 10 \
        --clips 2 --crops 3 --epochs 30 --no-flip
    python -m humanalign.eval attentive --model vjepa-l16 --train k700/train --val k700/val --shots 50
    python -m humanalign.eval linear --model hvm1 --train imagenet/train --val imagenet/val --fraction 0.02
    python -m humanalign.eval head --model hvm1-ssv2-10shot --val ssv2/val --clips 2 --crops 3
    python -m humanalign.eval tsne --model hvm1 --val clips/ --out figures/hvm1_tsne

Results (top-1 with a Wilson interval, top-5) are appended to the results store (``--results``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from humanalign.cli import add_results_arg, add_verbose_arg, run_cli
from humanalign.eval.data import load_labelled
from humanalign.eval.run import METHODS, EvalSettings, evaluate, evaluate_head, result_rows

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m humanalign.eval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="method", required=True)
    helps = {"tsne": "t-SNE figure of features", "head": "score the fine-tuned head of a released checkpoint"}
    for method in (*METHODS, "head", "tsne"):
        p = sub.add_parser(method, help=helps.get(method, f"{method} evaluation"))
        add_verbose_arg(p)
        p.add_argument("--model", required=True, help="model spec: registry name, run folder, timm:NAME[@FILE], "
                       "torchvision:NAME[@FILE], hf:DIR, hub:DIR:ENTRY, py:FILE.py:FUNC")
        p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N")
        if method in METHODS:
            p.add_argument("--train", required=True, type=Path, help="class-folder tree or path,label CSV")
        p.add_argument("--val", required=True, type=Path, help="class-folder tree or path,label CSV")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--stride", type=int, default=4, help="frame step inside a clip")
        p.add_argument("--pool", choices=("mean", "cls"), default="mean")
        p.add_argument("--no-cache", action="store_true", help="recompute features")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        if method == "tsne":
            p.add_argument("--out", required=True, type=Path, help="figure path without suffix (PDF and PNG)")
            continue
        p.add_argument("--clips", type=int, default=1, help="test clips per video (multi-view)")
        p.add_argument("--crops", type=int, default=1, choices=(1, 3), help="test crops per clip")
        p.add_argument("--dataset", default=None, help="dataset name in the results (default: --val's name)")
        add_results_arg(p)
        p.add_argument("--no-store", action="store_true", help="print only; write nothing to the results store")
        if method == "head":
            continue
        p.add_argument("--shots", type=int, default=None, help="training items per class (default all)")
        p.add_argument("--fraction", type=float, default=None, help="fraction of every class (e.g. 0.02)")
        p.add_argument("--epochs", type=int, default=None, help="training epochs (attentive, fewshot)")
        p.add_argument("--lr", type=float, default=None, help="learning rate (attentive, fewshot)")
        p.add_argument("--batch-size", type=int, default=None)
        if method == "attentive":
            p.add_argument("--layer", type=int, default=-1, help="block whose tokens are probed")
            p.add_argument("--heads", type=int, default=None, help="probe heads (default: the encoder's)")
        if method == "linear":
            p.add_argument("--C", type=float, default=1.0, help="inverse L2 regularisation")
        if method == "fewshot":
            p.add_argument("--layer-decay", type=float, default=0.75)
            p.add_argument("--label-smoothing", type=float, default=0.1)
            p.add_argument("--no-flip", action="store_true", help="no horizontal flips (direction tasks)")
    return parser


def _settings(args: argparse.Namespace, model) -> EvalSettings:
    updates = {k: v for k, v in {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size}.items()
               if v is not None}
    settings = EvalSettings(method=args.method, shots=args.shots, fraction=args.fraction, seed=args.seed,
                            num_clips=args.clips, num_crops=args.crops, stride=args.stride, pool=args.pool,
                            cache=not args.no_cache)
    if args.method == "linear":
        settings = dataclasses.replace(settings, C=args.C)
    elif args.method == "attentive":
        heads = args.heads or int(getattr(getattr(model.module, "cfg", None), "num_heads", 4))
        settings = dataclasses.replace(settings, layer=args.layer, attentive=dataclasses.replace(
            settings.attentive, num_heads=heads, seed=args.seed, **updates))
    else:
        settings = dataclasses.replace(settings, finetune=dataclasses.replace(
            settings.finetune, layer_decay=args.layer_decay, label_smoothing=args.label_smoothing,
            flip=not args.no_flip, **updates))
    return settings


def _tsne(args: argparse.Namespace, model) -> int:
    from humanalign.eval.embedding import tsne_embedding
    from humanalign.eval.features import view_features, view_spec_for
    from humanalign.report.plots_eval import plot_embedding
    from humanalign.report.style import save_figure

    items = load_labelled(args.val)
    feats = view_features(model, items, view_spec_for(model, stride=args.stride), "pooled", args.pool,
                          use_cache=not args.no_cache, progress=not args.quiet)[:, 0]
    table = tsne_embedding(feats, items.labels, items.classes, seed=args.seed)
    ax = plot_embedding(table, title=str(args.model))
    paths = save_figure(ax.figure, args.out)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    print("wrote " + ", ".join(str(p) for p in paths) + f", {args.out.with_suffix('.csv')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; prints the scores and returns a process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: _run(args), verbose=args.verbose)


def _run(args: argparse.Namespace) -> int:
    """Load the model and run the chosen evaluation; bad input raises (reported by :func:`run_cli`)."""
    from humanalign.device import resolve_device
    from humanalign.models.observers import load_observer

    model = load_observer(args.model, device=resolve_device(args.device))
    if args.method == "tsne":
        return _tsne(args, model)
    if args.method == "head":
        settings = EvalSettings(method="head", num_clips=args.clips, num_crops=args.crops, stride=args.stride,
                                pool=args.pool, seed=args.seed)
        result = evaluate_head(model, load_labelled(args.val), settings, progress=not args.quiet)
        return _report(args, model, result)
    if args.shots is not None and args.fraction is not None:
        raise ValueError("give --shots or --fraction, not both")
    train, val = load_labelled(args.train), load_labelled(args.val)
    settings = _settings(args, model)
    result = evaluate(model, train, val, settings, progress=not args.quiet)
    return _report(args, model, result)


def _report(args: argparse.Namespace, model, result) -> int:
    """Print the scores and append them to the results store."""
    settings = result.settings
    name = model.id
    dataset = args.dataset or args.val.stem
    print(f"{args.method} {settings.protocol()} | model {name} | {dataset}: top-1 {result.top1:.4f} "
          f"[{result.top1_ci[0]:.4f}, {result.top1_ci[1]:.4f}]  top-5 {result.top5:.4f}  "
          f"(train {result.n_train}, val {result.n_val}, views {settings.num_clips}x{settings.num_crops})")
    if result.skipped:
        print(f"skipped {len(result.skipped)} unreadable file(s):")
        for path, why in result.skipped:
            print(f"  {path}: {why}")
    if not args.no_store:
        from humanalign.io.results import ResultsStore

        ResultsStore(args.results).append_metrics(result_rows(result, name, dataset))
        print(f"results appended to {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
