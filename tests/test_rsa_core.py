"""RSA building blocks on synthetic features: dissimilarities, comparisons, id alignment, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import kendalltau, spearmanr

from humanalign.compare.rsa import (
    align,
    compare_rdms,
    evaluate,
    metric_rows,
    rdm_from_features,
    rdm_from_measurements,
)
from humanalign.features import FeatureSet
from humanalign.stimuli.base import StimulusSetError

IDS = [f"s{i:02d}" for i in range(12)]


def _features(seed: int = 0, ids: list[str] = IDS) -> FeatureSet:
    rng = np.random.default_rng(seed)
    feats = {"block0": rng.normal(size=(len(ids), 16)), "final": rng.normal(size=(len(ids), 8))}
    return FeatureSet(ids, {k: v.astype(np.float32) for k, v in feats.items()}, {"model": f"m{seed}"})


@pytest.mark.parametrize(("dissimilarity", "scipy_metric", "scale"), [
    ("correlation", "correlation", 1.0), ("cosine", "cosine", 1.0), ("euclidean", "sqeuclidean", 1 / 16)])
def test_dissimilarities_match_scipy(dissimilarity: str, scipy_metric: str, scale: float) -> None:
    x = _features()["block0"].astype(np.float64)
    rdm = rdm_from_measurements(x, IDS, dissimilarity)
    np.testing.assert_allclose(rdm.get_vectors()[0], pdist(x, scipy_metric) * scale, rtol=1e-6, atol=1e-9)


def test_crossnobis_with_repeated_runs() -> None:
    rng = np.random.default_rng(3)
    pattern = rng.normal(size=(6, 20)) * 3
    rows = np.concatenate([pattern + rng.normal(size=pattern.shape) for _ in range(4)])  # [24, 20]
    ids = [f"c{i}" for i in range(6)] * 4
    runs = np.repeat(np.arange(4), 6)
    rdm = rdm_from_measurements(rows, ids, "crossnobis", runs=runs)
    # Crossnobis is unbiased: it tracks the noise-free squared distances (per feature).
    truth = pdist(pattern, "sqeuclidean") / 20
    assert spearmanr(rdm.get_vectors()[0], truth)[0] > 0.9
    with pytest.raises(ValueError, match="run label"):
        rdm_from_measurements(rows, ids, "crossnobis")


def test_identical_features_give_rsa_one() -> None:
    a = rdm_from_features(_features(0))
    b = rdm_from_features(_features(0))
    for method in ("spearman", "kendall", "pearson", "cosine"):
        np.testing.assert_allclose(np.diag(compare_rdms(a, b, method)), 1.0, atol=1e-9)
    assert list(a.rdm_descriptors["layer"]) == ["block0", "final"]


def test_comparisons_match_scipy() -> None:
    a, b = rdm_from_features(_features(0), ["final"]), rdm_from_features(_features(1), ["final"])
    va, vb = a.get_vectors()[0], b.get_vectors()[0]
    assert compare_rdms(a, b, "spearman")[0, 0] == pytest.approx(spearmanr(va, vb)[0])
    assert compare_rdms(a, b, "pearson")[0, 0] == pytest.approx(np.corrcoef(va, vb)[0, 1])
    # Continuous values have no ties, so tau-a equals scipy's tau-b.
    assert compare_rdms(a, b, "kendall")[0, 0] == pytest.approx(kendalltau(va, vb)[0])


def test_shuffled_stimulus_order_is_aligned_not_assumed() -> None:
    feats = _features(0)
    order = np.random.default_rng(5).permutation(len(IDS))
    shuffled = FeatureSet([IDS[i] for i in order], {k: v[order] for k, v in feats.features.items()},
                          feats.provenance)
    a, b = rdm_from_features(feats, ["final"]), rdm_from_features(shuffled, ["final"])
    # Positionally the two RDMs disagree; aligned by id they are identical.
    naive = spearmanr(a.get_vectors()[0], b.get_vectors()[0])[0]
    assert naive < 0.9
    assert compare_rdms(a, b, "spearman")[0, 0] == pytest.approx(1.0)
    realigned = align(b, IDS)
    np.testing.assert_allclose(realigned.get_matrices(), a.get_matrices(), atol=1e-12)


def test_mismatched_stimulus_sets_raise() -> None:
    a = rdm_from_features(_features(0), ["final"])
    other = rdm_from_features(_features(0, ids=[f"t{i:02d}" for i in range(12)]), ["final"])
    with pytest.raises(StimulusSetError, match="do not match"):
        compare_rdms(a, other)
    fewer = rdm_from_features(_features(0, ids=IDS[:10]), ["final"])
    with pytest.raises(StimulusSetError, match="2 missing"):
        evaluate({"m": fewer}, a, bootstrap=None)


def test_evaluate_small_subjects_and_rows() -> None:
    """Subjects = noisy copies of one feature RDM: the true model beats an unrelated one."""
    rng = np.random.default_rng(0)
    truth = _features(0)["final"]
    subjects = rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject="1")
    for k in range(2, 6):
        subjects.append(rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject=str(k)))
    models = {"true": rdm_from_features(_features(0), ["final"]),
              "other": rdm_from_features(_features(9), ["final"])}
    ev = evaluate(models, subjects, bootstrap="both", n_boot=30, seed=1)
    value = ev.table.set_index("model")["value"]
    assert value["true"] > 0.5 > value["other"]
    assert ev.noise_ceiling[0] <= ev.noise_ceiling[1]
    expected = np.mean([spearmanr(models["true"].get_vectors()[0], v)[0] for v in subjects.get_vectors()])
    assert value["true"] == pytest.approx(expected)
    rows = metric_rows(ev, dataset="toy", condition="subjects",
                       labels={"true": {"model": "net", "layer": "final", "checkpoint_hash": "abc"}})
    assert set(rows["metric"]) == {"rsa_spearman", "rsa_spearman_noise_ceiling_lower",
                                   "rsa_spearman_noise_ceiling_upper"}
    assert rows.iloc[0][["model", "layer", "checkpoint_hash", "n"]].tolist() == ["net", "final", "abc", 5]
    with pytest.raises(ValueError, match="unknown RDM comparison"):
        evaluate(models, subjects, method="dtw", bootstrap=None)


def test_evaluate_too_few_bootstrap_samples_gives_nan_ci() -> None:
    """rsatoolbox frames the samples with -inf/+inf: under 40 samples a 95% CI would be infinite."""
    rng = np.random.default_rng(0)
    truth = _features(0)["final"]
    subjects = rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject="1")
    for k in range(2, 4):
        subjects.append(rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject=str(k)))
    models = {"true": rdm_from_features(_features(0), ["final"])}
    few = evaluate(models, subjects, bootstrap="stimuli", n_boot=10, seed=0).table
    assert few[["ci_low", "ci_high"]].isna().all().all()
    enough = evaluate(models, subjects, bootstrap="stimuli", n_boot=40, seed=0).table
    assert np.isfinite(enough[["ci_low", "ci_high"]].to_numpy()).all()
    assert (enough["ci_low"] <= enough["value"]).all() and (enough["value"] <= enough["ci_high"]).all()


@pytest.mark.parametrize("bootstrap", ["stimuli", "both", "joint", "dual"])
def test_stimulus_bootstrap_with_ids_out_of_sorted_order(bootstrap: str) -> None:
    """Ids like s0..s11 sort differently from their given order; the pattern bootstrap must still run."""
    ids = [f"s{i}" for i in range(12)]  # sorted: s0, s1, s10, s11, s2, ...
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(12, 8))
    subjects = rdm_from_measurements(truth + rng.normal(size=truth.shape), ids, subject="1")
    for k in range(2, 4):
        subjects.append(rdm_from_measurements(truth + rng.normal(size=truth.shape), ids, subject=str(k)))
    assert list(subjects.pattern_descriptors["index"]) == list(range(12))
    model = rdm_from_measurements(truth, ids)
    table = evaluate({"truth": model}, subjects, bootstrap=bootstrap, n_boot=40, seed=0).table
    assert np.isfinite(table[["ci_low", "ci_high"]].to_numpy()).all()
    assert table["ci_low"].item() <= table["value"].item() <= table["ci_high"].item()


def test_bootstrap_cis_do_not_depend_on_recomputing_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """evaluate() skips rsatoolbox's per-sample noise ceiling; the model CIs are identical with it."""
    import humanalign.compare.rsa as rsa

    rng = np.random.default_rng(0)
    truth = _features(0)["final"]
    subjects = rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject="1")
    for k in range(2, 5):
        subjects.append(rdm_from_measurements(truth + rng.normal(size=truth.shape), IDS, subject=str(k)))
    models = {"true": rdm_from_features(_features(0), ["final"]), "other": rdm_from_features(_features(9), ["final"])}
    skipped = evaluate(models, subjects, bootstrap="stimuli", n_boot=40, seed=3)
    runner = rsa.eval_bootstrap_pattern
    calls = []

    def recomputing(*args, **kwargs):  # evaluate passes boot_noise_ceil=False; override it
        calls.append(kwargs.get("boot_noise_ceil"))
        return runner(*args, **{**kwargs, "boot_noise_ceil": True})

    monkeypatch.setattr(rsa, "eval_bootstrap_pattern", recomputing)
    recomputed = evaluate(models, subjects, bootstrap="stimuli", n_boot=40, seed=3)
    assert calls == [False]
    assert np.array_equal(skipped.table[["ci_low", "ci_high"]].to_numpy(), recomputed.table[["ci_low", "ci_high"]].to_numpy())
    assert np.isfinite(skipped.table[["ci_low", "ci_high"]].to_numpy()).all()
