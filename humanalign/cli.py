"""What every command line of the suite shares: the error rule, the device options and the results path.

The error rule: a command catches the suite's own errors (and bad-input ``ValueError``/``OSError``s) and
prints one line, ``error: FILE: problem``, to stderr with exit code 2; ``-v``/``--verbose`` shows the
traceback instead. Use it as::

    def main(argv=None) -> int:
        parser = argparse.ArgumentParser(...)
        add_device_args(parser); add_results_arg(parser); add_verbose_arg(parser)
        args = parser.parse_args(argv)
        return run_cli(lambda: _main(args), verbose=args.verbose)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from humanalign.device import DTYPES
from humanalign.paths import default_results_path

__all__ = ["run_cli", "is_user_error", "add_device_args", "add_results_arg", "add_verbose_arg", "EXIT_BAD_INPUT"]

logger = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2


def is_user_error(err: BaseException) -> bool:
    """True for errors that describe bad input rather than a bug: the suite's own types, bad values, files."""
    if type(err).__module__.split(".")[0] == "humanalign":
        return True
    try:
        import yaml

        if isinstance(err, yaml.YAMLError):
            return True
    except ImportError:  # pragma: no cover - yaml is a dependency
        pass
    return isinstance(err, (ValueError, OSError, KeyError))


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if isinstance(err, OSError) and getattr(err, "filename", None) and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    return " ".join(text.split()) or type(err).__name__


def run_cli(body: Callable[[], int | None], verbose: bool = False) -> int:
    """Run a command's body under the error rule; return its exit code (2 for bad input)."""
    try:
        code = body()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the rule is exactly this filter
        if verbose or not is_user_error(err):
            raise
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0 if code is None else int(code)


def add_device_args(parser: argparse.ArgumentParser, batch_size: int = 32) -> None:
    """``--device auto|cpu|cuda[:N]``, ``--dtype auto|fp32|bf16|fp16`` and ``--batch-size``."""
    parser.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", choices=DTYPES,
                        help="autocast dtype for model forwards (auto: bf16 on CUDA, fp32 on CPU)")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="inputs per forward pass")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for decoding and preprocessing")


def add_results_arg(parser: argparse.ArgumentParser) -> None:
    """``--results DB`` with the one default (:func:`humanalign.paths.default_results_path`)."""
    parser.add_argument("--results", default=str(default_results_path()),
                        help="results store (SQLite; default $HUMANALIGN_RESULTS or results/humanalign.sqlite)")


def add_verbose_arg(parser: argparse.ArgumentParser) -> None:
    """``-v``/``--verbose``: show tracebacks instead of one-line errors."""
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
