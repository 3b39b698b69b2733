"""Merge shard stores into one: ``python -m humanalign.results merge OUT SHARD...``.

Each shard of a sharded evaluation writes its own store file; this unions them into OUT with the
natural keys (:data:`humanalign.io.results.NATURAL_KEYS`), so merging a shard twice adds nothing and
shards of disjoint cells give the rows one process would have written. Every shard is checked (it
exists, is SQLite, is a results store, its model rows carry a checkpoint hash) before anything is
written; then each shard is merged in one transaction (all of its rows or none).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from humanalign.cli import run_cli
from humanalign.io.results import ResultsStore, ResultsStoreError

__all__ = ["NAME", "HELP", "merge", "add_arguments", "run"]

logger = logging.getLogger(__name__)

NAME = "merge"
HELP = "union shard stores into OUT with the natural keys (idempotent, one transaction per shard)"


def merge(out: str | Path, shards: Sequence[str | Path], timeout: float = 60.0) -> dict[Path, int]:
    """Union the shard stores into ``out`` (created if missing), one transaction per shard.

    Args:
        out: Output store.
        shards: Shard stores (opened read-only; never changed).
        timeout: Seconds to wait for another writer's lock on ``out``.

    Returns:
        Shard path -> number of new rows it added (trials and metrics together).

    Raises:
        ResultsStoreError: naming the first bad shard (nothing merged then), or ``out`` when it is locked.
    """
    if not shards:
        raise ResultsStoreError("merge: no shard stores given")
    paths = [Path(s) for s in shards]
    for path in paths:  # check every shard first, so a bad one stops the merge before any write
        nameless = ResultsStore(path, timeout=timeout, readonly=True).unidentified_models()
        if nameless:
            raise ResultsStoreError(f"{path}: metric rows without a checkpoint_hash for model(s) "
                                    f"{', '.join(map(repr, nameless[:5]))}; cannot identify them")
        if Path(out).exists() and path.resolve() == Path(out).resolve():
            raise ResultsStoreError(f"{path}: is the output store itself; cannot merge a store into itself")
    store = ResultsStore(out, timeout=timeout)
    added: dict[Path, int] = {}
    for path in paths:
        added[path] = added.get(path, 0) + store.merge_from(path)
        logger.info("merged %s into %s: %d new rows", path, store.path, added[path])
    return added


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``OUT SHARD... [--timeout S]``."""
    parser.add_argument("out", type=Path, metavar="OUT", help="output results store (created if missing)")
    parser.add_argument("shards", type=Path, nargs="+", metavar="SHARD", help="shard results stores to union")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for another writer's lock on OUT (default 60)")


def run(args: argparse.Namespace) -> int:
    """Merge and print one line per shard plus the total; a bad shard or a locked OUT is one line, exit 2."""

    def body() -> int:
        added = merge(args.out, args.shards, timeout=args.timeout)
        for path, n in added.items():
            print(f"{path}: {n} new rows")
        print(f"{args.out}: {sum(added.values())} new rows from {len(added)} shard(s)")
        return 0

    return run_cli(body, verbose=getattr(args, "verbose", False))
