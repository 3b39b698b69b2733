"""experiments/robustness.py end to end on tiny encoders: resume after interruption, figures, store rows,
video sets, the head protocol, and the loader's message for absent released weights."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from humanalign.io.results import ResultsStore
from humanalign.registry import MODELS
from humanalign.report.plots_robustness import plot_accuracy_vs_severity
from tests.scripts_helper import load_script


def _exp():
    return load_script("experiments/robustness.py")


def _image_set(root: Path, per_class: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("red", "green", "blue")):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            a = np.full((28, 36, 3), 60.0)
            a[..., k] = 200
            a = np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / cls / f"{i}.png")
    return root


def test_grid_resumes_after_interruption(tmp_path: Path) -> None:
    exp = _exp()
    data = exp.load_labelled_set(str(_image_set(tmp_path / "toy")))
    store = ResultsStore(tmp_path / "r.sqlite")
    args = (["vit_test_image"], data, ["gaussian_noise", "fog"], [1, 3], store)
    first = exp.run_grid(*args, folds=2, stop_after=2)
    assert len(first.computed) == 2 and not first.skipped
    second = exp.run_grid(*args, folds=2)
    assert set(second.skipped) == set(first.computed), "finished cells must not be recomputed"
    assert len(second.computed) == 3 and not set(second.computed) & set(first.computed)
    third = exp.run_grid(*args, folds=2)
    assert not third.computed and len(third.skipped) == 5
    acc = store.metrics(metric="accuracy", config_hash=second.config_hash)
    assert len(acc) == 5 and acc["condition"].is_unique
    assert set(acc["condition"]) == {"clean", "gaussian_noise/1", "gaussian_noise/3", "fog/1", "fog/3"}
    trials = store.trials(observer="vit_test_image")
    assert len(trials) == 5 * 12 and set(trials["session"]) == {"readout"}


def test_cli_writes_rows_and_figures(tmp_path: Path) -> None:
    exp = _exp()
    root = _image_set(tmp_path / "toy")
    argv = ["--models", "vit_test_image,vit_test_video", "--set", str(root), "--corruptions", "gaussian_noise",
            "--severities", "1,5", "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "fig"),
            "--folds", "2"]
    out = io.StringIO()
    with redirect_stdout(out):
        assert exp.main(argv) == 0
    assert "6 cells computed" in out.getvalue()
    for stem in ("accuracy_vs_severity", "model_corruption_heatmap", "video_vs_image_gap"):
        assert (tmp_path / "fig" / f"{stem}.pdf").is_file() and (tmp_path / "fig" / f"{stem}.png").is_file()
    store = ResultsStore(tmp_path / "r.sqlite")
    assert len(store.metrics(metric="mPC")) == 2
    assert len(store.metrics(metric="mcnemar_p_holm")) == 2
    flips = store.metrics(metric="flip_rate")
    assert len(flips) == 2 and flips["value"].between(0, 1).all()
    gap = store.metrics(metric="accuracy_gap_video_minus_image")
    assert list(gap["model"]) == ["vit_test_video - vit_test_image"]
    out = io.StringIO()
    with redirect_stdout(out):
        assert exp.main(argv) == 0
    assert "0 cells computed, 6 already" in out.getvalue()
    assert len(store.metrics(metric="mPC")) == 2, "summaries are not duplicated on re-runs"


def test_video_set_with_temporal_and_lifted_corruptions(tmp_path: Path) -> None:
    from humanalign.io.video import write_video

    exp = _exp()
    rng = np.random.default_rng(1)
    for k, cls in enumerate(("a", "b")):
        (tmp_path / "vid" / cls).mkdir(parents=True)
        for i in range(2):
            frames = np.full((8, 32, 32, 3), 50, np.uint8)
            frames[..., k] = 180 + rng.integers(0, 40)
            write_video(tmp_path / "vid" / cls / f"{i}.mp4", frames, fps=8)
    data = exp.load_labelled_set(str(tmp_path / "vid"), frames=4)
    assert data.is_video and data.classes == ["a", "b"]
    store = ResultsStore(tmp_path / "r.sqlite")
    res = exp.run_grid(["vit_test_video", "vit_test_image"], data, ["jumble", "fog"], [2], store, folds=2)
    assert len(res.computed) == 6 and res.is_video == {"vit_test_video": True, "vit_test_image": False}
    with pytest.raises(exp.CorruptionError, match="jumble"):
        exp.resolve_corruptions("jumble", is_video=False)


def test_head_protocol_used_when_classes_index_the_head(tmp_path: Path) -> None:
    exp = _exp()
    root = tmp_path / "idx"
    for cls in ("0", "1", "2"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((32, 32, 3), 40 * i + 20, np.uint8)).save(root / cls / f"{i}.png")
    data = exp.load_labelled_set(str(root))
    enc = MODELS.build("vit_test_image").eval()
    enc.head = nn.Linear(enc.embed_dim, 3)
    scorer = exp.Scorer(enc, data, torch.device("cpu"))
    assert scorer.protocol == "head"
    logits = scorer.features(exp.pixels(data, 32))
    np.testing.assert_array_equal(scorer.fit(logits), logits.argmax(1))
    enc.head = nn.Linear(enc.embed_dim, 2)  # class "2" is outside the head: readout instead
    assert exp.Scorer(enc, data, torch.device("cpu")).protocol == "readout"


def test_absent_released_weights_fail_with_loader_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANALIGN_OFFLINE", "1")
    monkeypatch.setenv("HUMANALIGN_CHECKPOINTS", str(tmp_path / "ckpt"))
    exp = _exp()
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = exp.main(["--models", "hvm1", "--set", str(_image_set(tmp_path / "toy")), "--corruptions", "fog",
                         "--severities", "1", "--results", str(tmp_path / "r.sqlite")])
    assert code == 1
    assert "hvm1" in err.getvalue() and str(tmp_path / "ckpt") in err.getvalue()


def test_bad_set_and_severity_messages(tmp_path: Path) -> None:
    exp = _exp()
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(exp.StimulusSetError, match="class sub-folder"):
        exp.load_labelled_set(str(tmp_path / "flat"))
    with pytest.raises(ValueError, match="1..5"):
        exp.parse_severities("0-2")
    assert exp.parse_severities("1-3,5") == [1, 2, 3, 5]


def test_plot_rejects_missing_columns() -> None:
    import pandas as pd

    with pytest.raises(ValueError, match="severity"):
        plot_accuracy_vs_severity(pd.DataFrame({"model": ["a"], "value": [0.5]}))


def test_per_class_subset(tmp_path: Path) -> None:
    exp = _exp()
    data = exp.load_labelled_set(str(_image_set(tmp_path / "toy", per_class=4)))
    sub = exp.per_class_subset(data, 2)
    assert len(sub.stimuli) == 6 and np.bincount(sub.labels).tolist() == [2, 2, 2]
    assert all(sid.split("/")[1] in ("0.png", "1.png") for sid in sub.stimuli.ids)
    assert exp.pixels(sub, 32).dtype == torch.uint8 and exp.pixels(sub, 32).shape == (6, 3, 32, 32)
