"""analysis/contrasts.py: trial rows in the store -> corrected per-cell contrasts -> report rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from humanalign.io.results import ResultsStore
from humanalign.report.builder import build_report
from tests.scripts_helper import load_script


def _load():
    return load_script("analysis/contrasts.py")


def test_store_trials_to_contrast_rows_and_report(tmp_path: Path) -> None:
    mod = _load()
    rng = np.random.default_rng(0)
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = []
    for cond, p_img, p_vid in (("0", 0.8, 0.8), ("3", 0.4, 0.75)):
        for i in range(150):
            truth = "cat" if i % 2 else "dog"
            for obs, p in (("img", p_img), ("vid", p_vid)):
                resp = truth if rng.random() < p else "car"
                rows.append({"observer": obs, "subject": obs, "session": 1, "trial": i, "object_response": resp,
                             "category": truth, "condition": cond, "imagename": f"im{i}.png", "dataset": "noise"})
    store.append_trials(pd.DataFrame(rows))
    assert mod.main(["--results", str(store.path), "--a", "img", "--b", "vid"]) == 0
    diff = store.metrics(benchmark="contrasts", metric="difference").set_index("condition")
    assert diff.loc["3", "value"] == pytest.approx(0.35, abs=0.12) and diff.loc["3", "ci_low"] > 0
    assert abs(diff.loc["0", "value"]) < 0.12
    p_adj = store.metrics(benchmark="contrasts", metric="p_adjusted").set_index("condition")["value"]
    assert p_adj["3"] < 1e-4 and p_adj["0"] > 0.05
    assert set(store.metrics(benchmark="contrasts")["level"]) == {"items"}
    page = build_report(store, tmp_path / "rep", sections=["contrasts"])["html"].read_text()
    assert "vid - img" in page and "McNemar" in page
    with pytest.raises(ValueError, match="no trial rows"):
        mod.run(store, "img", "nobody-here")


def test_missing_database_and_disjoint_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _load()
    missing = tmp_path / "none.sqlite"
    assert mod.main(["--results", str(missing), "--a", "img", "--b", "vid"]) == 2
    assert f"results database not found: {missing}" in capsys.readouterr().err
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = [{"observer": obs, "subject": obs, "session": 1, "trial": i, "object_response": "cat",
             "category": "cat", "condition": cond, "imagename": f"im{i}.png", "dataset": "noise"}
            for obs, cond in (("img", "0"), ("vid", "3")) for i in range(5)]
    store.append_trials(pd.DataFrame(rows))
    with pytest.raises(ValueError, match="no cell has trials from both 'img' and 'vid'"):
        mod.run(store, "img", "vid")
