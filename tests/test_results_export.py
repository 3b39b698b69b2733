"""python -m humanalign.results export: CSV/Parquet tables, and model trials as model-vs-human raw-data files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from humanalign.io.results import ResultsStore
from humanalign.io.trials import CATEGORIES16, load_raw_data
from humanalign.results.__main__ import main


def _store(path: Path) -> ResultsStore:
    store = ResultsStore(path)
    rows = []
    for obs in ("vit_s16_video", "subject-01"):
        for i in range(20):
            cat = CATEGORIES16[i % 16]
            resp = cat if i % 3 else CATEGORIES16[(i + 1) % 16]
            rows.append({"observer": obs, "subject": obs, "session": 1, "trial": i, "dataset": "cue-conflict",
                         "object_response": resp, "category": cat, "condition": "0",
                         "imagename": f"{cat}{i}-{CATEGORIES16[(i + 5) % 16]}1.png"})
            rows.append({"observer": obs, "subject": obs, "session": 1, "trial": i, "dataset": "contrast",
                         "object_response": resp, "category": cat, "condition": ["c100", "c05"][i % 2],
                         "imagename": f"{i:04d}_cop_s01_c100_{cat}_10_n0{i}_1.png"})
    rows += [{"observer": "vit_s16_video", "subject": "vit_s16_video", "session": "readout", "trial": i,
              "dataset": "motion-direction", "object_response": "up", "category": "up", "condition": "clean",
              "imagename": f"up/{i}.mp4"} for i in range(4)]
    store.append_trials(rows)
    store.append_metrics([{"model": "vit_s16_video", "benchmark": "rsa", "metric": "rsa_spearman", "value": 0.25, "checkpoint_hash": "h1",
                           "dataset": "rsa92", "condition": "hIT"},
                          {"model": "other", "checkpoint_hash": "h2", "benchmark": "rsa", "metric": "rsa_spearman", "value": 0.1}])
    return store


def test_model_vs_human_export_round_trips_through_the_suite_reader(tmp_path: Path) -> None:
    store = _store(tmp_path / "r.sqlite")
    out = tmp_path / "raw-data"
    assert main(["export", "--results", str(store.path), "--format", "model-vs-human", "--out", str(out)]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.csv"))
    # model-vs-human's naming (ResultPrinter): '_' in the model name becomes '-'; humans and 4-class sets left out
    assert files == ["contrast/contrast_vit-s16-video_session-1.csv",
                     "cue-conflict/cue-conflict_vit-s16-video_session-1.csv"]
    header = (out / files[1]).read_text().splitlines()[0]
    assert header == "subj,session,trial,rt,object_response,category,condition,imagename"
    back = load_raw_data(out)
    stored = store.trials(observer="vit_s16_video")
    stored = stored[stored["dataset"] != "motion-direction"]
    key = ["dataset", "imagename"]
    merged = back.merge(stored, on=key, suffixes=("_csv", "_db"))
    assert len(merged) == len(stored) == 40
    assert (merged["subj"] == "vit_s16_video").all() and merged["rt_csv"].isna().all()
    for col in ("object_response", "category", "condition"):
        assert (merged[f"{col}_csv"].astype(str) == merged[f"{col}_db"].astype(str)).all(), col
    assert main(["export", "--results", str(store.path), "--format", "model-vs-human", "--out", str(out),
                 "--model", "nobody"]) == 2


def test_csv_and_parquet_exports_with_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "r.sqlite")
    assert main(["export", "--results", str(store.path), "--format", "csv", "--out", str(tmp_path / "m"),
                 "--where", "model=vit_s16_video"]) == 0
    table = pd.read_csv(tmp_path / "m.csv")
    assert list(table["model"]) == ["vit_s16_video"] and table["value"].iloc[0] == 0.25
    assert main(["export", "--results", str(store.path), "--format", "parquet", "--table", "trials",
                 "--out", str(tmp_path / "t.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == 84
    assert main(["export", "--results", str(tmp_path / "none.sqlite"), "--format", "csv", "--out", "x"]) == 2
    assert main(["export", "--results", str(store.path), "--format", "csv", "--out", str(tmp_path / "x"),
                 "--where", "colour=red"]) == 2
    assert "unknown metrics column 'colour'" in capsys.readouterr().err
