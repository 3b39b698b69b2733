"""``python -m humanalign.results <command> ...``: one subcommand per module of this package.

Each command module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Adding a command is two lines: write ``humanalign/results/<name>.py`` with
those four names and add the module to :data:`COMMANDS` below.

Example:
    python -m humanalign.results export --results results/humanalign.sqlite --format csv --out metrics.csv
"""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType

from humanalign.results import export, merge

__all__ = ["COMMANDS", "main"]

COMMANDS: tuple[ModuleType, ...] = (export, merge)


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it; errors print one line and return 2."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.results", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_arguments(sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    module = next(m for m in COMMANDS if m.NAME == args.command)
    try:
        return int(module.run(args))
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
