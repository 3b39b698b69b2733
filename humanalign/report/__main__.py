"""``python -m humanalign.report --results DB --out DIR``: build the HTML + Markdown report."""

from __future__ import annotations

import argparse
import logging

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.report.builder import SECTIONS, build_report

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the written paths."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.report", description=__doc__)
    parser.add_argument("--results", required=True, help="results database (SQLite) to read")
    parser.add_argument("--out", required=True, help="output folder for index.html, report.md, figures, tables")
    parser.add_argument("--sections", nargs="*", default=None,
                        help=f"sections in order (default: all of {', '.join(SECTIONS)})")
    parser.add_argument("--title", default="humanalign report")
    parser.add_argument("--intro", default=None, help="text file whose paragraphs go under the title")
    parser.add_argument("--question", default=None, help="the study's question (default: from the contrast pairs)")
    parser.add_argument("--artifacts", default=None,
                        help="folder of experiment outputs (RDM panels, pairwise RSA tests); default: the store's")
    parser.add_argument("--browser-check", action="store_true",
                        help="open the page in headless Chromium, save screenshot.png, exit 1 on layout problems")
    add_verbose_arg(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("humanalign", "experiments"):
        logging.getLogger(name).setLevel(logging.INFO)
    return run_cli(lambda: _build(args), verbose=args.verbose)


def _build(args: argparse.Namespace) -> int:
    intro = open(args.intro, encoding="utf-8").read() if args.intro else ""
    paths = build_report(args.results, args.out, sections=args.sections, title=args.title, intro=intro)
    print(f"html: {paths['html']}")
    print(f"markdown: {paths['markdown']}")
    if args.browser_check:
        from humanalign.report.browser import main as browser_main

        return browser_main([str(paths["html"].parent)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
