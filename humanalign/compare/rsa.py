"""Representational similarity analysis on rsatoolbox: model RDMs, evaluation, noise ceilings, bootstrap.

Everything statistical is delegated to rsatoolbox (``calc_rdm``, ``compare``, ``eval_fixed``,
``eval_bootstrap*``, ``boot_noise_ceiling``, ``Result.test_pairwise``); this module builds the
inputs with stimulus ids attached, aligns RDMs by id (never by position), and turns results into
the project's long-format metric rows.

Conventions:

* Every RDM carries a ``stimulus`` pattern descriptor; :func:`align` reorders an RDM to a given
  id order and raises :class:`~humanalign.stimuli.base.StimulusSetError` when the stimulus sets
  differ.
* Dissimilarities: ``"correlation"`` (1 - Pearson r), ``"euclidean"`` (squared, divided by the
  number of features, as rsatoolbox does), ``"cosine"`` (1 - cosine similarity; computed as
  rsatoolbox's euclidean RDM of unit-length rows times ``D / 2``), ``"crossnobis"`` (needs repeated
  measurements with a ``run`` per row).
* Comparisons: ``"spearman"``, ``"kendall"`` (Kendall tau-a), ``"pearson"``, ``"cosine"``.
* Evaluation of fixed model RDMs against subject RDMs: the point estimate is the mean over
  subjects (``eval_fixed``); the noise ceiling is rsatoolbox's leave-one-subject-out lower and
  all-subjects upper bound. Uncertainty comes from one of :data:`BOOTSTRAPS`: ``"stimuli"``
  (``eval_bootstrap_pattern``), ``"subjects"`` (``eval_bootstrap_rdm``), ``"joint"`` (``eval_bootstrap``:
  stimuli and subjects resampled together, percentile CI; it understates the two-factor variance) or
  ``"dual"`` (``eval_dual_bootstrap``: rsatoolbox's variance-corrected bootstrap over both factors, t CI
  from that variance). ``"both"`` is the old name and now means ``"dual"``. The default ``"auto"`` is
  ``"dual"`` when the data have at least :data:`MIN_SUBJECTS_FOR_SUBJECT_BOOTSTRAP` subjects (subject
  variance then counts) and ``"stimuli"`` otherwise; every metric row says which one ran.

Example:
    >>> refs = load_references(root)
    >>> ev = evaluate({"monkeyIT": refs.model("monkeyIT")}, refs.hit_subjects(), method="spearman")
    >>> ev.table        # model, value, sem, ci_low, ci_high, n
    >>> ev.noise_ceiling
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from rsatoolbox.data import Dataset
from rsatoolbox.inference import (
    boot_noise_ceiling,
    eval_bootstrap,
    eval_bootstrap_pattern,
    eval_bootstrap_rdm,
    eval_dual_bootstrap,
    eval_fixed,
)
from rsatoolbox.inference.result import Result
from rsatoolbox.model import ModelFixed
from rsatoolbox.rdm import RDMs, calc_rdm, compare, concat

from humanalign.features.featureset import FeatureSet, layer_name
from humanalign.stimuli.base import StimulusSetError

__all__ = [
    "DISSIMILARITIES",
    "COMPARISONS",
    "BOOTSTRAPS",
    "MIN_SUBJECTS_FOR_SUBJECT_BOOTSTRAP",
    "resolve_bootstrap",
    "RsaEvaluation",
    "rdm_from_measurements",
    "rdm_from_features",
    "align",
    "compare_rdms",
    "noise_ceiling",
    "evaluate",
    "metric_rows",
    "rdm_frame",
]

logger = logging.getLogger(__name__)

DISSIMILARITIES = ("correlation", "euclidean", "cosine", "crossnobis")
# Our names -> rsatoolbox.rdm.compare method names.
COMPARISONS: dict[str, str] = {"spearman": "spearman", "kendall": "tau-a", "tau-a": "tau-a",
                               "pearson": "corr", "cosine": "cosine"}
Bootstrap = Literal["auto", "stimuli", "subjects", "joint", "dual", "both"]
#: Canonical bootstrap name -> (rsatoolbox function, CI kind).
BOOTSTRAPS: dict[str, tuple[str, str]] = {
    "stimuli": ("eval_bootstrap_pattern", "percentile"),
    "subjects": ("eval_bootstrap_rdm", "percentile"),
    "joint": ("eval_bootstrap", "percentile"),
    "dual": ("eval_dual_bootstrap", "t"),
}
_ALIASES = {"both": "dual"}  # backward-compatible name: "both sources of variance" is what dual estimates
MIN_SUBJECTS_FOR_SUBJECT_BOOTSTRAP = 3  # fewer subjects give a degenerate subject resample


def resolve_bootstrap(bootstrap: str | None, n_subjects: int) -> str | None:
    """The canonical bootstrap that ``bootstrap`` names for data with ``n_subjects`` subject RDMs.

    ``"auto"`` -> ``"dual"`` with at least :data:`MIN_SUBJECTS_FOR_SUBJECT_BOOTSTRAP` subjects, else
    ``"stimuli"``; ``"both"`` -> ``"dual"``; ``None``/``"none"`` -> None.

    Raises:
        ValueError: for an unknown name.
    """
    if bootstrap is None or bootstrap == "none":
        return None
    if bootstrap == "auto":
        return "dual" if n_subjects >= MIN_SUBJECTS_FOR_SUBJECT_BOOTSTRAP else "stimuli"
    name = _ALIASES.get(bootstrap, bootstrap)
    if name not in BOOTSTRAPS:
        raise ValueError(f"unknown bootstrap {bootstrap!r}; use 'auto', {', '.join(map(repr, BOOTSTRAPS))}, "
                         "'both' (= 'dual') or None")
    return name


def _comparison(method: str) -> str:
    try:
        return COMPARISONS[method]
    except KeyError:
        raise ValueError(f"unknown RDM comparison {method!r}; use one of {', '.join(COMPARISONS)}") from None


def rdm_from_measurements(
    measurements: np.ndarray,
    stimulus_ids: Sequence[str],
    dissimilarity: str = "correlation",
    runs: Sequence[Any] | None = None,
    **rdm_descriptors: Any,
) -> RDMs:
    """One RDM from a response matrix, with the stimulus ids as pattern descriptor.

    Args:
        measurements: ``[M, D]`` responses; rows may repeat a stimulus (then they are averaged,
            or cross-validated for ``"crossnobis"``).
        stimulus_ids: ``M`` stimulus ids, one per row.
        dissimilarity: One of :data:`DISSIMILARITIES`.
        runs: ``M`` run/partition labels; required for ``"crossnobis"``.
        **rdm_descriptors: Single values stored as rdm descriptors (e.g. ``layer="block3"``).

    Returns:
        An ``RDMs`` with one RDM over the unique stimuli, in order of first appearance.

    Raises:
        ValueError: for a wrong shape, an unknown dissimilarity or crossnobis without runs.
    """
    x = np.asarray(measurements, dtype=np.float64)
    ids = [str(s) for s in stimulus_ids]
    if x.ndim != 2 or x.shape[0] != len(ids):
        raise ValueError(f"measurements must be [M, D] with M = {len(ids)} stimulus ids, got {x.shape}")
    if dissimilarity not in DISSIMILARITIES:
        raise ValueError(f"unknown dissimilarity {dissimilarity!r}; use one of {', '.join(DISSIMILARITIES)}")
    if len(set(ids)) < 3:
        raise ValueError("an RDM needs at least 3 distinct stimuli")
    obs: dict[str, list] = {"stimulus": ids}
    kwargs: dict[str, Any] = {}
    if dissimilarity == "crossnobis":
        if runs is None or len(runs) != len(ids):
            raise ValueError("crossnobis needs one run label per measurement row (runs=...)")
        obs["run"] = list(runs)
        kwargs["cv_descriptor"] = "run"
    method = dissimilarity
    if dissimilarity == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError("cosine dissimilarity is undefined for an all-zero feature vector")
        x, method = x / norms, "euclidean"
    data = Dataset(x, obs_descriptors=obs)
    rdm = calc_rdm(data, method=method, descriptor="stimulus", **kwargs)
    if dissimilarity == "cosine":  # rsatoolbox: |a - b|^2 / D; for unit vectors |a - b|^2 = 2 (1 - cos)
        rdm.dissimilarities = rdm.dissimilarities * x.shape[1] / 2
        rdm.dissimilarity_measure = "cosine"
    for key, value in rdm_descriptors.items():
        rdm.rdm_descriptors[key] = [value]
    # calc_rdm sorts the stimuli by id; keep the caller's (first-appearance) order instead.
    return align(rdm, list(dict.fromkeys(ids)), "computed RDM")


def rdm_from_features(
    features: FeatureSet,
    layers: Sequence[int | str] | None = None,
    dissimilarity: str = "correlation",
) -> RDMs:
    """One RDM per layer of a :class:`FeatureSet` (rdm descriptors ``layer``, ``model``, ``checkpoint_hash``).

    Args:
        features: Extracted features; its stimulus ids become the ``stimulus`` pattern descriptor.
        layers: Layers to use (default: all, in extraction order).
        dissimilarity: ``"correlation"``, ``"euclidean"`` or ``"cosine"`` (crossnobis needs
            repeated measurements; use :func:`rdm_from_measurements`).
    """
    names = features.layers if layers is None else [layer_name(n) for n in layers]
    model = str(features.provenance.get("model", ""))
    rdms = [rdm_from_measurements(features[n], features.stimulus_ids, dissimilarity, layer=n, model=model,
                                  checkpoint_hash=features.checkpoint_hash)
            for n in names]
    return concat(rdms)


def align(rdms: RDMs, stimulus_ids: Sequence[str], what: str = "RDM") -> RDMs:
    """A copy of ``rdms`` with patterns reordered to ``stimulus_ids`` (its ``index`` descriptor = positions).

    Raises:
        StimulusSetError: if the RDM has no ``stimulus`` descriptor or covers other stimuli.
    """
    if "stimulus" not in rdms.pattern_descriptors:
        raise StimulusSetError(f"{what} has no 'stimulus' pattern descriptor, so it cannot be aligned by id")
    have = [str(s) for s in rdms.pattern_descriptors["stimulus"]]
    want = [str(s) for s in stimulus_ids]
    if len(want) != len(set(want)):
        raise StimulusSetError(f"aligning {what}: duplicate stimulus ids requested")
    if set(have) != set(want):
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        raise StimulusSetError(
            f"{what} covers {len(have)} stimuli but {len(want)} were expected: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}); "
            "the stimulus sets do not match"
        )
    position = {s: i for i, s in enumerate(have)}
    out = rdms.copy()
    if have != want:
        out.reorder(np.array([position[s] for s in want]))
    # rsatoolbox's pattern bootstrap reads "index" as each pattern's position; reorder permutes it
    # (and calc_rdm's sorting does too), which broke bootstraps of RDMs not in sorted-id order.
    out.pattern_descriptors["index"] = list(range(len(want)))
    return out


def compare_rdms(a: RDMs, b: RDMs, method: str = "spearman") -> np.ndarray:
    """Similarity of every RDM in ``a`` to every RDM in ``b`` (``b`` aligned to ``a`` by id).

    Returns:
        ``[n_a, n_b]`` array from ``rsatoolbox.rdm.compare``.
    """
    if "stimulus" not in a.pattern_descriptors:
        raise StimulusSetError("first RDM has no 'stimulus' pattern descriptor, so it cannot be aligned by id")
    b = align(b, a.pattern_descriptors["stimulus"], "second RDM")
    return compare(a, b, method=_comparison(method))


def noise_ceiling(data: RDMs, method: str = "spearman") -> tuple[float, float]:
    """Leave-one-subject-out lower and all-subjects upper noise ceiling (``boot_noise_ceiling``).

    Args:
        data: One RDM per subject.
        method: RDM comparison (see :data:`COMPARISONS`).
    """
    if data.n_rdm < 2:
        raise ValueError("a noise ceiling needs at least 2 subject RDMs")
    lower, upper = boot_noise_ceiling(data, method=_comparison(method))
    return float(lower), float(upper)


@contextmanager
def _seeded(seed: int | None):
    """rsatoolbox samples with the global numpy RNG; seed it and restore the previous state."""
    state = np.random.get_state()  # noqa: NPY002 (rsatoolbox draws from the legacy global RNG)
    if seed is not None:
        np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


@dataclass
class RsaEvaluation:
    """Fixed-model evaluation against subject RDMs.

    Attributes:
        table: One row per model: ``model``, ``value`` (mean over subjects), ``sem`` (over
            subjects), ``ci_low``/``ci_high`` (bootstrap percentile CI; NaN without bootstrap
            or with too few samples for ``ci``),
            ``n`` (subjects), ``p_zero`` (bootstrap or t-test against 0).
        subjects: Long table ``model``, ``subject``, ``value`` (one row per model and subject).
        noise_ceiling: ``(lower, upper)``.
        method: Comparison method.
        bootstrap: The canonical bootstrap that ran (a key of :data:`BOOTSTRAPS`) or None.
        fixed: The rsatoolbox ``Result`` of ``eval_fixed``.
        boot: The rsatoolbox ``Result`` of the bootstrap (None without bootstrap).
    """

    table: pd.DataFrame
    subjects: pd.DataFrame
    noise_ceiling: tuple[float, float]
    method: str
    bootstrap: str | None
    fixed: Result
    boot: Result | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def pairwise(self) -> pd.DataFrame:
        """Paired model-vs-model tests: ``model_a``, ``model_b``, ``difference``, ``p``.

        Uses the bootstrap distribution of differences when a percentile bootstrap was run (rsatoolbox
        ``test_pairwise("bootstrap")``), a t-test on the dual bootstrap's corrected variance of the
        differences for ``"dual"``, else a paired t-test over subjects (``"t-test"``).
        """
        res, kind = (self.boot, "bootstrap") if self.boot is not None else (self.fixed, "t-test")
        if self.bootstrap == "dual":  # the dual bootstrap's output is its corrected variance of differences
            kind = "t-test"
        p = res.test_pairwise(test_type=kind)  # [n_models, n_models]
        names = self.table["model"].tolist()
        values = self.table["value"].to_numpy()
        rows = [{"model_a": names[i], "model_b": names[j], "difference": values[i] - values[j],
                 "p": float(p[i, j]), "test": kind}
                for i in range(len(names)) for j in range(i + 1, len(names))]
        return pd.DataFrame(rows, columns=["model_a", "model_b", "difference", "p", "test"])


def evaluate(
    models: Mapping[str, RDMs],
    data: RDMs,
    method: str = "spearman",
    bootstrap: Bootstrap | None = "auto",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
    subject_descriptor: str = "subject",
) -> RsaEvaluation:
    """Evaluate fixed model RDMs against subject RDMs with rsatoolbox.

    Args:
        models: Label -> single-RDM ``RDMs`` (aligned to ``data`` by stimulus id here).
        data: One RDM per subject, with a ``stimulus`` pattern descriptor.
        method: RDM comparison (see :data:`COMPARISONS`).
        bootstrap: ``"auto"`` (default: ``"dual"`` with >= 3 subjects, else ``"stimuli"``), ``"stimuli"``
            (``eval_bootstrap_pattern``), ``"subjects"`` (``eval_bootstrap_rdm``), ``"joint"``
            (``eval_bootstrap``), ``"dual"`` (``eval_dual_bootstrap``; alias ``"both"``) or None.
            Percentile CIs for the first three; for ``"dual"`` the ``sem`` column is the corrected
            bootstrap SE and the CI and ``p_zero`` are t-based on it (dof = min(subjects, stimuli) - 1).
        n_boot: Bootstrap samples.
        ci: Confidence level of the percentile interval.
        seed: Seed of the bootstrap (the global numpy RNG state is restored afterwards).
        subject_descriptor: rdm descriptor naming subjects in ``data`` (falls back to the index).

    Returns:
        An :class:`RsaEvaluation`.

    Raises:
        StimulusSetError: if a model RDM covers other stimuli than ``data``.
        ValueError: for an empty model list, a model with several RDMs, or a bad method.
    """
    if not models:
        raise ValueError("evaluate() needs at least one model RDM")
    comp = _comparison(method)
    ids = data.pattern_descriptors.get("stimulus")
    if ids is None:
        raise StimulusSetError("data RDMs have no 'stimulus' pattern descriptor")
    fixed_models = []
    for label, rdm in models.items():
        if rdm.n_rdm != 1:
            raise ValueError(f"model {label!r} has {rdm.n_rdm} RDMs; pass one RDM per model label")
        fixed_models.append(ModelFixed(str(label), align(rdm, ids, f"model RDM {label!r}")))
    fixed = eval_fixed(fixed_models, data, method=comp)
    labels = [str(k) for k in models]
    per_subject = fixed.evaluations[0]  # [n_models, n_subjects]
    subjects = [str(s) for s in data.rdm_descriptors.get(subject_descriptor, range(data.n_rdm))]
    table = pd.DataFrame({"model": labels, "value": fixed.get_means(), "sem": fixed.get_sem(),
                          "ci_low": np.nan, "ci_high": np.nan, "n": data.n_rdm,
                          "p_zero": fixed.test_zero("t-test")})
    boot = None
    bootstrap = resolve_bootstrap(bootstrap, data.n_rdm)
    if bootstrap == "dual":
        with _seeded(seed):
            boot = _quiet_dual_bootstrap(fixed_models, data, comp, n_boot)
        table["sem"] = boot.get_sem()
        table["ci_low"], table["ci_high"] = boot.get_ci(ci, test_type="t-test")
        table["p_zero"] = boot.test_zero("t-test")
    elif bootstrap is not None:
        runner = {"stimuli": eval_bootstrap_pattern, "subjects": eval_bootstrap_rdm,
                  "joint": eval_bootstrap}[bootstrap]
        with _seeded(seed):
            # The ceiling is reported from all data (noise_ceiling below), so it is not recomputed per
            # sample: the model CIs are the same (tests/test_rsa_core.py) and the bootstrap is 2.6-5x
            # faster (bench/rsa_bootstrap.py).
            boot = runner(fixed_models, data, method=comp, N=n_boot, boot_noise_ceil=False)
        with np.errstate(invalid="ignore"):  # rsatoolbox frames the samples with -inf/+inf
            low, high = boot.get_ci(ci, test_type="bootstrap")
        # The percentile lands on (or next to) the +-inf frame unless n_boot + 1 > 2 / (1 - ci).
        min_boot = int(np.floor(2 / (1 - ci) + 1e-9))
        if n_boot < min_boot:
            logger.warning("RSA bootstrap: %d samples are too few for a %g%% percentile interval (need at "
                           "least %d); ci_low/ci_high set to NaN", n_boot, 100 * ci, min_boot)
            low = high = np.nan
        table["ci_low"], table["ci_high"] = low, high
        table["p_zero"] = boot.test_zero("bootstrap")
    table["bootstrap"] = bootstrap or "none"
    table["ci_method"] = BOOTSTRAPS[bootstrap][1] if bootstrap else "none"
    long = pd.DataFrame([{"model": m, "subject": s, "value": float(per_subject[i, j])}
                         for i, m in enumerate(labels) for j, s in enumerate(subjects)])
    nc = noise_ceiling(data, method)
    logger.info("RSA (%s, bootstrap=%s): %d models vs %d subjects; noise ceiling %.3f-%.3f",
                method, bootstrap, len(labels), data.n_rdm, *nc)
    return RsaEvaluation(table, long, nc, method, bootstrap, fixed, boot,
                         {"n_boot": n_boot if bootstrap else 0, "ci": ci, "seed": seed})


def _quiet_dual_bootstrap(models: list, data: RDMs, comp: str, n_boot: int) -> Result:
    """``eval_dual_bootstrap`` (fixed models: no cross-validation), without its progress bar and per-sample ceiling.

    rsatoolbox's dual bootstrap has no ``boot_noise_ceil`` switch; it recomputes the noise ceiling in each of
    its three resamples per sample (half its time). The ceiling is reported once from all data, and the model
    variances and differences do not depend on it (``tests/test_compare_rsa_bootstrap.py`` compares with the
    unmodified call), so here it is skipped: 2.5x faster.
    """
    import rsatoolbox.inference.evaluate as rsa_evaluate

    trange, ceiling = rsa_evaluate.tqdm.trange, rsa_evaluate.boot_noise_ceiling
    rsa_evaluate.tqdm.trange = lambda *a, **k: trange(*a, **{**k, "disable": True})
    rsa_evaluate.boot_noise_ceiling = lambda *a, **k: (np.nan, np.nan)
    try:
        return eval_dual_bootstrap(models, data, method=comp, N=n_boot)
    finally:
        rsa_evaluate.tqdm.trange, rsa_evaluate.boot_noise_ceiling = trange, ceiling


def metric_rows(
    evaluation: RsaEvaluation,
    *,
    dataset: str,
    condition: str,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
    benchmark: str = "rsa",
    config_hash: str = "",
) -> pd.DataFrame:
    """Long-format result rows (one per model, plus two noise-ceiling rows).

    Args:
        evaluation: From :func:`evaluate`.
        dataset: Stimulus/reference set (e.g. ``"rsa92"``).
        condition: Reference data (e.g. ``"hIT"``, ``"behaviour"``).
        labels: Evaluation label -> overrides of ``model``, ``layer``, ``checkpoint_hash``
            (default: the label is the model, no layer).
        benchmark: Benchmark name.
        config_hash: Hash of the run configuration.

    Returns:
        DataFrame with the results-store metric columns plus ``bootstrap`` (the canonical bootstrap that gave
        the CI, or ``"none"``) and ``ci_method`` (``"percentile"``, ``"t"`` or ``"none"``); the store keeps both
        in ``extra``.
    """
    labels = labels or {}
    boot_name = evaluation.bootstrap or "none"
    ci_method = BOOTSTRAPS[evaluation.bootstrap][1] if evaluation.bootstrap else "none"
    metric = f"rsa_{evaluation.method}"
    seed = evaluation.meta.get("seed")
    rows = []
    for rec in evaluation.table.to_dict("records"):
        info = dict(labels.get(rec["model"], {}))
        rows.append({"model": info.get("model", rec["model"]), "checkpoint_hash": info.get("checkpoint_hash", ""),
                     "layer": info.get("layer", ""), "benchmark": benchmark, "dataset": dataset,
                     "condition": condition, "metric": metric, "value": rec["value"],
                     "ci_low": rec["ci_low"], "ci_high": rec["ci_high"], "n": int(rec["n"]),
                     "seed": seed, "config_hash": config_hash, "bootstrap": boot_name, "ci_method": ci_method})
    lower, upper = evaluation.noise_ceiling
    n = int(evaluation.table["n"].iloc[0])
    for name, value in (("noise_ceiling_lower", lower), ("noise_ceiling_upper", upper)):
        rows.append({"model": "noise_ceiling", "checkpoint_hash": "", "layer": "", "benchmark": benchmark,
                     "dataset": dataset, "condition": condition, "metric": f"{metric}_{name}",
                     "value": value, "ci_low": np.nan, "ci_high": np.nan, "n": n, "seed": seed,
                     "config_hash": config_hash, "bootstrap": boot_name, "ci_method": "none"})
    return pd.DataFrame(rows)


def rdm_frame(rdms: RDMs, index: int = 0) -> pd.DataFrame:
    """One RDM as a square DataFrame indexed by stimulus id (for plotting and export)."""
    ids = rdms.pattern_descriptors.get("stimulus", list(range(rdms.n_cond)))
    return pd.DataFrame(rdms.get_matrices()[index], index=list(ids), columns=list(ids))
