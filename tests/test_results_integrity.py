"""Results store integrity: identity rule, natural keys, one-transaction cells, migration, locks and faults.

The fault tests use real processes: writers appending the same rows at once, and a writer killed with
SIGKILL at seeded random points of a grid loop, then rerun to fill only the missing cells.
"""

from __future__ import annotations

import logging
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from humanalign.io.results import (
    METRIC_KEY,
    SCHEMA_VERSION,
    TRIAL_KEY,
    Appended,
    ResultsSchemaError,
    ResultsStore,
    ResultsStoreError,
    needs_checkpoint_hash,
)

REPO = Path(__file__).resolve().parents[1]

# The version-1 schema exactly as the version-1 code created it (no natural key).
_V1_COLUMNS = {
    "metrics": '"model" TEXT, "checkpoint_hash" TEXT, "layer" TEXT, "benchmark" TEXT, "dataset" TEXT, '
               '"condition" TEXT, "metric" TEXT, "value" REAL, "ci_low" REAL, "ci_high" REAL, "n" INTEGER, '
               '"seed" INTEGER, "config_hash" TEXT',
    "trials": '"observer" TEXT, "checkpoint_hash" TEXT, "benchmark" TEXT, "dataset" TEXT, "subject" TEXT, '
              '"session" TEXT, "trial" INTEGER, "rt" REAL, "object_response" TEXT, "category" TEXT, '
              '"condition" TEXT, "imagename" TEXT, "seed" INTEGER, "config_hash" TEXT',
}


