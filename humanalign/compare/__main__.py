"""Command line for comparisons: ``python -m humanalign.compare <subcommand> ...``.

Subcommands are registered in :data:`SUBCOMMANDS` (name -> function adding its parser); other
comparison families add theirs the same way.

Example:
    python -m humanalign.compare behaviour --raw-data ../shared/data/model-vs-human/raw-data --format table
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import pandas as pd

from humanalign.cli import run_cli

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

logger = logging.getLogger(__name__)


def _behaviour(args: argparse.Namespace) -> int:
    from humanalign.compare.behaviour import SUMMARY_METRICS, benchmark_summary
    from humanalign.io.trials import load_raw_data

    datasets = [d for d in args.datasets.split(",") if d] if args.datasets else None
    trials = load_raw_data(args.raw_data, datasets=datasets)
    table = benchmark_summary(trials, n_boot=args.bootstrap, seed=args.seed,
                              individual_humans=args.individual_humans)
    if not args.bootstrap:
        table = table[["observer", *SUMMARY_METRICS]]
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False, float_format=f"%.{args.digits}f")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 50):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.{args.digits}f}"))
    return 0


def _add_behaviour(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("behaviour", help="model-vs-human metrics of every observer in a raw-data folder",
                       description="Read a model-vs-human raw-data/ folder and print one row per observer "
                                   "(each model, and 'humans') under the benchmark's rules.")
    p.add_argument("--raw-data", required=True, help="model-vs-human raw-data/ folder (one sub-folder per data set)")
    p.add_argument("--datasets", default="", help="comma-separated data sets to use (default: all found)")
    p.add_argument("--format", choices=("csv", "table"), default="table")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples of images for 95%% CIs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--digits", type=int, default=3)
    p.add_argument("--individual-humans", action="store_true", help="also list each human subject")
    p.set_defaults(func=_behaviour)


#: Subcommand name -> function that adds its parser to the sub-parsers.
SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "behaviour": _add_behaviour,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m humanalign.compare`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.compare",
                                     description="Compare models with humans and brains.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors print one clear line)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: args.func(args), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
