"""Results store: round trip, schema checks, concurrent writers, and a writer killed mid-append.

Natural keys, identity, migration, read-only opens and merging: test_results_integrity.py, test_results_merge.py.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from humanalign.io.results import (
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    ResultsSchemaError,
    ResultsStore,
    ResultsStoreError,
    SchemaVersionError,
)

REPO = Path(__file__).resolve().parents[1]


def _rows(k: int, model: str = "vit_test_video") -> list[dict]:
    return [
        {"model": model, "checkpoint_hash": "h0", "layer": 3, "benchmark": "robustness", "dataset": "sketch", "condition": f"c{i}",
         "metric": "accuracy", "value": i / 10, "ci_low": i / 10 - 0.05, "ci_high": i / 10 + 0.05,
         "n": 100, "seed": i % 2, "config_hash": "abc"}
        for i in range(k)
    ]


def test_round_trip_filters_and_provenance(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    assert store.append_metrics(pd.DataFrame(_rows(4))) == 4
    store.append_metrics([{"model": "other", "checkpoint_hash": "h1", "benchmark": "rsa", "metric": "spearman", "value": np.float32(0.25),
                           "roi": "IT"}])
    df = store.metrics()
    assert list(df.columns[: len(METRIC_COLUMNS)]) == list(METRIC_COLUMNS)
    assert len(df) == 5 and len(store) == 5
    # Provenance filled in on every row.
    assert df[["git_revision", "package_version", "time"]].notna().all().all()
    # Types and filters: layer stored as text matches an int filter; list means "any of"; None means NULL.
    sub = store.metrics(model="vit_test_video", layer=3, seed=[1])
    assert sorted(sub["condition"]) == ["c1", "c3"]
    assert sub["value"].dtype == float and str(sub["seed"].dtype) == "Int64"
    assert store.metrics(seed=None)["model"].tolist() == ["other"]
    # Extra columns come back as columns.
    assert store.metrics(benchmark="rsa")["roi"].tolist() == ["IT"]
    assert store.metrics(benchmark="rsa")["value"].iloc[0] == pytest.approx(0.25)
    assert store.has_metrics(model="other") and not store.has_metrics(model="nobody")
    with pytest.raises(KeyError, match="unknown metrics column 'modle'"):
        store.metrics(modle="x")


def test_bad_rows_are_rejected_whole(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = _rows(3)
    rows[2]["value"] = "high"
    with pytest.raises(ResultsSchemaError, match=r"metrics row 2: column 'value' must be a number"):
        store.append_metrics(rows)
    with pytest.raises(ResultsSchemaError, match="row 0: required column 'metric'"):
        store.append_metrics([{"model": "m", "benchmark": "b", "value": 1.0}])
    assert len(store) == 0  # nothing from the failed batches


def test_trials_and_export(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    trials = pd.DataFrame({"observer": ["vit_test_video", "subject-01"], "subject": ["vit_test_video", "subject-01"],
                           "session": [1, 1], "trial": [1, 1], "rt": [np.nan, 512.0],
                           "object_response": ["cat", "dog"], "category": ["cat", "cat"],
                           "condition": ["0", "0"], "imagename": ["a.png", "a.png"], "dataset": ["sketch"] * 2})
    store.append_trials(trials)
    back = store.trials(observer="subject-01")
    assert back["object_response"].tolist() == ["dog"] and back["rt"].tolist() == [512.0]
    store.append_metrics(_rows(2))
    csv = store.export(tmp_path / "out" / "m.csv")
    assert len(pd.read_csv(csv)) == 2
    pq = store.export(tmp_path / "t.parquet", table="trials")
    assert len(pd.read_parquet(pq)) == 2
    with pytest.raises(ValueError, match="suffix"):
        store.export(tmp_path / "m.xlsx")


def test_schema_version_is_stored_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    store = ResultsStore(path)
    assert store.schema_version == SCHEMA_VERSION
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="schema version 999"):
        ResultsStore(path)


def test_a_file_that_is_not_a_database_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are notes, not an SQLite database\n" * 100)
    with pytest.raises(ResultsStoreError, match=r"^\S*notes\.sqlite: not an SQLite database$"):
        ResultsStore(path)
    with pytest.raises(ResultsStoreError, match=r"^\S*notes\.sqlite: not an SQLite database$"):
        ResultsStore(path, readonly=True)


_WRITER = textwrap.dedent(
    """
    import sys
    from humanalign.io.results import ResultsStore
    store = ResultsStore(sys.argv[1])
    tag, batches = sys.argv[2], int(sys.argv[3])
    for b in range(batches):
        rows = [{"model": tag, "checkpoint_hash": "h", "benchmark": "b", "metric": "m", "value": float(i),
                 "seed": b, "condition": f"{i:04d}" + "x" * 2000} for i in range(50)]
        store.append_metrics(rows)
        print(b, flush=True)
    """
)


def _spawn(db: Path, tag: str, batches: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(db), tag, str(batches)],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    procs = [_spawn(db, f"w{k}", 15) for k in range(3)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    df = ResultsStore(db).metrics()
    assert df.groupby("model").size().to_dict() == {"w0": 750, "w1": 750, "w2": 750}


def test_killed_writer_keeps_every_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    ResultsStore(db)
    proc = _spawn(db, "victim", 100_000)
    committed = -1
    deadline = time.monotonic() + 60
    while committed < 20 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)  # mid-way through a later append, without any cleanup
    proc.wait(timeout=30)
    proc.stdout.close()
    df = ResultsStore(db).metrics(model="victim")
    per_batch = df.groupby("seed").size()
    assert (per_batch == 50).all(), "a batch was partly written"
    assert set(range(committed + 1)) <= set(per_batch.index.astype(int))  # all reported commits survive
    assert df["value"].notna().all()
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