def make_v1(path: Path, metrics: list[dict], trials: list[dict]) -> None:
    """A version-1 database written with the old CREATE TABLE statements (duplicates allowed)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for table, cols in _V1_COLUMNS.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (row_id INTEGER PRIMARY KEY AUTOINCREMENT, {cols}, "
                    f'"git_revision" TEXT, "package_version" TEXT, "time" TEXT, extra TEXT)')
    con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')")
    for table, rows in (("metrics", metrics), ("trials", trials)):
        for row in rows:
            names = ", ".join(f'"{k}"' for k in row)
            con.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    con.close()


def _metric(cond: str, value: float = 0.5, **more) -> dict:
    return {"model": "runs/a/A", "checkpoint_hash": "h1", "benchmark": "robustness", "dataset": "noise",
            "condition": cond, "metric": "accuracy", "value": value, "config_hash": "cfg", **more}


def _trials(cond: str, k: int = 4, **more) -> list[dict]:
    return [{"observer": "runs/a/A", "checkpoint_hash": "h1", "benchmark": "robustness", "dataset": "noise",
             "subject": "runs/a/A", "session": "1", "trial": t, "object_response": "cat", "category": "cat",
             "condition": cond, "imagename": f"im{t}.png", "config_hash": "cfg", **more} for t in range(k)]


def _dupes(db: Path, table: str) -> int:
    """Rows beyond the first of each natural key, counted in SQL."""
    keys = ", ".join(f"ifnull(\"{c}\", '')" for c in (METRIC_KEY if table == "metrics" else TRIAL_KEY))
    con = sqlite3.connect(db)
    try:
        total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        distinct = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys})").fetchone()[0]
    finally:
        con.close()
    return total - distinct


# -- identity -----------------------------------------------------------------------------------------
def test_model_rows_need_a_checkpoint_hash_and_reference_rows_do_not(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = [_metric("0"), _metric("1", checkpoint_hash=None)]
    with pytest.raises(ResultsSchemaError, match=r"metrics row 1 \(model 'runs/a/A'.*checkpoint_hash is required"):
        store.append_metrics(rows)
    with pytest.raises(ResultsSchemaError, match="metrics row 0"):
        store.append_metrics([_metric("0", checkpoint_hash="  ")])
    with pytest.raises(ResultsSchemaError, match="required column 'model'"):
        store.append_metrics([_metric("0", model="")])
    assert len(store) == 0
    refs = ["reference:monkeyIT", "human", "humans", "human:lab", "subject-01", "noise_ceiling", "series:childS",
            "a|b", "runs/b/A - runs/a/A"]
    for name in refs:
        assert not needs_checkpoint_hash(name), name
    assert needs_checkpoint_hash("runs/a/A") and needs_checkpoint_hash("humanoid_vit")
    n = store.append_metrics([_metric("0", model=name, checkpoint_hash=None) for name in refs])
    assert n == len(refs) and store.unidentified_models() == []


# -- natural keys and idempotence ----------------------------------------------------------------------
def test_rewrites_are_no_ops_and_missing_values_do_not_defeat_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    rows = [_metric(c, layer=None, seed=None) for c in ("0", "1", "2")]
    assert store.append_metrics(rows) == 3
    with caplog.at_level(logging.INFO, logger="humanalign.io.results"):
        assert store.append_metrics(rows) == 0
    assert "3 of 3 metrics rows were already stored" in caplog.text
    assert len(store) == 3
    # An empty string and a missing value are one key; a new seed or layer is a new row.
    assert store.append_metrics([_metric("0", layer="", seed=None)]) == 0
    assert store.append_metrics([_metric("0", seed=0), _metric("0", layer="11")]) == 2
    # Same key with another value: the stored value stays, with a warning.
    caplog.clear()
    assert store.append_metrics([_metric("1", value=0.9, layer=None, seed=None)]) == 0
    assert "differ from the rewrite" in caplog.text
    assert store.metrics(condition="1")["value"].tolist() == [0.5]
    # The index itself refuses a duplicate with NULLs, whoever writes it.
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        con.execute("INSERT INTO metrics (model, checkpoint_hash, benchmark, dataset, condition, metric, value, "
                    "config_hash) VALUES ('runs/a/A', 'h1', 'robustness', 'noise', '2', 'accuracy', 1.0, 'cfg')")
    con.close()
    # Trials: same rule; an exact repeat inside one batch is written once.
    assert store.append_trials(_trials("0") + _trials("0")[:1]) == 4
    assert store.append_trials(_trials("0", rt=None)) == 0
    assert store.append_trials(_trials("0", checkpoint_hash="h2")) == 4  # retrained weights: new rows
    assert _dupes(db, "metrics") == 0 and _dupes(db, "trials") == 0


def test_a_batch_with_one_key_twice_and_different_values_is_refused(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = [_metric("1"), _metric("1"), _metric("0", value=0.1, hours=1.0), _metric("0", value=0.2, hours=10.0)]
    with pytest.raises(ResultsSchemaError, match=r"metrics rows 2 and 3 have the same natural key \(model="):
        store.append_metrics(rows)
    assert len(store) == 0


def test_append_writes_trials_and_metrics_in_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    assert store.append(trials=_trials("0"), metrics=[_metric("0")]) == Appended(trials=4, metrics=1)
    assert store.append(trials=_trials("0"), metrics=[_metric("0")]) == Appended(0, 0)
    # A bad metric row: nothing of the cell is written.
    with pytest.raises(ResultsSchemaError, match="metrics row 0"):
        store.append(trials=_trials("1"), metrics=[_metric("1", value="high")])
    # A failure inside the database after the trials went in: they are rolled back with the metrics.
    con = sqlite3.connect(db)
    con.execute("CREATE TRIGGER boom BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    con.commit()
    con.close()
    with pytest.raises(ResultsStoreError, match="disk on fire"):
        store.append(trials=_trials("1"), metrics=[_metric("1")])
    assert store.trials(condition="1").empty and len(store.trials()) == 4


def test_done_conditions_and_contains_match_on_weights_and_protocol(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    store.append_metrics([_metric("0"), _metric("1"), _metric("2", checkpoint_hash="h2"),
                          _metric("3", config_hash="other"), _metric("4", seed=1)])
    ask = dict(model="runs/a/A", benchmark="robustness", dataset="noise", metric="accuracy")
    assert store.done_conditions(checkpoint_hash="h1", config_hash="cfg", **ask) == {"0", "1", "4"}  # any seed
    assert store.done_conditions(checkpoint_hash="h1", config_hash="cfg", seed=None, **ask) == {"0", "1"}
    assert store.done_conditions(checkpoint_hash="h2", config_hash="cfg", **ask) == {"2"}
    assert store.done_conditions(checkpoint_hash="h1", config_hash="cfg", seed=1, **ask) == {"4"}
    # Another model with the same folder name is not done just because the name looks familiar.
    assert store.done_conditions(**{**ask, "model": "runs/b/A"}, checkpoint_hash="h1", config_hash="cfg") == set()
    with pytest.raises(KeyError, match="not metric key columns"):
        store.done_conditions(checkpoint_hash="h1", config_hash="cfg", value=1.0, **ask)
    assert store.contains("metrics", [_metric("0", value=0.9), _metric("9"), _metric("0", layer="")]) == [
        True, False, True]
    store.append_trials(_trials("0"))
    assert store.contains("trials", _trials("0", k=5)) == [True] * 4 + [False]


# -- migration ------------------------------------------------------------------------------------
def test_a_version_1_store_is_deduplicated_and_indexed_in_one_migration(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    metrics = [{**_metric("0", value=0.1)}, {**_metric("1")}, {**_metric("0", value=0.2)},  # dup of row 1
               {"model": "humans", "benchmark": "robustness", "metric": "accuracy", "value": 0.7},
               {"model": "humans", "benchmark": "robustness", "metric": "accuracy", "value": 0.8}]  # NULL-key dup
    trials = _trials("0") + _trials("0")[:2]
    make_v1(db, metrics, trials)
    # A read-only open reads version 1 as it is, without migrating.
    ro = ResultsStore(db, readonly=True)
    assert ro.schema_version == 1 and len(ro) == 5
    store = ResultsStore(db)
    assert store.schema_version == SCHEMA_VERSION == 2
    got = store.metrics().sort_values(["model", "condition"])
    assert len(got) == 3 and len(store.trials()) == 4
    assert store.metrics(condition="0")["value"].tolist() == [0.2]  # the last row of each key is kept
    assert store.metrics(model="humans")["value"].tolist() == [0.8]
    assert _dupes(db, "metrics") == 0 and _dupes(db, "trials") == 0
    assert store.append_metrics([_metric("1")]) == 0  # the key is enforced from now on
    con = sqlite3.connect(db)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    con.close()
    assert {"metrics_natural_key", "trials_natural_key"} <= names


def test_a_failed_migration_leaves_version_1_untouched(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    make_v1(db, [_metric("0", value=0.1), _metric("0", value=0.2)], [])
    con = sqlite3.connect(db)  # make the last step of the migration fail
    con.execute("CREATE TRIGGER no_bump BEFORE UPDATE ON meta BEGIN SELECT RAISE(ABORT, 'no bump'); END")
    con.commit()
    con.close()
    with pytest.raises(ResultsStoreError, match="no bump"):
        ResultsStore(db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 2  # the dedupe was rolled back
    assert con.execute("SELECT value FROM meta").fetchone()[0] == "1"
    con.close()


# -- opening: read-only, locks, bad files ------------------------------------------------------------
_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.read()  # hold the write lock until the test closes stdin
    con.execute("ROLLBACK")
    """
)


