"""experiments/alignment.py end to end on a tiny model, plus the stimulus sets and behaviour plots it uses."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from humanalign.io.results import ResultsStore
from humanalign.io.trials import load_raw_data
from humanalign.registry import STIMULUS_SETS
from humanalign.report.plots_behaviour import plot_consistency_vs_accuracy, plot_shape_bias
from humanalign.stimuli.base import StimulusSetError
from humanalign.stimuli.model_vs_human import load_model_vs_human, parse_imagename
from humanalign.stimuli.texture_shape import SETS, folder_checksum
from tests.scripts_helper import load_script


@pytest.fixture(scope="module")
def alignment_script():
    return load_script("experiments/alignment.py")


@pytest.mark.shared_data
def test_texture_shape_sets_match_the_human_trials(texture_shape_root: Path, mvh_raw_data: Path) -> None:
    humans = load_raw_data(mvh_raw_data, datasets=["cue-conflict", "edge", "silhouette"], observers=["subject-01"])
    for name, expected in (("edge", 160), ("silhouette", 160), ("cue-conflict", 320)):
        stimuli = STIMULUS_SETS.build(name, texture_shape_root)
        assert len(stimuli) == expected
        assert STIMULUS_SETS.meta(name)["licence"] == "CC-BY-4.0"
        trial_ids = set(humans.loc[humans["dataset"] == name, "image_id"])
        assert set(stimuli.table["image_id"]) <= trial_ids  # every image has human trials
        shown = humans[(humans["dataset"] == name) & humans["image_id"].isin(stimuli.table["image_id"])]
        merged = shown.merge(stimuli.table, on="image_id", suffixes=("", "_stim"))
        assert (merged["category"] == merged["category_stim"]).all()  # same shape label
    for name in ("edge", "silhouette"):
        folder = texture_shape_root / ("edges" if name == "edge" else "silhouettes")
        assert folder_checksum(folder) == SETS[name][2]
    cue = STIMULUS_SETS.build("cue-conflict", texture_shape_root)
    assert not cue.meta["complete"]
    assert cue.table.loc[cue.table["imagename"] == "airplane1-bicycle2.png", "texture"].item() == "bicycle"


def test_stimulus_set_errors(tmp_path: Path) -> None:
    with pytest.raises(StimulusSetError, match="none of the folders cue-conflict"):
        STIMULUS_SETS.build("cue-conflict", tmp_path)
    with pytest.raises(StimulusSetError, match="give the folder of a local copy"):
        STIMULUS_SETS.build("mvh-contrast")
    assert STIMULUS_SETS.meta("mvh-contrast")["url"].endswith("/releases/download/v0.1/contrast.tar.gz")
    bad = tmp_path / "edges" / "zebra"
    bad.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(bad / "zebra1.png")
    with pytest.raises(StimulusSetError, match="'zebra' is not one of the 16 categories"):
        STIMULUS_SETS.build("edge", tmp_path)


def test_model_vs_human_names_are_parsed(tmp_path: Path) -> None:
    assert parse_imagename(Path("0001_cl_dnn_cr_oven_40_n04111531_14126.png")) == ("oven", "cr")
    assert parse_imagename(Path("x/cat/cat3-dog1.png")) == ("cat", "0")
    folder = tmp_path / "contrast" / "dnn" / "session-1"
    folder.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(folder / "0001_cop_dnn_c30_knife_10_n03041632_7380.png")
    stimuli = load_model_vs_human("contrast", tmp_path)
    row = stimuli.table.iloc[0]
    assert (row["category"], row["condition"], row["image_id"]) == ("knife", "c30", "n03041632_7380.png")


def test_plots_draw_one_point_per_observer_and_category(tmp_path: Path) -> None:
    per_cat = pd.DataFrame({"observer": ["m", "m", "humans", "humans", "subject-01", "subject-01"],
                            "category": ["cat", "dog"] * 3, "value": [0.2, 0.4, 0.9, 0.95, 0.8, 0.9]})
    ax = plot_shape_bias(per_cat, pd.DataFrame({"observer": ["m", "humans"], "value": [0.3, 0.92]}))
    offsets = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    assert sorted(len(o) for o in offsets) == [2, 2]  # 2 observers (subjects hidden) x 2 categories
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]  # ordered by humans
    summary = pd.DataFrame({"observer": ["m", "humans"], "accuracy_difference": [0.1, 0.01],
                            "error_consistency": [0.2, 0.4]})
    ax2 = plot_consistency_vs_accuracy(summary)
    assert {t.get_text() for t in ax2.texts} == {"m", "humans"}
    with pytest.raises(ValueError, match="lacks column"):
        plot_consistency_vs_accuracy(summary.drop(columns=["error_consistency"]))
    plt.close("all")


@pytest.mark.shared_data
@pytest.mark.slow
def test_alignment_experiment_end_to_end(tmp_path: Path, texture_shape_root: Path, mvh_raw_data: Path,
                                         alignment_script, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "r.sqlite"
    status = alignment_script.main([
        "--models", "vit_test_image", "--sets", "cue-conflict,edge", "--stimuli-root", str(texture_shape_root),
        "--raw-data", str(mvh_raw_data), "--results", str(results), "--out", str(tmp_path / "out"),
        "--max-stimuli", "48", "--folds", "3", "--bootstrap", "20", "--cache-dir", str(tmp_path / "cache")])
    assert status == 0
    store = ResultsStore(results)
    trials = store.trials(observer="vit_test_image")
    assert len(trials) == 96 and set(trials["dataset"]) == {"cue-conflict", "edge"}
    metrics = store.metrics(benchmark="model-vs-human", model="vit_test_image")
    ec = metrics[(metrics["dataset"] == "edge") & (metrics["metric"] == "error_consistency")].iloc[0]
    assert -1 <= ec["value"] <= 1 and ec["ci_low"] <= ec["ci_high"]
    protocol = json.loads(ec["protocol"])
    assert protocol["decision"] == "readout16" and protocol["folds"] == 3 and protocol["layer"] == "final"
    cue = metrics[(metrics["dataset"] == "cue-conflict") & (metrics["metric"] == "shape_bias")]
    assert json.loads(cue.iloc[0]["protocol"])["labels"] == "shape+texture"
    # the model's accuracy row equals the accuracy of its stored trials
    acc = metrics[(metrics["dataset"] == "edge") & (metrics["metric"] == "ood_accuracy")]["value"].item()
    edge = trials[trials["dataset"] == "edge"]
    assert acc == pytest.approx(np.mean(edge["object_response"] == edge["category"]))
    humans = store.metrics(model="humans", dataset="edge", metric="error_consistency")
    assert len(humans) == 1 and 0 < humans["value"].item() < 1
    for stem in ("shape_bias", "consistency_vs_accuracy"):
        assert (tmp_path / "out" / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
        assert (tmp_path / "out" / f"{stem}.png").stat().st_size > 1000
    assert "vit_test_image" in capsys.readouterr().out


def test_stimulus_manifests_match_the_code() -> None:
    import yaml

    from humanalign.compare.behaviour import EXCLUDED_CONDITIONS

    root = Path(__file__).resolve().parents[1] / "stimuli"
    mvh = yaml.safe_load((root / "model-vs-human.yaml").read_text())
    assert {k: tuple(v) for k, v in mvh["excluded_conditions"].items()} == EXCLUDED_CONDITIONS
    tvs = yaml.safe_load((root / "texture-vs-shape.yaml").read_text())
    assert {k: (v["images"], v["sha256"]) for k, v in tvs["sets"].items()} == {k: v[1:] for k, v in SETS.items()}
