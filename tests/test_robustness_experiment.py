"""The robustness experiment on tiny encoders, through the package (score_grid, run_robustness,
load_labelled) and its thin command (experiments/robustness.py): resume after interruption, figures and
store rows, video sets, the head protocol, and one-line errors."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch import nn

from humanalign.eval.grid import GridSettings, grid_cells, head_indexes_classes, score_grid
from humanalign.eval.labelled import load_labelled
from humanalign.eval.robustness import parse_severities, resolve_corruptions, run_robustness
from humanalign.features import extract
from humanalign.features.batches import StimulusPixels
from humanalign.io.results import ResultsStore
from humanalign.models.observers import as_observer, load_observer, load_observers
from humanalign.perturb.corruptions import CorruptionError
from humanalign.registry import MODELS
from humanalign.report.plots_robustness import plot_accuracy_vs_severity
from humanalign.stimuli.base import StimulusSetError
from tests.grid_helper import duplicates, image_set
from tests.scripts_helper import load_script

CELLS = grid_cells(["gaussian_noise", "fog"], [1, 3])
CONDITIONS = ["clean", "gaussian_noise/1", "gaussian_noise/3", "fog/1", "fog/3"]


def _settings(tmp_path: Path, **kw) -> GridSettings:
    return GridSettings(**{"folds": 2, "batch_size": 8, "device": "cpu", "cache_dir": str(tmp_path / "cache"), **kw})


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = load_script("experiments/robustness.py").main(argv)
    return code, out.getvalue(), err.getvalue()


def test_grid_resumes_after_interruption(tmp_path: Path) -> None:
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    obs = load_observer("vit_test_image")
    first = score_grid(obs, data, CELLS, store, _settings(tmp_path), stop_after=2)
    assert first.computed == CONDITIONS[:2] and not first.skipped
    second = score_grid(obs, data, CELLS, store, _settings(tmp_path))
    assert second.skipped == first.computed, "finished cells must not be recomputed"
    assert second.computed == CONDITIONS[2:] and not set(second.computed) & set(first.computed)
    assert (second.config_hash, second.weights_hash) == (first.config_hash, first.weights_hash)
    third = score_grid(obs, data, CELLS, store, _settings(tmp_path))
    assert not third.computed and third.skipped == CONDITIONS
    acc = store.metrics(metric="accuracy", config_hash=second.config_hash)
    assert len(acc) == 5 and acc["condition"].is_unique and set(acc["condition"]) == set(CONDITIONS)
    assert (acc["checkpoint_hash"] == obs.weights_id).all() and (acc["n"] == 12).all()
    assert acc["value"].between(0, 1).all() and (acc["ci_low"] <= acc["value"]).all()
    trials = store.trials(observer="vit_test_image")
    assert len(trials) == 5 * 12 and set(trials["session"]) == {"readout"}
    assert trials.groupby("condition")["imagename"].nunique().eq(12).all()
    per_cell = trials.groupby("condition")["correct"].mean().sort_index()
    np.testing.assert_allclose(per_cell.to_numpy(), acc.set_index("condition")["value"].sort_index().to_numpy())
    assert duplicates(store.path, "trials") == 0 and duplicates(store.path, "metrics") == 0


def test_cli_writes_rows_and_figures(tmp_path: Path) -> None:
    root = image_set(tmp_path / "toy")
    argv = ["--models", "vit_test_image,vit_test_video", "--set", str(root), "--corruptions", "gaussian_noise",
            "--severities", "1,5", "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "fig"),
            "--folds", "2", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    code, out, err = _main(argv)
    assert code == 0, err
    assert "6 cells computed" in out and "clean accuracy" in out
    for stem in ("accuracy_vs_severity", "model_corruption_heatmap", "video_vs_image_gap"):
        assert (tmp_path / "fig" / f"{stem}.pdf").is_file() and (tmp_path / "fig" / f"{stem}.png").is_file()
    store = ResultsStore(tmp_path / "r.sqlite")
    assert len(store.metrics(metric="mPC")) == 2
    assert len(store.metrics(metric="mcnemar_p_holm")) == 2
    flips = store.metrics(metric="flip_rate")
    assert len(flips) == 2 and flips["value"].between(0, 1).all()
    gap = store.metrics(metric="accuracy_gap_video_minus_image")
    assert list(gap["model"]) == ["vit_test_video - vit_test_image"]
    total = len(store)
    code, out, _ = _main(argv)
    assert code == 0 and "0 cells computed, 6 already" in out
    assert len(store.metrics(metric="mPC")) == 2, "summaries are not duplicated on re-runs"
    assert len(store) == total and duplicates(store.path, "metrics") == 0


def test_video_set_with_temporal_and_lifted_corruptions(tmp_path: Path) -> None:
    from humanalign.io.video import write_video

    rng = np.random.default_rng(1)
    for k, cls in enumerate(("a", "b")):
        (tmp_path / "vid" / cls).mkdir(parents=True)
        for i in range(2):
            frames = np.full((8, 32, 32, 3), 50, np.uint8)
            frames[..., k] = 180 + rng.integers(0, 40)
            write_video(tmp_path / "vid" / cls / f"{i}.mp4", frames, fps=8)
    data = load_labelled(tmp_path / "vid", frames=4)
    assert data.is_video and data.classes == ["a", "b"]
    store = ResultsStore(tmp_path / "r.sqlite")
    observers = load_observers("vit_test_video,vit_test_image")
    assert [o.is_video for o in observers] == [True, False]
    corruptions = resolve_corruptions("jumble,fog", is_video=True)
    grids, summary = run_robustness(observers, data, corruptions, [2], store,
                                    _settings(tmp_path, frames=4, source_frames=8))
    assert [g.computed for g in grids] == [["clean", "jumble/2", "fog/2"]] * 2
    assert sum(len(g.computed) for g in grids) == 6
    assert len(store.trials()) == 2 * 3 * 4
    gap = store.metrics(metric="accuracy_gap_video_minus_image")
    assert set(gap["condition"]) == {"jumble/all", "fog/all"}
    assert set(gap["model"]) == {"vit_test_video - vit_test_image"} and not summary.gap.empty
    with pytest.raises(CorruptionError, match="jumble"):
        resolve_corruptions("jumble", is_video=False)


def test_head_protocol_used_when_classes_index_the_head(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    for cls in ("0", "1", "2"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((32, 32, 3), 40 * i + 20 * int(cls) + 20, np.uint8)).save(root / cls / f"{i}.png")
    data = load_labelled(root)
    enc = MODELS.build("vit_test_image").eval()
    enc.head = nn.Linear(enc.embed_dim, 3)
    obs = as_observer(enc, name="headnet")
    assert head_indexes_classes(obs, data.classes)
    store = ResultsStore(tmp_path / "r.sqlite")
    res = score_grid(obs, data, grid_cells(["fog"], [1]), store, _settings(tmp_path))
    assert res.protocol == {"protocol": "head"} and res.computed == ["clean", "fog/1"]
    logits = extract(obs, data.stimuli, layers=["logits"], use_cache=False, progress=False)["logits"]
    clean = store.trials(observer="headnet", condition="clean").sort_values("trial")
    assert set(clean["session"]) == {"head"}
    np.testing.assert_array_equal(clean["object_response"].astype(int).to_numpy(), logits.argmax(1))
    enc.head = nn.Linear(enc.embed_dim, 2)  # class "2" is outside the head: readout instead
    two = as_observer(enc, name="headnet2")
    assert not head_indexes_classes(two, data.classes)
    assert score_grid(two, data, grid_cells(["fog"], [1]), None, _settings(tmp_path)).protocol["protocol"] == \
        "readout"


def test_absent_released_weights_fail_with_loader_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANALIGN_OFFLINE", "1")
    monkeypatch.setenv("HUMANALIGN_CHECKPOINTS", str(tmp_path / "ckpt"))
    code, out, err = _main(["--models", "hvm1", "--set", str(image_set(tmp_path / "toy")), "--corruptions", "fog",
                            "--severities", "1", "--results", str(tmp_path / "r.sqlite")])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "hvm1" in lines[0] and str(tmp_path / "ckpt") in lines[0]
    assert "Traceback" not in err


def test_bad_set_and_severity_messages(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(StimulusSetError, match="class sub-folder"):
        load_labelled(tmp_path / "flat")
    with pytest.raises(ValueError, match="1..5"):
        parse_severities("0-2")
    assert parse_severities("1-3,5") == [1, 2, 3, 5]
    code, _, err = _main(["--models", "vit_test_image", "--set", str(tmp_path / "flat"), "--results",
                          str(tmp_path / "r.sqlite")])
    assert code == 2 and err.startswith("error: ") and "class sub-folder" in err and len(err.splitlines()) == 1
    code, _, err = _main(["--models", "vit_test_image", "--set", str(image_set(tmp_path / "toy")), "--severities",
                          "0-2", "--results", str(tmp_path / "r.sqlite")])
    assert code == 2 and "1..5" in err and len(err.splitlines()) == 1


def test_plot_rejects_missing_columns() -> None:
    import pandas as pd

    with pytest.raises(ValueError, match="severity"):
        plot_accuracy_vs_severity(pd.DataFrame({"model": ["a"], "value": [0.5]}))


def test_per_class_subset(tmp_path: Path) -> None:
    data = load_labelled(image_set(tmp_path / "toy", per_class=4))
    sub = data.per_class(2)
    assert len(sub.stimuli) == 6 and np.bincount(sub.labels).tolist() == [2, 2, 2]
    assert all(sid.split("/")[1] in ("0.png", "1.png") for sid in sub.stimuli.ids)
    obs = load_observer("vit_test_image")
    pixels = StimulusPixels(sub.stimuli, obs.contract.preprocessing())
    assert len(pixels) == 6 and pixels[0].shape == (3, 32, 32) and 0 <= pixels[0].min() <= pixels[0].max() <= 1
    res = score_grid(obs, sub, grid_cells(["fog"], [1]), store := ResultsStore(tmp_path / "r.sqlite"),
                     _settings(tmp_path))
    assert res.computed == ["clean", "fog/1"] and (store.metrics(metric="accuracy")["n"] == 6).all()