def _hold_write_lock(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_store_locked_by_another_writer_is_a_one_line_error_and_reads_still_work(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    ResultsStore(db).append_metrics([_metric("0")])
    wal = db.with_name(db.name + "-wal")
    holder = _hold_write_lock(db)
    try:
        size = wal.stat().st_size
        # Opening an up-to-date store (writable or not) and reading take no write lock.
        store = ResultsStore(db, timeout=0.2)
        ro = ResultsStore(db, timeout=0.2, readonly=True)
        assert len(store) == 1 and len(ro) == 1 and ro.done_conditions(
            "runs/a/A", "h1", "robustness", "noise", "cfg", "accuracy") == {"0"}
        assert wal.stat().st_size == size  # nothing was written by the opens
        with pytest.raises(ResultsStoreError) as err:
            store.append(trials=_trials("1"), metrics=[_metric("1")])
        assert str(err.value) == f"{db}: locked by another writer for more than 0.2 s"
    finally:
        holder.communicate("", timeout=60)
    assert store.append(trials=_trials("1"), metrics=[_metric("1")]) == Appended(4, 1)


def test_read_only_opens_create_nothing_and_refuse_writes(tmp_path: Path) -> None:
    missing = tmp_path / "deep" / "none.sqlite"
    with pytest.raises(ResultsStoreError, match=r"none\.sqlite: no such results store"):
        ResultsStore(missing, readonly=True)
    assert not missing.parent.exists()
    store = ResultsStore(missing)  # a writable open creates the parent folders
    assert missing.is_file() and store.schema_version == SCHEMA_VERSION
    ro = ResultsStore(missing, readonly=True)
    with pytest.raises(ResultsStoreError, match="opened read-only"):
        ro.append_metrics([_metric("0")])
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(ResultsStoreError, match=r"empty\.sqlite: not a results store"):
        ResultsStore(empty, readonly=True)
    with pytest.raises(ResultsStoreError, match="not a file"):
        ResultsStore(tmp_path)


def test_cli_rule_prints_the_store_error_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from humanalign.cli import run_cli

    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 200)
    assert run_cli(lambda: ResultsStore(path)) == 2
    assert capsys.readouterr().err == f"error: {path}: not an SQLite database\n"


# -- processes ------------------------------------------------------------------------------------
_GRID = textwrap.dedent(
    """
    import os, signal, sys
    from humanalign.io.results import ResultsStore
    db, cells, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    kill_at, kill_stage = (int(sys.argv[4]), sys.argv[5]) if len(sys.argv) > 5 else (-1, "")
    computed = 0

    def maybe_die(stage):
        if computed == kill_at and stage == kill_stage:
            os.kill(os.getpid(), signal.SIGKILL)

    insert = ResultsStore._insert

    def _insert(self, con, table, prepared):  # kill -9 inside the cell's transaction, after this table's rows
        n = insert(self, con, table, prepared)
        maybe_die(table)
        return n

    ResultsStore._insert = _insert
    store = ResultsStore(db)
    done = store.done_conditions("runs/a/A", "h1", "robustness", "noise", "cfg", "accuracy")
    for c in range(cells):
        cond = f"c{c:03d}"
        if cond in done:
            continue
        trials = [{"observer": "runs/a/A", "checkpoint_hash": "h1", "benchmark": "robustness", "dataset": "noise",
                   "subject": "runs/a/A", "session": "1", "trial": t, "object_response": "cat" if t % 3 else "dog",
                   "category": "cat", "condition": cond, "imagename": f"im{t:04d}.png" + "x" * 200,
                   "config_hash": "cfg"} for t in range(200)]
        metrics = [{"model": "runs/a/A", "checkpoint_hash": "h1", "benchmark": "robustness", "dataset": "noise",
                    "condition": cond, "metric": m, "value": float(c), "config_hash": "cfg"}
                   for m in ("accuracy", "error_consistency")]
        new = store.append(trials=trials, metrics=metrics)
        maybe_die("committed")  # after the commit, before the grid reports the cell
        print(tag, cond, new.trials, new.metrics, flush=True)
        computed += 1
    """
)


def _grid(db: Path, cells: int, tag: str, *kill_at: object) -> subprocess.Popen:
    """The grid loop in a subprocess; ``kill_at`` = (k, stage): SIGKILL itself in its k-th cell at that stage."""
    return subprocess.Popen([sys.executable, "-c", _GRID, str(db), str(cells), tag, *map(str, kill_at)],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)


def test_two_processes_writing_the_same_grid_write_each_row_once(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    procs = [_grid(db, 12, f"w{k}") for k in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    store = ResultsStore(db, readonly=True)
    assert len(store) == 24 and len(store.trials()) == 12 * 200
    assert _dupes(db, "metrics") == 0 and _dupes(db, "trials") == 0
    # Every cell was new for exactly one writer, whole (all its trials and metrics in one go).
    new = [line.split() for out in outs for line in out.splitlines()]
    assert sum(int(t) for _, _, t, _ in new) == 12 * 200 and sum(int(m) for *_, m in new) == 24
    assert all((t, m) in {("200", "2"), ("0", "0")} for *_, t, m in new)


def _check_whole_cells(db: Path) -> set[str]:
    """Every stored cell has all its trials and metrics, each row once; returns the stored conditions."""
    store = ResultsStore(db, readonly=True)
    trials = store.trials().groupby("condition").size()
    metrics = store.metrics().groupby("condition").size()
    assert set(trials.index) == set(metrics.index), "a cell has trials without its metrics (or the reverse)"
    assert (trials == 200).all() and (metrics == 2).all(), "a cell was partly written"
    assert _dupes(db, "metrics") == 0 and _dupes(db, "trials") == 0
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    return set(metrics.index)


def test_a_writer_killed_at_random_points_leaves_whole_cells_and_a_rerun_fills_the_rest(tmp_path: Path) -> None:
    rng = random.Random(15)
    cells = 40
    db = tmp_path / "r.sqlite"
    ResultsStore(db)
    # Kills inside a cell's transaction (after its trials, after its metrics), right after its commit, and
    # from outside at a random moment; seeded, in random order.
    plan: list[tuple[str, int]] = [(stage, rng.randint(0, 3)) for stage in ("trials", "metrics", "committed")]
    plan += [("outside", rng.randint(1, 4)) for _ in range(3)]
    rng.shuffle(plan)
    done: set[str] = set()
    for stage, k in plan:
        missing = [f"c{c:03d}" for c in range(cells) if f"c{c:03d}" not in done]
        if stage == "outside":
            proc = _grid(db, cells, "victim")
            for _ in range(k):  # let it commit k cells, then kill it somewhere in a later one
                assert proc.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.03))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stdout.close()
        else:
            proc = _grid(db, cells, "victim", k, stage)
            out = proc.communicate(timeout=240)[0]
            assert proc.returncode == -signal.SIGKILL and len(out.splitlines()) == k
        stored = _check_whole_cells(db)
        assert done <= stored, "a committed cell was lost"
        if stage != "outside":  # the k-th cell it computed is stored only if the kill came after its commit
            assert (missing[k] in stored) == (stage == "committed"), (stage, k)
        done = stored
    assert 0 < len(done) < cells
    rerun = _grid(db, cells, "rerun")
    out = rerun.communicate(timeout=240)[0]
    assert rerun.returncode == 0
    computed = {line.split()[1] for line in out.splitlines()}
    assert computed == {f"c{c:03d}" for c in range(cells)} - done  # only the missing cells were computed
    assert all(line.split()[2:] == ["200", "2"] for line in out.splitlines())
    assert _check_whole_cells(db) == {f"c{c:03d}" for c in range(cells)}
    store = ResultsStore(db, readonly=True)
    assert len(store) == 2 * cells and len(store.trials()) == 200 * cells
    assert store.metrics(metric="accuracy")["value"].tolist() == [float(int(c[1:])) for c in
                                                                   store.metrics(metric="accuracy")["condition"]]
