"""What every stored metric means: label, definition, source paper, range, and which direction is more human-like.

The report never shows a raw metric name without its label; :func:`metric_label` falls back to a
readable form of the name. The direction rule of :func:`more_human_like` is stated per metric in
:data:`METRICS` (``human_like``):

* ``"higher"`` - agreement with people or brains (error consistency, RSA) or robustness where
  people are robust (accuracy on distorted and out-of-distribution images, mPC, rPC): a larger
  value is more human-like.
* ``"lower"`` - a distance to people (accuracy difference) or an error (mCE, flip rate): a smaller
  value is more human-like.
* ``"closer"`` - a bias people have a known value of (shape bias: humans decide by shape in about
  96% of cue-conflict trials, Geirhos et al. 2019/2021): the value nearer to ``human_value`` is more
  human-like.
* ``None`` - no human reference (probe accuracy, fit parameters): no direction is claimed.

Example:
    >>> metric_label("gamma_r")
    'relative robustness gamma_r'
    >>> more_human_like("error_consistency", 0.05)
    'B'
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["MetricInfo", "METRICS", "metric_info", "metric_label", "more_human_like", "condition_label",
           "corruption_family", "glossary_table", "CORRUPTION_FAMILIES", "TEST_LABELS", "readable_test",
           "dataset_label"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricInfo:
    """Display facts about one metric name.

    Attributes:
        label: Short human-readable name (axis labels, table headers).
        definition: One-sentence definition.
        source: Paper that defines it.
        human_like: ``"higher"``, ``"lower"``, ``"closer"`` or None (see the module docstring).
        lo, hi: Range of the metric (for clipping bands), None when unbounded.
        human_value: Human reference for ``"closer"`` metrics.
        area: Which findings area it belongs to.
    """

    label: str
    definition: str
    source: str
    human_like: str | None = None
    lo: float | None = None
    hi: float | None = None
    human_value: float | None = None
    area: str = ""


_GEIRHOS21 = "Geirhos et al. 2021, Partial success in closing the gap between human and machine vision"
_GEIRHOS20 = "Geirhos, Meding & Wichmann 2020, Beyond accuracy: quantifying trial-by-trial behaviour"
_HENDRYCKS = "Hendrycks & Dietterich 2019, Benchmarking neural network robustness (ImageNet-C)"
_SCHIAPPA = "Schiappa et al. 2023, Robustness analysis of video-action recognition models (UCF101-P)"
_KRIEG = "Kriegeskorte et al. 2008, Matching categorical object representations in IT (92 images)"
_ORHAN = "Orhan et al. 2024, Self-supervised learning of video representations from a child's perspective"

METRICS: dict[str, MetricInfo] = {
    "error_consistency": MetricInfo(
        "error consistency (kappa)", "Cohen's kappa of trial-by-trial correctness with human observers: agreement "
        "on which images are got wrong beyond what the two accuracies predict (0 = chance, 1 = identical errors).",
        _GEIRHOS20, "higher", -1.0, 1.0, area="human consistency"),
    "observed_consistency": MetricInfo(
        "observed consistency", "Fraction of trials on which model and human are both right or both wrong.",
        _GEIRHOS20, "higher", 0.0, 1.0, area="human consistency"),
    "accuracy_difference": MetricInfo(
        "accuracy difference to humans", "Squared difference between model and human accuracy, averaged over "
        "conditions (0 = human-level accuracy in every condition).", _GEIRHOS21, "lower", 0.0, 1.0,
        area="human consistency"),
    "ood_accuracy": MetricInfo(
        "OOD accuracy", "16-class accuracy on the out-of-distribution set (cue-conflict: the shape label counts).",
        _GEIRHOS21, "higher", 0.0, 1.0, area="OOD accuracy"),
    "shape_bias": MetricInfo(
        "shape bias", "Fraction of shape decisions among cue-conflict trials decided by shape or by texture.",
        "Geirhos et al. 2019, ImageNet-trained CNNs are biased towards texture", "closer", 0.0, 1.0,
        human_value=0.96, area="shape bias"),
    "shape_bias_category": MetricInfo(
        "shape bias per category", "Shape bias restricted to cue-conflict images of one shape category.",
        "Geirhos et al. 2019, ImageNet-trained CNNs are biased towards texture", "closer", 0.0, 1.0,
        human_value=0.96, area="shape bias"),
    "rsa_spearman": MetricInfo(
        "RSA (Spearman rho)", "Spearman correlation between the model's RDM and the reference RDM (human IT or "
        "similarity judgements) over the 92 images; the grey band is the noise ceiling.", _KRIEG, "higher",
        -1.0, 1.0, area="RSA"),
    "accuracy": MetricInfo(
        "accuracy", "Top-1 accuracy of the readout on the clean or corrupted set.", _HENDRYCKS, "higher", 0.0, 1.0,
        area="robustness"),
    "mPC": MetricInfo(
        "mean corrupted accuracy (mPC)", "Accuracy averaged over corruptions and severities.", _HENDRYCKS, "higher",
        0.0, 1.0, area="robustness"),
    "rPC": MetricInfo(
        "relative corrupted accuracy (rPC)", "mPC divided by clean accuracy (1 = no loss under corruption).",
        _HENDRYCKS, "higher", 0.0, None, area="robustness"),
    "mCE": MetricInfo(
        "mean corruption error (mCE)", "Corruption errors normalised by AlexNet's, averaged over corruptions "
        "(1 = AlexNet).", _HENDRYCKS, "lower", 0.0, None, area="robustness"),
    "relative_mCE": MetricInfo(
        "relative mCE", "Error increase over clean error, normalised by AlexNet's increase, averaged over "
        "corruptions.", _HENDRYCKS, "lower", None, None, area="robustness"),
    "gamma_a": MetricInfo(
        "absolute robustness gamma_a", "1 - (clean accuracy - perturbed accuracy) (1 = no drop).", _SCHIAPPA,
        "higher", None, None, area="robustness"),
    "gamma_r": MetricInfo(
        "relative robustness gamma_r", "1 - (clean - perturbed) / clean accuracy (1 = no relative drop).",
        _SCHIAPPA, "higher", None, None, area="robustness"),
    "flip_rate": MetricInfo(
        "flip rate", "Fraction of items whose prediction changes between consecutive severities.",
        "Hendrycks & Dietterich 2019 (ImageNet-P flip probability)", "lower", 0.0, 1.0, area="robustness"),
    "accuracy_gap_video_minus_image": MetricInfo(
        "accuracy gap (video - image)", "Paired accuracy difference of two models on the same items, with a "
        "bootstrap CI over items.", _HENDRYCKS, None, -1.0, 1.0, area="robustness"),
    "mcnemar_p_holm": MetricInfo(
        "McNemar p (Holm)", "Holm-adjusted p-value of McNemar's test on the items two models judged.",
        "McNemar 1947; Holm 1979", None, 0.0, 1.0, area="robustness"),
    "difference": MetricInfo(
        "difference (B - A)", "Paired difference between the two models of a contrast on the same items.",
        "McNemar 1947 (test); Efron & Tibshirani 1993 (bootstrap CI)", None, area="contrast"),
    "p_value": MetricInfo("p", "Unadjusted p-value of the paired test.", "", None, 0.0, 1.0),
    "p_adjusted": MetricInfo("p (Holm)", "p-value adjusted across cells (Holm, family-wise).", "Holm 1979", None,
                             0.0, 1.0),
    "effect_size": MetricInfo("effect size", "Standardised effect size of the paired test (dz or rank-biserial).",
                              "Cohen 1988", None),
    "top1": MetricInfo("top-1 accuracy", "Top-1 accuracy of a probe on frozen features (Wilson 95% CI over "
                       "validation items).", "", None, 0.0, 1.0, area="probes"),
    "top5": MetricInfo("top-5 accuracy", "Top-5 accuracy of a probe on frozen features; 1 by construction when "
                       "the task has 5 classes or fewer.", "", None, 0.0, 1.0, area="probes"),
    "top1_acc": MetricInfo("top-1 accuracy (%)", "Few-shot finetuning top-1 accuracy in percent.", _ORHAN, None,
                           0.0, 100.0, area="scaling"),
    "slope_per_decade": MetricInfo("slope per decade of data", "Fitted change in accuracy (points) per tenfold "
                                   "more pretraining video.", _ORHAN, None, area="scaling"),
    "intercept": MetricInfo("intercept", "Fitted accuracy at 1 hour of pretraining video.", _ORHAN, None,
                            area="scaling"),
    "fit_mean": MetricInfo("fitted mean", "A point of the fitted trend's mean curve (with its confidence and "
                           "prediction bands), one stored row per x value; drawn as the line of the scaling figure.",
                           _ORHAN, None, area="scaling"),
    "slope_difference": MetricInfo("slope difference", "Difference of two fitted slopes (interaction test).", _ORHAN,
                                   None, area="scaling"),
}

# ImageNet-C families (Hendrycks & Dietterich 2019) and the video perturbation families (Schiappa et al. 2023).
CORRUPTION_FAMILIES: dict[str, str] = {
    **dict.fromkeys(("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"), "noise"),
    **dict.fromkeys(("defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur"), "blur"),
    **dict.fromkeys(("snow", "frost", "fog", "brightness", "spatter"), "weather"),
    **dict.fromkeys(("contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"), "digital"),
    **dict.fromkeys(("h264_compression", "mpeg_compression"), "compression"),
    **dict.fromkeys(("translate", "shake", "static_rotate", "rotate"), "camera"),
    **dict.fromkeys(("sampling", "reverse_sampling", "jumble", "box_jumble", "freeze"), "temporal"),
}


#: Readable names of the stored ``test`` values.
TEST_LABELS: dict[str, str] = {
    "mcnemar_exact": "McNemar (exact)", "mcnemar_chi2": "McNemar (chi-square)", "paired_bootstrap": "paired bootstrap",
    "paired_t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank", "crossed_lmm": "crossed mixed model",
    "rm_anova": "repeated-measures ANOVA", "bootstrap": "bootstrap",
}


def readable_test(test: object) -> str:
    """Readable name of a stored test (unknown names are returned with spaces for underscores)."""
    text = str(test or "")
    return TEST_LABELS.get(text, text.replace("_", " "))


def dataset_label(dataset: object) -> str:
    """``all`` reads as "all data sets"; other names are kept."""
    return "all data sets" if str(dataset) == "all" else str(dataset)


def metric_info(metric: str) -> MetricInfo:
    """The :class:`MetricInfo` of ``metric`` (``predicted_x@h`` and noise-ceiling names map to their base)."""
    if metric in METRICS:
        return METRICS[metric]
    if metric.startswith("fit_mean@"):
        return METRICS["fit_mean"]
    match = re.match(r"predicted_(\w+)@(\d+)h$", metric)
    if match:
        base = metric_info(match.group(1))
        return MetricInfo(f"predicted {base.label} at {match.group(2)} h", "Extrapolated value of the fitted trend.",
                          base.source, None, base.lo, base.hi, area=base.area)
    match = re.match(r"(\w+)_noise_ceiling_(lower|upper)$", metric)
    if match:
        return MetricInfo(f"noise ceiling ({match.group(2)})", "Bound on the best RSA any model can reach given "
                          "the reference's between-subject variability.", _KRIEG, None, area="RSA")
    return MetricInfo(metric.replace("_", " "), "", "")


def metric_label(metric: str) -> str:
    """Readable label of a stored metric name."""
    return metric_info(str(metric)).label


def more_human_like(metric: str, difference: float, value_a: float | None = None,
                    value_b: float | None = None) -> str | None:
    """Which model of a ``B - A`` contrast is more human-like on ``metric``: ``"A"``, ``"B"``, ``"tie"`` or None.

    Args:
        metric: Stored metric name (its rule is :attr:`MetricInfo.human_like`).
        difference: ``B - A``.
        value_a, value_b: The two values (needed for ``"closer"`` metrics).

    Returns:
        None when the metric has no human reference or the numbers needed are missing.
    """
    info = metric_info(metric)
    if info.human_like is None or difference is None or pd.isna(difference):
        return None
    if info.human_like == "closer":
        if value_a is None or value_b is None or info.human_value is None:
            return None
        gap_a, gap_b = abs(value_a - info.human_value), abs(value_b - info.human_value)
        return "tie" if gap_a == gap_b else ("B" if gap_b < gap_a else "A")
    if difference == 0:
        return "tie"
    return "B" if (difference > 0) == (info.human_like == "higher") else "A"


def corruption_family(name: str) -> str:
    """Family of a corruption or video perturbation (``"other"`` when unknown)."""
    return CORRUPTION_FAMILIES.get(str(name), "other")


def _pretty(name: str) -> str:
    return str(name).replace("_", " ")


def condition_label(condition: object, dataset: str = "") -> str:
    """Human-readable form of a stored condition (``gaussian_noise/3`` -> ``gaussian noise, severity 3``).

    Internal summary keys (``summary:<hash>``) read as "all corruptions"; empty or ``"0"`` conditions of
    single-condition sets read as "all images".
    """
    text = "" if condition is None or (isinstance(condition, float) and pd.isna(condition)) else str(condition)
    if text.startswith("summary:"):
        return "all corruptions and severities"
    if text in ("", "0", "nan", "None"):
        return "all images"
    if text == "clean":
        return "clean"
    if "/" in text:
        head, tail = text.split("/", 1)
        if tail.isdigit():
            return f"{_pretty(head)}, severity {tail}"
        if tail == "all":
            return f"{_pretty(head)}, all severities"
        if tail == "severities":
            return f"{_pretty(head)}, across severities"
        return f"{_pretty(head)}, {_pretty(tail)}"
    if text in ("hIT", "IT"):
        return "human IT"
    return _pretty(text)


def glossary_table(metrics: list[str]) -> pd.DataFrame:
    """Glossary rows (metric, name, definition, more human-like, source) for the given metric names."""
    rows = []
    for metric in dict.fromkeys(re.sub(r"^fit_mean@.*$", "fit_mean", str(m)) for m in metrics):
        info = metric_info(metric)
        rule = {"higher": "higher", "lower": "lower", "closer": f"closer to humans ({info.human_value})"}
        rows.append({"metric": metric, "name": info.label, "definition": info.definition,
                     "more human-like": rule.get(info.human_like or "", "no human reference"),
                     "source": info.source})
    return pd.DataFrame(rows)
