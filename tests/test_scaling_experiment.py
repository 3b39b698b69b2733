"""experiments/scaling.py end to end on the shipped published points: figure, parameter CSV, results rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from humanalign.compare.published import load_published_scaling
from humanalign.io.results import ResultsStore
from tests.scripts_helper import load_script


@pytest.fixture(scope="module")
def scaling_script():
    return load_script("experiments/scaling.py")


def test_acceptance_outputs_and_fitted_values(tmp_path: Path, scaling_script) -> None:
    assert scaling_script.main(["--out", str(tmp_path), "--results", str(tmp_path / "results.sqlite")]) == 0
    assert (tmp_path / "scaling.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    params = pd.read_csv(tmp_path / "scaling_params.csv")
    assert {"estimate", "ci_low", "ci_high", "se", "p_value"} <= set(params.columns)
    # Slopes agree with an independent least-squares fit of the shipped points.
    fit = load_published_scaling(role="fit")
    for (dataset, shots), grp in fit.groupby(["dataset", "shots"]):
        slope = np.polyfit(np.log10(grp["hours"]), grp["acc_last"], 1)[0]  # the default: last logged epoch
        row = params[(params.dataset == dataset) & (params.shots == shots) & (params.param == "slope_per_decade")]
        assert row["estimate"].iloc[0] == pytest.approx(slope)
        assert row["ci_low"].iloc[0] < slope < row["ci_high"].iloc[0]
    extrap = pd.read_csv(tmp_path / "scaling_extrapolation.csv")
    assert set(extrap["hours"]) == {4971.0} and len(extrap) == 8
    assert (extrap["pi_low"] < extrap["mean_ci_low"]).all() and (extrap["pi_high"] > extrap["mean_ci_high"]).all()
    store = ResultsStore(tmp_path / "results.sqlite")
    rows = store.metrics(benchmark="scaling")
    assert set(rows["role"]) == {"fit", "heldout", "curve", "param", "prediction", "test"}
    assert store.has_metrics(benchmark="scaling", metric="slope_per_decade", dataset="ssv2", condition="10-shot")
    for frame in (params, extrap, rows):  # every output row names the epoch choice
        assert set(frame["accuracy_epoch"]) == {"last"}


def test_best_epoch_is_an_explicit_labelled_choice(tmp_path: Path, scaling_script) -> None:
    assert scaling_script.main(["--out", str(tmp_path), "--accuracy", "best", "--results", str(tmp_path / "results.sqlite")]) == 0
    params = pd.read_csv(tmp_path / "scaling_params.csv")
    assert set(params["accuracy_epoch"]) == {"best"} and params["accuracy_epoch_note"].str.contains("optimistic").all()
    fit = load_published_scaling(role="fit")
    grp = fit[(fit.dataset == "ssv2") & (fit.shots == 10)]
    row = params[(params.dataset == "ssv2") & (params.shots == 10) & (params.param == "slope_per_decade")]
    assert row["estimate"].iloc[0] == pytest.approx(np.polyfit(np.log10(grp["hours"]), grp["acc_best"], 1)[0])
    rows = ResultsStore(tmp_path / "results.sqlite").metrics(benchmark="scaling")
    assert set(rows["accuracy_epoch"]) == {"best"}
