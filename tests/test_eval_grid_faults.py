"""score_grid under faults: two processes scoring the same grid into one store, and a grid killed with
SIGKILL at random points (inside a cell's transaction, right after its commit, and from outside at a
random moment), then resumed."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

from humanalign.eval.grid import GridSettings, grid_cells, score_grid
from humanalign.eval.labelled import load_labelled
from humanalign.io.results import ResultsStore
from humanalign.models.observers import load_observer
from tests.grid_helper import REPO, duplicates, image_set

# -- two processes, one grid ------------------------------------------------------------------------
_DRIVER = textwrap.dedent(
    """
    import json, logging, sys, time
    from pathlib import Path
    import torch
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    from humanalign.eval.grid import GridSettings
    from humanalign.eval.labelled import load_labelled
    from humanalign.eval.robustness import run_robustness
    from humanalign.io.results import ResultsStore
    from humanalign.models.observers import load_observers
    root, db, models, ready, tag, peers, cache = sys.argv[1:8]
    observers = load_observers(models)
    data = load_labelled(root)
    store = ResultsStore(db)
    Path(ready, tag).touch()  # both processes imported and loaded: start scoring together
    deadline = time.monotonic() + 600
    while len(list(Path(ready).iterdir())) < int(peers):
        assert time.monotonic() < deadline, "the other writer never started"
        time.sleep(0.02)
    settings = GridSettings(folds=2, batch_size=6, device="cpu", cache_dir=cache)
    grids, summary = run_robustness(observers, data, ["gaussian_noise", "fog"], [1, 4], store, settings)
    print(json.dumps({"computed": {g.observer: g.computed for g in grids}, "summary_rows": len(summary.rows)}))
    """
)


def test_two_processes_scoring_the_same_grid_write_every_row_once(tmp_path: Path) -> None:
    root = image_set(tmp_path / "toy")
    db, ready = tmp_path / "r.sqlite", tmp_path / "ready"
    ready.mkdir()
    models = "vit_test_image,timm:resnet10t|size=32"
    procs = [subprocess.Popen([sys.executable, "-c", _DRIVER, str(root), str(db), models, str(ready), f"w{k}", "2",
                               str(tmp_path / "cache")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO) for k in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    conditions = ["clean", "gaussian_noise/1", "gaussian_noise/4", "fog/1", "fog/4"]
    # the barrier makes both start on an empty store, so both score every cell; the store keeps one copy
    for report in reports:
        assert report["computed"] == {"vit_test_image": conditions, "timm:resnet10t": conditions}
    for _, err in outs:  # a rewrite with other values would mean the cells are not deterministic
        assert "differ" not in err, err[-3000:]
    assert duplicates(db, "trials") == 0 and duplicates(db, "metrics") == 0
    store = ResultsStore(db, readonly=True)
    trials = store.trials()
    assert len(trials) == 2 * 5 * 12
    assert trials.groupby(["observer", "condition", "imagename"]).size().eq(1).all()
    acc = store.metrics(metric="accuracy")
    assert len(acc) == 10 and acc.groupby(["model", "condition"]).size().eq(1).all()
    summary_rows = {r["summary_rows"] for r in reports}
    assert len(summary_rows) == 1 and len(store) == 10 + summary_rows.pop(), "summary rows written twice"
    assert len(store.metrics(metric="mPC")) == 2 and len(store.metrics(metric="mcnemar_p_holm")) == 4


# -- kill -9 ------------------------------------------------------------------------------------------
CELLS = grid_cells(["gaussian_noise", "fog", "pixelate", "contrast"], [1, 3, 5])  # 13 cells
CONDITIONS = [c.condition for c in CELLS]


def _victim(db: str, root: str, cache: str, stage: str, k: int) -> None:
    """Score the grid; with ``stage`` set, SIGKILL itself in the k-th cell it computes at that stage."""
    try:
        import torch

        torch.set_num_threads(1)
        cells_seen = {"n": 0}
        insert, append = ResultsStore._insert, ResultsStore.append

        def die() -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        def _insert(self, con, table, prepared):  # inside the cell's transaction, after this table's rows
            n = insert(self, con, table, prepared)
            if table == stage and cells_seen["n"] == k:
                die()
            return n

        def _append(self, *, trials=None, metrics=None):
            if not stage and trials is not None:
                time.sleep(0.3)  # a slower cell, so the outside kill lands at a random point of a cell
                while cells_seen["n"] >= k + 2:  # never more than k + 2 cells: the kill always finds it alive,
                    time.sleep(1)  # however slowly a loaded machine schedules the parent
            out = append(self, trials=trials, metrics=metrics)
            if trials is not None:
                if stage == "committed" and cells_seen["n"] == k:
                    die()  # after the commit, before the grid records the cell as computed
                cells_seen["n"] += 1
            return out

        ResultsStore._insert, ResultsStore.append = _insert, _append
        score_grid(load_observer("vit_test_image"), load_labelled(root), CELLS, ResultsStore(db),
                   GridSettings(folds=2, batch_size=6, device="cpu", cache_dir=cache))
    except BaseException:  # noqa: BLE001 - report and exit non-zero; the parent asserts on the exit code
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _stored_cells(db: Path) -> set[str]:
    """Conditions stored whole: each has its 12 trials and one accuracy row, no row twice, no half cell."""
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        trials = dict(con.execute("SELECT condition, count(*) FROM trials GROUP BY condition").fetchall())
        acc = dict(con.execute("SELECT condition, count(*) FROM metrics WHERE metric = 'accuracy' "
                               "GROUP BY condition").fetchall())
    finally:
        con.close()
    assert set(trials) == set(acc), f"cells with trials but no accuracy row or the reverse: {set(trials) ^ set(acc)}"
    assert all(n == 12 for n in trials.values()), f"a cell was partly written: {trials}"
    assert all(n == 1 for n in acc.values()), f"an accuracy row twice: {acc}"
    assert duplicates(db, "trials") == 0 and duplicates(db, "metrics") == 0
    return set(acc)


def _accuracy_rows(db: Path) -> int:
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM metrics WHERE metric = 'accuracy'").fetchone()[0])
    except sqlite3.OperationalError:  # the child has not created the tables yet
        return 0
    finally:
        con.close()


def test_a_grid_killed_at_random_points_keeps_whole_cells_and_a_rerun_computes_only_the_missing(
        tmp_path: Path) -> None:
    rng = random.Random(15)
    root = str(image_set(tmp_path / "toy"))
    db, cache = tmp_path / "r.sqlite", str(tmp_path / "cache")
    ResultsStore(db)
    fork = multiprocessing.get_context("fork")  # the child inherits the imports: each try costs only its cells
    plan = [("trials", rng.randint(0, 1)), ("metrics", rng.randint(0, 1)), ("committed", rng.randint(0, 1)),
            ("outside", rng.randint(1, 2)), ("outside", rng.randint(1, 2))]
    rng.shuffle(plan)
    done: set[str] = set()
    for stage, k in plan:
        missing = [c for c in CONDITIONS if c not in done]
        proc = fork.Process(target=_victim, args=(str(db), root, cache, "" if stage == "outside" else stage, k))
        proc.start()
        if stage == "outside":  # let it commit k more cells, then kill it at a random moment after
            deadline, before = time.monotonic() + 600, len(done)
            while _accuracy_rows(db) < before + k:
                assert proc.is_alive(), f"the grid ended (exit {proc.exitcode}) before it was killed"
                assert time.monotonic() < deadline, "the grid made no progress"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.5))  # at most 2 more cells (>= 0.3 s each); >= 3 are left
            proc.kill()
        proc.join(timeout=600)
        assert proc.exitcode == -signal.SIGKILL, (stage, k, proc.exitcode)
        stored = _stored_cells(db)
        assert done <= stored, f"a committed cell was lost: {done - stored}"
        if stage != "outside":  # the k-th cell it computed is stored only when the kill came after its commit
            assert (missing[k] in stored) == (stage == "committed"), (stage, k, missing[k], stored)
            assert stored - done == set(missing[:k + (stage == "committed")])
        done = stored
    assert 0 < len(done) < len(CONDITIONS)
    store = ResultsStore(db)
    rerun = score_grid(load_observer("vit_test_image"), load_labelled(root), CELLS, store,
                       GridSettings(folds=2, batch_size=6, device="cpu", cache_dir=cache))
    assert rerun.computed == [c for c in CONDITIONS if c not in done], "only the missing cells are computed"
    assert set(rerun.skipped) == done
    assert _stored_cells(db) == set(CONDITIONS)
    assert len(store.trials()) == 12 * len(CONDITIONS) and len(store) == len(CONDITIONS)
