"""``export``: a results table as CSV or Parquet, or a model's trials as model-vs-human raw-data CSVs.

* ``--format csv|parquet``: the ``metrics`` or ``trials`` table (``--table``), optionally filtered
  with ``--where column=value`` (repeatable), to the file ``--out``.
* ``--format model-vs-human``: every stored trial of the ``--model`` observer(s) as
  ``<out>/<dataset>/<dataset>_<model>_session-1.csv`` with the columns
  ``subj,session,trial,rt,object_response,category,condition,imagename`` - the layout of
  bethgelab/model-vs-human's ``raw-data/`` folder (its ``ResultPrinter`` writes the same names, with
  ``_`` in the model name replaced by ``-``), so that toolbox's plotting reads the files unchanged.
  Only the 16-class data sets of that benchmark are written (other trials have other categories).

Example:
    python -m humanalign.results export --results db.sqlite --format model-vs-human --model stmae --out raw-data
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from humanalign.io.results import ResultsStore
from humanalign.io.trials import CATEGORIES16, NA_RESPONSE, write_trials_csv

__all__ = ["NAME", "HELP", "add_arguments", "run", "export_table", "export_model_vs_human", "mvh_filename"]

logger = logging.getLogger(__name__)

NAME = "export"
HELP = "write a table as CSV/Parquet, or a model's trials as model-vs-human raw-data CSVs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``export``."""
    parser.add_argument("--results", required=True, type=Path, help="results database (SQLite)")
    parser.add_argument("--format", required=True, choices=("csv", "parquet", "model-vs-human"))
    parser.add_argument("--out", required=True, type=Path,
                        help="output file (csv/parquet) or raw-data folder (model-vs-human)")
    parser.add_argument("--table", default="metrics", choices=("metrics", "trials"), help="table to export")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                        help="keep rows whose column equals the value (repeatable)")
    parser.add_argument("--model", action="append", default=[],
                        help="observer whose trials to write (model-vs-human; repeatable; default: all models)")


def _filters(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--where needs COLUMN=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out


def export_table(store: ResultsStore, out: Path, fmt: str, table: str = "metrics", **filters: str) -> Path:
    """Write a (filtered) table as CSV or Parquet; the suffix of ``out`` is set from ``fmt``."""
    path = out if out.suffix.lower() == f".{fmt}" else out.with_suffix(f".{fmt}")
    return store.export(path, table=table, **filters)


def mvh_filename(dataset: str, model: str, session: int = 1) -> str:
    """model-vs-human's raw-data file name: ``<dataset>_<model with - for _>_session-<n>.csv``."""
    return f"{dataset}_{model.replace('_', '-')}_session-{session}.csv"


def export_model_vs_human(store: ResultsStore, out: Path, models: list[str] | None = None) -> list[Path]:
    """Write each model's 16-class trials as model-vs-human raw-data CSVs under ``out/<dataset>/``.

    Args:
        store: The results store.
        out: The ``raw-data`` folder to write into (created).
        models: Observers to export (default: every observer that is not a human subject).

    Returns:
        The written files.

    Raises:
        ValueError: when a named model has no 16-class trials.
    """
    trials = store.trials(observer=models) if models else store.trials()
    if not trials.empty:
        trials = trials[~trials["observer"].astype(str).str.startswith("subject-")]
    trials = trials[trials["category"].isin(CATEGORIES16)] if not trials.empty else trials
    for name in models or []:
        if trials.empty or not (trials["observer"] == name).any():
            raise ValueError(f"{store.path}: no 16-class trial rows for observer {name!r}")
    written = []
    for (model, dataset), grp in trials.groupby(["observer", "dataset"], sort=True):
        frame = pd.DataFrame({
            "subj": str(model), "session": 1, "trial": np.arange(1, len(grp) + 1), "rt": np.nan,
            "object_response": grp["object_response"].fillna(NA_RESPONSE).astype(str).to_numpy(),
            "category": grp["category"].astype(str).to_numpy(),
            "condition": grp["condition"].fillna("0").astype(str).to_numpy(),
            "imagename": grp["imagename"].astype(str).to_numpy(),
            "dataset": str(dataset),
        })
        frame["object_response"] = frame["object_response"].where(
            frame["object_response"].isin(CATEGORIES16), NA_RESPONSE)
        written.append(write_trials_csv(frame, out / str(dataset) / mvh_filename(str(dataset), str(model))))
    logger.info("wrote %d model-vs-human files under %s", len(written), out)
    return written


def run(args: argparse.Namespace) -> int:
    """Run ``export``; prints what was written."""
    if not args.results.is_file():
        raise FileNotFoundError(f"results database not found: {args.results}")
    store = ResultsStore(args.results)
    if args.format == "model-vs-human":
        paths = export_model_vs_human(store, args.out, args.model or None)
        for path in paths:
            print(path)
        return 0 if paths else 1
    print(export_table(store, args.out, args.format, args.table, **_filters(args.where)))
    return 0
