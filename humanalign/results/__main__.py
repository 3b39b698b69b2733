"""``python -m humanalign.results SUBCOMMAND ...``: one subcommand per module of this package.

Each subcommand module has ``add_arguments(parser)`` and ``run(args) -> int``, and is listed in
:data:`SUBCOMMANDS` (name -> module); its docstring's first line is the subcommand's help. Errors follow
the suite's rule (:func:`humanalign.cli.run_cli`): one line ``error: FILE: problem``, exit code 2.

Example:
    python -m humanalign.results merge results/all.sqlite shards/*.sqlite
"""

from __future__ import annotations

import argparse
import logging
from types import ModuleType

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.results import merge

__all__ = ["SUBCOMMANDS", "main"]

logger = logging.getLogger(__name__)

SUBCOMMANDS: dict[str, ModuleType] = {
    "merge": merge,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it under the CLI error rule."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.results",
                                     description="Tools over results stores, one subcommand each.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for name, module in SUBCOMMANDS.items():
        doc = (module.__doc__ or name).strip()
        child = sub.add_parser(name, help=doc.splitlines()[0], description=doc,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(child)
        add_verbose_arg(child)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: SUBCOMMANDS[args.command].run(args), verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
