"""End-to-end: experiments/rsa.py on the 92 images (references and a tiny encoder), and the RSA plots."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

from humanalign.features import extract, state_dict_hash
from humanalign.registry import MODELS
from humanalign.report.plots_rsa import plot_layer_profile, plot_model_bars, plot_rdm
from humanalign.stimuli.base import load_stimulus_set
from humanalign.stimuli.rsa92 import load_references
from tests.scripts_helper import load_script


def _cli():
    return load_script("experiments/rsa.py")


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert _cli().main(argv) == 0
    return out.getvalue()


@pytest.mark.shared_data
def test_references_only_csv(rsa92_root: Path, tmp_path: Path) -> None:
    text = _run(["--references-only", "--root", str(rsa92_root), "--format", "csv", "--n-boot", "40",
                 "--results", str(tmp_path / "r.sqlite")])
    table = pd.read_csv(io.StringIO(text)).set_index("model")
    assert len(table) == 9  # 8 reference models + the noise-ceiling row
    assert round(table.loc["monkeyIT", "value"], 3) == 0.296
    assert round(table.loc["animacy", "value"], 3) == 0.386
    assert (round(table.loc["noise_ceiling", "nc_lower"], 3), round(table.loc["noise_ceiling", "nc_upper"], 3)) \
        == (0.372, 0.666)
    assert (table.drop("noise_ceiling")["ci_low"] < table.drop("noise_ceiling")["ci_high"]).all()
    from humanalign.io.results import ResultsStore

    rows = ResultsStore(tmp_path / "r.sqlite").metrics(benchmark="rsa", model="reference:monkeyIT")
    assert len(rows) == 1 and round(rows["value"].item(), 3) == 0.296 and rows["condition"].item() == "hIT"


@pytest.mark.shared_data
@pytest.mark.slow
def test_tiny_encoder_layerwise(rsa92_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(["--models", "vit_test_image", "--set", "rsa92", "--layers", "all", "--root", str(rsa92_root),
          "--n-boot", "20", "--results", str(tmp_path / "r.sqlite"), "--out", str(out),
          "--cache-dir", str(tmp_path / "cache"), "--format", "csv"])
    for stem in ("rsa_rdms", "rsa_layers_hIT", "rsa_models_hIT"):
        assert (out / f"{stem}.pdf").is_file() and (out / f"{stem}.png").is_file()
    pairs = pd.read_csv(out / "rsa_pairwise_hIT.csv")
    assert len(pairs) == 3 and pairs["p"].between(0, 1).all()  # 3 layers -> 3 paired tests
    from humanalign.io.results import ResultsStore

    rows = ResultsStore(tmp_path / "r.sqlite").metrics(benchmark="rsa", model="vit_test_image")
    assert sorted(rows["layer"]) == ["block0", "block1", "final"]
    # Independent recomputation: same seed -> same weights; scipy RDMs and Spearman, mean over subjects.
    torch.manual_seed(0)
    model = MODELS.build("vit_test_image").eval()
    assert set(rows["checkpoint_hash"]) == {state_dict_hash(model)[:16]}  # the store keeps 16 hex digits
    feats = extract(model, load_stimulus_set("rsa92", rsa92_root), layers=["final"], use_cache=False,
                    progress=False)
    subjects = load_references(rsa92_root).hit_subjects().get_vectors()  # [4, 4186]
    expected = np.mean([spearmanr(pdist(feats["final"].astype(np.float64), "correlation"), s)[0]
                        for s in subjects])
    assert rows.set_index("layer").loc["final", "value"] == pytest.approx(expected, abs=1e-6)


def test_plot_rdm_orders_by_category() -> None:
    ids = ["d", "a", "c", "b"]
    cats = pd.Series({"a": "x", "b": "x", "c": "y", "d": "y"})
    mat = np.array([[0, 1, 2, 3], [1, 0, 4, 5], [2, 4, 0, 6], [3, 5, 6, 0]], dtype=float)
    rdm = pd.DataFrame(mat, index=ids, columns=ids)
    ax = plot_rdm(rdm, cats, category_order=["x", "y"], rank=False)
    shown = np.asarray(ax.images[0].get_array())
    order = ["a", "b", "d", "c"]  # category x first, then y; within a category the given order
    np.testing.assert_array_equal(shown, rdm.loc[order, order].to_numpy())
    with pytest.raises(ValueError, match="no category"):
        plot_rdm(rdm, cats.drop("d"))
    with pytest.raises(ValueError, match="square"):
        plot_rdm(rdm.iloc[:3])


def test_profile_and_bars_draw_the_given_numbers() -> None:
    df = pd.DataFrame({"model": ["m"] * 3, "layer": ["block0", "block1", "final"],
                       "value": [0.1, 0.3, 0.2], "ci_low": [0.0, 0.2, 0.1], "ci_high": [0.2, 0.4, 0.3]})
    ax = plot_layer_profile(df, noise_ceiling=(0.5, 0.7))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.1, 0.3, 0.2])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["block0", "block1", "final"]
    ax = plot_model_bars(df.assign(model=["a", "b", "c"]), noise_ceiling=(0.5, 0.7))
    np.testing.assert_allclose([p.get_height() for p in ax.patches if p.get_width() < 1][:3], [0.1, 0.3, 0.2])
    with pytest.raises(ValueError, match="lacks columns"):
        plot_layer_profile(df.drop(columns="layer"))
