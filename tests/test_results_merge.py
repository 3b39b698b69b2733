"""Merging shard stores: the union equals one process's rows, is idempotent, atomic per shard, and says
in one line which shard is bad (``python -m humanalign.results merge OUT SHARD...``)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from humanalign.io.results import METRIC_KEY, TRIAL_KEY, ResultsStore, ResultsStoreError
from humanalign.results.__main__ import main

REPO = Path(__file__).resolve().parents[1]


def _cell(model: str, ckpt: str, cond: str, n_trials: int = 3) -> tuple[list[dict], list[dict]]:
    trials = [{"observer": model, "checkpoint_hash": ckpt, "benchmark": "robustness", "dataset": "noise",
               "subject": model, "session": "1", "trial": t, "rt": None if t else 1.5, "object_response": "cat",
               "category": "cat" if t % 2 else "dog", "condition": cond, "imagename": f"im{t}.png",
               "config_hash": "cfg", "severity": int(cond[-1])} for t in range(n_trials)]
    metrics = [{"model": model, "checkpoint_hash": ckpt, "layer": None, "benchmark": "robustness",
                "dataset": "noise", "condition": cond, "metric": "accuracy", "value": len(cond) / 10,
                "n": n_trials, "config_hash": "cfg", "test": "none"}]
    return trials, metrics


CELLS = [(m, h, f"noise-{s}") for m, h in (("runs/a/A", "h1"), ("runs/b/A", "h2")) for s in range(3)]


def _write(db: Path, cells: list[tuple[str, str, str]]) -> ResultsStore:
    store = ResultsStore(db)
    for cell in cells:
        trials, metrics = _cell(*cell)
        store.append(trials=trials, metrics=metrics)
    return store


def _rows(store: ResultsStore, table: str) -> pd.DataFrame:
    """A table without row order or write time, sorted by its natural key."""
    frame = store.metrics() if table == "metrics" else store.trials()
    keys = list(METRIC_KEY if table == "metrics" else TRIAL_KEY)
    return frame.drop(columns=["time"]).astype(str).sort_values(keys).reset_index(drop=True)


def test_merged_shards_equal_one_process_and_merging_again_adds_nothing(tmp_path: Path) -> None:
    single = _write(tmp_path / "single.sqlite", CELLS)
    shards = [tmp_path / f"shard{k}.sqlite" for k in range(3)]
    for k, path in enumerate(shards):
        _write(path, CELLS[k::3])
    out = ResultsStore(tmp_path / "out" / "merged.sqlite")
    assert [out.merge_from(p) for p in shards] == [2 * 4, 2 * 4, 2 * 4]
    for table in ("metrics", "trials"):
        pd.testing.assert_frame_equal(_rows(out, table), _rows(single, table))
    assert [out.merge_from(p) for p in shards] == [0, 0, 0]
    assert len(out) == len(CELLS) and len(out.trials()) == 3 * len(CELLS)
    # An overlapping shard adds only its new cells; the shard itself is not changed.
    overlap = _write(tmp_path / "overlap.sqlite", [CELLS[0], ("runs/c/A", "h3", "noise-0")])
    assert out.merge_from(overlap.path) == 4 and len(overlap) == 2
    with pytest.raises(ResultsStoreError, match="cannot merge a store into itself"):
        out.merge_from(out.path)


def test_a_shard_is_merged_whole_or_not_at_all(tmp_path: Path) -> None:
    shard = _write(tmp_path / "shard.sqlite", CELLS[:2])
    out = ResultsStore(tmp_path / "out.sqlite")
    con = sqlite3.connect(out.path)  # the metrics insert fails after the shard's trials went in
    con.execute("CREATE TRIGGER boom BEFORE INSERT ON metrics BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    con.commit()
    con.close()
    with pytest.raises(ResultsStoreError, match="disk on fire"):
        out.merge_from(shard.path)
    assert out.trials().empty and len(out) == 0


def test_cli_merges_and_names_a_bad_shard_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    _write(a, CELLS[:3])
    _write(b, CELLS[3:])
    out = tmp_path / "all.sqlite"
    assert main(["merge", str(out), str(a), str(b)]) == 0
    printed = capsys.readouterr().out
    assert f"{a}: 12 new rows" in printed and f"{out}: 24 new rows from 2 shard(s)" in printed
    assert main(["merge", str(out), str(a), str(b)]) == 0
    assert f"{out}: 0 new rows from 2 shard(s)" in capsys.readouterr().out
    # Bad shards: each is one line naming the file, and nothing is merged (every shard is checked first).
    notes = tmp_path / "notes.sqlite"
    notes.write_text("not a database\n" * 200)
    fresh = tmp_path / "fresh.sqlite"
    for bad, why in ((notes, "not an SQLite database"), (tmp_path / "gone.sqlite", "no such results store")):
        assert main(["merge", str(fresh), str(a), str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {bad}: {why}") and err.count("\n") == 1
    assert not fresh.exists()


def test_a_shard_with_unidentified_model_rows_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_results_integrity import make_v1

    old = tmp_path / "old.sqlite"
    make_v1(old, [{"model": "vit_s16", "benchmark": "robustness", "metric": "accuracy", "value": 0.5}], [])
    out = tmp_path / "out.sqlite"
    assert main(["merge", str(out), str(old)]) == 2
    assert capsys.readouterr().err == (f"error: {old}: metric rows without a checkpoint_hash for model(s) 'vit_s16'; "
                                       "cannot identify them\n")
    with pytest.raises(ResultsStoreError, match="without a checkpoint_hash"):
        ResultsStore(out).merge_from(old)


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    shard = tmp_path / "s.sqlite"
    _write(shard, CELLS[:1])
    done = subprocess.run([sys.executable, "-m", "humanalign.results", "merge", str(tmp_path / "o.sqlite"),
                           str(shard)], capture_output=True, text=True, cwd=REPO, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "4 new rows from 1 shard(s)" in done.stdout
