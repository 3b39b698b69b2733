"""RSA bootstrap choices: each name runs the rsatoolbox function it says, rows say which one ran, and the
default resamples subjects (dual bootstrap) where there are subjects to resample."""

from __future__ import annotations

import numpy as np
import pytest
from rsatoolbox.inference import eval_bootstrap, eval_dual_bootstrap
from rsatoolbox.model import ModelFixed

from humanalign.compare.rsa import align, evaluate, metric_rows, rdm_from_measurements, resolve_bootstrap

IDS = [f"s{i:02d}" for i in range(10)]


def _data(n_subjects: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(len(IDS), 6))
    subjects = rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject="1")
    for k in range(2, n_subjects + 1):
        subjects.append(rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject=str(k)))
    models = {"truth": rdm_from_measurements(truth, IDS),
              "other": rdm_from_measurements(rng.normal(size=truth.shape), IDS)}
    return models, subjects


def _fixed(models, subjects):
    ids = subjects.pattern_descriptors["stimulus"]
    return [ModelFixed(name, align(rdm, ids)) for name, rdm in models.items()]


def test_dual_equals_rsatoolbox_eval_dual_bootstrap():
    models, subjects = _data(5)
    table = evaluate(models, subjects, bootstrap="dual", n_boot=20, seed=4).table
    np.random.seed(4)  # noqa: NPY002 (rsatoolbox draws from the global RNG)
    ref = eval_dual_bootstrap(_fixed(models, subjects), subjects, method="spearman", N=20)
    np.testing.assert_allclose(table["sem"], ref.get_sem())
    low, high = ref.get_ci(0.95, test_type="t-test")
    np.testing.assert_allclose(table["ci_low"], low)
    np.testing.assert_allclose(table["ci_high"], high)
    assert set(table["bootstrap"]) == {"dual"} and set(table["ci_method"]) == {"t"}
    ev = evaluate(models, subjects, bootstrap="dual", n_boot=20, seed=4)
    pairs = ev.pairwise()
    np.testing.assert_allclose(pairs["p"].iloc[0], ref.test_pairwise(test_type="t-test")[0, 1])


def test_joint_is_rsatoolbox_eval_bootstrap_and_both_is_the_dual_alias():
    models, subjects = _data(5)
    joint = evaluate(models, subjects, bootstrap="joint", n_boot=40, seed=2).table
    np.random.seed(2)  # noqa: NPY002
    ref = eval_bootstrap(_fixed(models, subjects), subjects, method="spearman", N=40, boot_noise_ceil=False)
    with np.errstate(invalid="ignore"):
        low, high = ref.get_ci(0.95, test_type="bootstrap")
    np.testing.assert_allclose(joint["ci_low"], low)
    np.testing.assert_allclose(joint["ci_high"], high)
    both = evaluate(models, subjects, bootstrap="both", n_boot=40, seed=2).table
    dual = evaluate(models, subjects, bootstrap="dual", n_boot=40, seed=2).table
    np.testing.assert_allclose(both[["sem", "ci_low", "ci_high"]], dual[["sem", "ci_low", "ci_high"]])
    assert set(both["bootstrap"]) == {"dual"}


def test_default_resamples_subjects_where_there_are_subjects():
    models, subjects = _data(4)
    ev = evaluate(models, subjects, n_boot=40, seed=0)
    assert ev.bootstrap == "dual" and set(ev.table["bootstrap"]) == {"dual"}
    models, two = _data(2)
    assert evaluate(models, two, n_boot=40, seed=0).bootstrap == "stimuli"
    assert resolve_bootstrap("auto", 3) == "dual" and resolve_bootstrap("auto", 1) == "stimuli"
    assert resolve_bootstrap("none", 9) is None and resolve_bootstrap("subjects", 2) == "subjects"
    with pytest.raises(ValueError, match="unknown bootstrap"):
        resolve_bootstrap("pairs", 5)


@pytest.mark.parametrize("bootstrap,ci_method", [("stimuli", "percentile"), ("subjects", "percentile"),
                                                 ("joint", "percentile"), ("dual", "t"), (None, "none")])
def test_every_metric_row_names_its_bootstrap(bootstrap, ci_method):
    models, subjects = _data(4)
    rows = metric_rows(evaluate(models, subjects, bootstrap=bootstrap, n_boot=40, seed=0),
                       dataset="toy", condition="subjects")
    assert len(rows) == 4 and set(rows["bootstrap"]) == {bootstrap or "none"}
    model_rows = rows[rows["model"] != "noise_ceiling"]
    assert set(model_rows["ci_method"]) == {ci_method}
    assert set(rows.loc[rows["model"] == "noise_ceiling", "ci_method"]) == {"none"}
