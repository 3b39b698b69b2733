"""run_robustness and its parsers: which cells, summaries from the store's trials of each grid's own
weights and protocol, reruns that add nothing, pairwise rows across protocols."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from humanalign.config import config_hash
from humanalign.eval.grid import GridSettings
from humanalign.eval.labelled import load_labelled
from humanalign.eval.robustness import (
    family_of,
    grid_trials,
    parse_severities,
    resolve_corruptions,
    run_robustness,
)
from humanalign.io.results import ResultsStore
from humanalign.models.observers import as_observer, load_observer
from humanalign.perturb.corruptions import ALL_CORRUPTIONS, CorruptionError
from humanalign.registry import MODELS, VIDEO_PERTURBATIONS
from tests.grid_helper import duplicates, image_set


def _settings(tmp_path: Path, **kw) -> GridSettings:
    return GridSettings(**{"folds": 2, "batch_size": 8, "device": "cpu", "cache_dir": str(tmp_path / "cache"), **kw})


def test_resolve_corruptions() -> None:
    assert resolve_corruptions("all", is_video=False) == list(ALL_CORRUPTIONS) and len(ALL_CORRUPTIONS) == 19
    assert resolve_corruptions("all", is_video=True) == list(VIDEO_PERTURBATIONS.list())
    assert resolve_corruptions(" fog, jumble ", is_video=True) == ["fog", "jumble"]  # image ones are lifted
    with pytest.raises(CorruptionError, match=r"unknown image corruption 'gausian_noise'.*gaussian_noise"):
        resolve_corruptions("gausian_noise", is_video=False)
    with pytest.raises(CorruptionError, match="video perturbation"):
        resolve_corruptions("nope", is_video=True)
    with pytest.raises(CorruptionError, match="no corruption"):
        resolve_corruptions(" , ", is_video=False)


def test_parse_severities_and_families() -> None:
    assert parse_severities("1-5") == [1, 2, 3, 4, 5] and parse_severities("3,1,3") == [1, 3]
    for bad in ("0-2", "4-6", "a", "", "2-"):
        with pytest.raises(ValueError, match="severities"):
            parse_severities(bad)
    assert family_of("fog", is_video=False) == "weather"
    assert family_of("jumble", is_video=True) == "temporal" and family_of("fog", is_video=True) == "weather"


def test_summaries_come_from_the_stored_cells_and_reruns_add_nothing(tmp_path: Path) -> None:
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    obs = [load_observer("vit_test_image"), load_observer("timm:resnet10t|size=32")]
    grids, summary = run_robustness(obs, data, ["gaussian_noise", "fog"], [1, 4], store, _settings(tmp_path))
    assert [len(g.computed) for g in grids] == [5, 5]
    total = len(store)
    acc = store.metrics(metric="accuracy")
    for g in grids:
        mine = acc[acc["model"] == g.observer]
        mpc = store.metrics(metric="mPC", model=g.observer)
        assert len(mpc) == 1 and mpc["checkpoint_hash"].iloc[0] == g.weights_hash
        assert mpc["config_hash"].iloc[0] == g.config_hash
        corrupted = mine[mine["condition"] != "clean"].set_index("condition")["value"]
        expected = np.mean([np.mean([corrupted[f"{c}/{s}"] for s in (1, 4)]) for c in ("gaussian_noise", "fog")])
        assert mpc["value"].iloc[0] == pytest.approx(expected)
        clean = float(mine.loc[mine["condition"] == "clean", "value"].iloc[0])
        gamma = store.metrics(metric="gamma_a", model=g.observer)
        assert len(gamma) == (4 if clean > 0 else 0)
    pair = store.metrics(metric="mcnemar_p_holm")
    assert set(pair["model"]) == {"vit_test_image|timm:resnet10t"} and len(pair) == 4
    assert (pair["config_hash"] == grids[0].config_hash).all(), "same protocol: the shared hash"
    again, summary2 = run_robustness(obs, data, ["gaussian_noise", "fog"], [1, 4], store, _settings(tmp_path))
    assert all(not g.computed and len(g.skipped) == 5 for g in again)
    assert len(store) == total and len(summary2.rows) == len(summary.rows), "summaries are not duplicated"
    assert duplicates(store.path, "metrics") == 0 and duplicates(store.path, "trials") == 0
    assert summary.heat.shape[0] == 4 and set(summary.families["family"]) == {"noise", "weather"}


def test_a_grid_reads_only_its_own_protocols_trials(tmp_path: Path) -> None:
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    obs = [load_observer("vit_test_image")]
    two, _ = run_robustness(obs, data, ["fog"], [2], store, _settings(tmp_path))
    three, summary = run_robustness(obs, data, ["fog"], [2], store, _settings(tmp_path, folds=3))
    assert two[0].config_hash != three[0].config_hash and three[0].computed == ["clean", "fog/2"]
    assert len(store.trials()) == 2 * 2 * 12
    own = grid_trials(store, three, data.name)
    assert len(own) == 2 * 12 and set(own["config_hash"]) == {three[0].config_hash}
    assert {"model", "item", "corruption", "severity", "correct"} <= set(own.columns)
    assert set(summary.cells["n"]) == {12}, "trials of the other protocol leaked into the summary"
    mpc = store.metrics(metric="mPC")
    assert sorted(mpc["config_hash"]) == sorted([two[0].config_hash, three[0].config_hash])


def test_pairwise_rows_of_a_head_and_a_readout_carry_a_hash_of_both(tmp_path: Path) -> None:
    root = image_set(tmp_path / "idx", per_class=3, classes=("0", "1", "2"))
    data = load_labelled(root)
    enc = MODELS.build("vit_test_image").eval()
    enc.head = nn.Linear(enc.embed_dim, 3)
    obs = [as_observer(enc, name="headnet"), load_observer("vit_test_image")]
    grids, _ = run_robustness(obs, data, ["gaussian_noise"], [3], store := ResultsStore(tmp_path / "r.sqlite"),
                              _settings(tmp_path))
    assert [g.protocol["protocol"] for g in grids] == ["head", "readout"]
    assert set(store.trials(observer="headnet")["session"]) == {"head"}
    pair = store.metrics(metric="mcnemar_p_holm")
    assert list(pair["model"]) == ["headnet|vit_test_image"]
    assert pair["config_hash"].iloc[0] == config_hash({"a": grids[0].config_hash, "b": grids[1].config_hash})
    assert pair["hashes"].iloc[0] == {"headnet": grids[0].weights_hash, "vit_test_image": grids[1].weights_hash}
