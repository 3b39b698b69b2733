"""score_grid on tiny encoders: determinism, model identity (same folder name, retrained in place),
unreadable stimuli, bf16 autocast on the CPU (resume after an interruption: test_robustness_experiment.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from humanalign.eval.grid import CLEAN, Cell, GridSettings, grid_cells, score_grid
from humanalign.eval.labelled import load_labelled
from humanalign.eval.robustness import run_robustness
from humanalign.io.results import ResultsStore
from humanalign.models.observers import load_observer, load_observers
from tests.grid_helper import image_set, save_run, truncate_png

CELLS = grid_cells(["gaussian_noise", "fog"], [1, 3])
CONDITIONS = ["clean", "gaussian_noise/1", "gaussian_noise/3", "fog/1", "fog/3"]


def _settings(tmp_path: Path, **kw) -> GridSettings:
    return GridSettings(**{"folds": 2, "batch_size": 8, "cache_dir": str(tmp_path / "cache"), **kw})


def test_grid_cells_and_conditions() -> None:
    assert [c.condition for c in CELLS] == CONDITIONS
    assert Cell(CLEAN, 3).condition == "clean" and Cell("fog", 2).condition == "fog/2"


def test_scores_are_deterministic_across_stores(tmp_path: Path) -> None:
    """The same grid in two fresh stores (no feature cache) gives the same trials: rewrites stay no-ops."""
    data = load_labelled(image_set(tmp_path / "toy"))
    cells = grid_cells(["gaussian_noise", "pixelate"], [3])
    runs = []
    for k in range(2):
        store = ResultsStore(tmp_path / f"r{k}.sqlite")
        score_grid(load_observer("vit_test_image"), data, cells, store,
                   _settings(tmp_path, cache_dir=str(tmp_path / f"cache{k}")))
        runs.append(store.trials().sort_values(["condition", "trial"])[["condition", "object_response"]])
    assert runs[0].to_numpy().tolist() == runs[1].to_numpy().tolist()


def test_two_models_with_the_same_folder_name_are_both_scored(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    save_run(runs / "a" / "A", seed=1)
    save_run(runs / "b" / "A", seed=2)
    observers = load_observers(f"{runs / 'a' / 'A'},{runs / 'b' / 'A'}")
    assert [o.id for o in observers] == ["a/A", "b/A"]
    assert observers[0].weights_hash != observers[1].weights_hash
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    grids, summary = run_robustness(observers, data, ["gaussian_noise", "fog"], [1, 3], store, _settings(tmp_path))
    assert [g.computed for g in grids] == [CONDITIONS, CONDITIONS], "the second 'A' must not ride on the first"
    assert all(not g.skipped for g in grids)
    acc = store.metrics(metric="accuracy")
    assert acc.groupby("model").size().to_dict() == {"a/A": 5, "b/A": 5}
    assert acc.groupby("model")["checkpoint_hash"].nunique().eq(1).all()
    assert acc["checkpoint_hash"].nunique() == 2
    assert store.trials().groupby("observer").size().to_dict() == {"a/A": 60, "b/A": 60}
    mpc = store.metrics(metric="mPC")
    assert sorted(mpc["model"]) == ["a/A", "b/A"]
    assert list(store.metrics(metric="mcnemar_p_holm")["model"].unique()) == ["a/A|b/A"]


def test_a_model_retrained_in_place_is_scored_again(tmp_path: Path) -> None:
    run = save_run(tmp_path / "runs" / "A", seed=1, step=1)
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    old = score_grid(load_observer(str(run)), data, CELLS, store, _settings(tmp_path))
    assert old.computed == CONDITIONS
    save_run(run, seed=7, step=2)  # the same folder, new weights (LATEST -> 2)
    again = load_observer(str(run))
    assert again.id == old.observer == "A"
    new = score_grid(again, data, CELLS, store, _settings(tmp_path))
    assert new.weights_hash != old.weights_hash
    assert new.computed == CONDITIONS and not new.skipped, "new weights are a new model: every cell again"
    assert new.config_hash == old.config_hash
    acc = store.metrics(metric="accuracy", model="A")
    assert acc.groupby("checkpoint_hash").size().to_dict() == {old.weights_hash: 5, new.weights_hash: 5}
    assert len(store.trials(observer="A", checkpoint_hash=old.weights_hash)) == 60, "old rows stay"
    assert len(store.trials(observer="A", checkpoint_hash=new.weights_hash)) == 60
    assert not score_grid(again, data, CELLS, store, _settings(tmp_path)).computed


def test_an_unreadable_image_is_skipped_counted_and_the_grid_finishes(tmp_path: Path) -> None:
    root = image_set(tmp_path / "toy", per_class=5)
    broken = truncate_png(root / "green" / "4.png")
    data = load_labelled(root)
    assert len(data) == 15
    store = ResultsStore(tmp_path / "r.sqlite")
    res = score_grid(load_observer("vit_test_image"), data, CELLS, store, _settings(tmp_path))
    assert res.computed == CONDITIONS
    assert [sid for sid, _ in res.unreadable] == ["green/4.png"] and str(broken) in res.unreadable[0][1]
    row = store.metrics(metric="unreadable_stimuli")
    assert len(row) == 1 and row["value"].iloc[0] == 1 and row["n"].iloc[0] == 15
    assert row["config_hash"].iloc[0] == res.config_hash and "green/4.png" in row["skipped"].iloc[0][0]
    trials = store.trials()
    assert len(trials) == 5 * 14 and "green/4.png" not in set(trials["imagename"])
    assert (store.metrics(metric="accuracy")["n"] == 14).all()
    again = score_grid(load_observer("vit_test_image"), data, [*CELLS, Cell("pixelate", 2)], store,
                       _settings(tmp_path))
    assert again.computed == ["pixelate/2"] and len(store.metrics(metric="unreadable_stimuli")) == 1


def test_bf16_autocast_on_cpu_is_a_protocol_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import torch

    fx = importlib.import_module("humanalign.features.extract")  # the module (the package exports a function)

    seen: list[torch.dtype | None] = []
    real = fx.autocast

    def spy(device, dtype):
        seen.append(dtype)
        return real(device, dtype)

    monkeypatch.setattr(fx, "autocast", spy)
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    obs = load_observer("timm:resnet10t|size=32")
    cells = grid_cells(["gaussian_noise"], [2])
    fp32 = score_grid(obs, data, cells, store, _settings(tmp_path, device="cpu", dtype="fp32"))
    assert set(seen) == {None}
    seen.clear()
    bf16 = score_grid(obs, data, cells, store, _settings(tmp_path, device="cpu", dtype="bf16"))
    assert set(seen) == {torch.bfloat16}, "bf16 must reach the forward as CPU autocast"
    assert bf16.computed == fp32.computed == ["clean", "gaussian_noise/2"]
    assert bf16.config_hash != fp32.config_hash and bf16.weights_hash == fp32.weights_hash
    acc = store.metrics(metric="accuracy")
    assert acc.groupby("config_hash").size().to_dict() == {fp32.config_hash: 2, bf16.config_hash: 2}
    assert acc["value"].between(0, 1).all()
    auto = score_grid(obs, data, cells, store, _settings(tmp_path, device="cpu", dtype="auto"))
    assert auto.config_hash == fp32.config_hash and not auto.computed, "auto on the CPU is fp32"


def test_no_store_computes_everything_and_writes_nothing(tmp_path: Path) -> None:
    data = load_labelled(image_set(tmp_path / "toy")).per_class(2)
    res = score_grid(load_observer("vit_test_image"), data, grid_cells(["fog"], [5]), None, _settings(tmp_path))
    assert res.computed == ["clean", "fog/5"] and res.protocol["protocol"] == "readout"
    assert res.protocol["folds"] == 2


def test_the_batch_size_is_part_of_the_protocol(tmp_path: Path) -> None:
    """Perturbation draws are seeded per batch, so another batch size is another protocol (not a rewrite)."""
    import torch

    from humanalign.eval.grid import _generator
    from humanalign.registry import CORRUPTIONS

    x, noise, cpu = torch.rand(12, 3, 16, 16), CORRUPTIONS.get("gaussian_noise"), torch.device("cpu")
    by4 = torch.cat([noise(x[i:i + 4], 3, generator=_generator(0, "gaussian_noise", 3, k, cpu))
                     for k, i in enumerate(range(0, 12, 4))])
    by12 = noise(x, 3, generator=_generator(0, "gaussian_noise", 3, 0, cpu))
    assert not torch.equal(by4, by12), "the inputs depend on the batch size"
    data = load_labelled(image_set(tmp_path / "toy"))
    store = ResultsStore(tmp_path / "r.sqlite")
    obs = load_observer("vit_test_image")
    cells = grid_cells(["gaussian_noise"], [3])
    four = score_grid(obs, data, cells, store, _settings(tmp_path, batch_size=4))
    twelve = score_grid(obs, data, cells, store, _settings(tmp_path, batch_size=12))
    assert four.config_hash != twelve.config_hash and twelve.computed == ["clean", "gaussian_noise/3"]
    assert not score_grid(obs, data, cells, store, _settings(tmp_path, batch_size=4)).computed
