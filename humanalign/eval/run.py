"""One downstream evaluation end to end: sample the training items, fit, test on every view, score.

``evaluate(model, train, val, EvalSettings(method=...))`` runs one of

* ``"linear"``: logistic regression on frozen pooled features;
* ``"attentive"``: V-JEPA's attentive probe on the frozen tokens of one block;
* ``"fewshot"``: full fine-tuning (layer-wise lr decay, label smoothing);

on ``shots`` items per class (all items when None) or a ``fraction`` of every class (the 2%-of-ImageNet
protocol), and returns top-1/top-5 with Wilson intervals. :func:`evaluate_head` scores the classifier a
released fine-tuned checkpoint carries (``encoder.head``) without training anything. :func:`result_rows` turns a result into
long-format rows for :class:`humanalign.io.results.ResultsStore`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from statsmodels.stats.proportion import proportion_confint
from torch import nn

from humanalign.eval.data import LabelledSet, readable
from humanalign.eval.features import view_features, view_spec_for
from humanalign.eval.finetune import FinetuneConfig, finetune, predict_finetuned
from humanalign.eval.kshot import sample_fraction, sample_k_shot
from humanalign.eval.metrics import average_views, topk_accuracy
from humanalign.eval.probes import (
    AttentiveProbeConfig,
    fit_linear_probe,
    predict_attentive,
    predict_linear,
    train_attentive_probe,
)
from humanalign.features.hashing import settings_hash
from humanalign.models.observers import Observer, as_observer

__all__ = ["EvalSettings", "EvalResult", "evaluate", "evaluate_head", "head_labels", "result_rows", "METHODS"]

logger = logging.getLogger(__name__)

METHODS = ("linear", "attentive", "fewshot")


@dataclass(frozen=True)
class EvalSettings:
    """What to run.

    Attributes:
        method: ``"linear"``, ``"attentive"`` or ``"fewshot"`` (``"head"`` in results of :func:`evaluate_head`).
        shots: Training items per class (None = all, unless ``fraction`` is set).
        fraction: Fraction of every class used for training (e.g. 0.02), instead of ``shots``.
        seed: Seed of the sampling and training.
        num_clips, num_crops: Test views (train uses the first view for probes).
        stride: Frame step inside a clip.
        pool: Pooling for linear probe and fine-tuning head.
        layer: Block whose tokens the attentive probe reads.
        C: Logistic-regression inverse regularisation.
        attentive: Attentive-probe training settings.
        finetune: Fine-tuning settings.
        cache: Use the feature cache.
    """

    method: str = "linear"
    shots: int | None = None
    fraction: float | None = None
    seed: int = 0
    num_clips: int = 1
    num_crops: int = 1
    stride: int = 4
    pool: str = "mean"
    layer: int = -1
    C: float = 1.0
    attentive: AttentiveProbeConfig = field(default_factory=AttentiveProbeConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    cache: bool = True

    def protocol(self) -> str:
        """Condition label: ``"10-shot"``, ``"2%"``, ``"all"``, or ``"released head"``."""
        if self.method == "head":
            return "released head"
        if self.fraction is not None:
            return f"{self.fraction * 100:g}%"
        return f"{self.shots}-shot" if self.shots else "all"


@dataclass
class EvalResult:
    """Scores of one evaluation.

    Attributes:
        top1, top5: Accuracies on the validation items (multi-view).
        top1_ci: Wilson 95% interval of top-1.
        n_train, n_val: Items used.
        skipped: Unreadable files left out, with the reason.
        probs: ``[n_val, C]`` predicted class probabilities.
        labels: ``[n_val]`` true classes.
        settings: The settings used.
        checkpoint_hash: Weights hash of the (frozen or starting) encoder.
    """

    top1: float
    top5: float
    top1_ci: tuple[float, float]
    n_train: int
    n_val: int
    probs: np.ndarray
    labels: np.ndarray
    settings: EvalSettings
    checkpoint_hash: str
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _train_indices(train: LabelledSet, settings: EvalSettings) -> np.ndarray:
    if settings.fraction is not None:
        return sample_fraction(train.labels, settings.fraction, settings.seed)
    if settings.shots:
        return sample_k_shot(train.labels, settings.shots, settings.seed, train.classes)
    return np.arange(len(train))


def evaluate(model: nn.Module, train: LabelledSet, val: LabelledSet, settings: EvalSettings,
             progress: bool = True) -> EvalResult:
    """Run one evaluation (see the module docstring); ``model`` is not modified.

    Raises:
        ValueError: an unknown method, validation classes missing from training, or too few shots.
    """
    if settings.method not in METHODS:
        raise ValueError(f"unknown evaluation method {settings.method!r}; use one of {METHODS}")
    train, skipped_train = readable(train)
    val, skipped_val = readable(val.with_classes(train.classes))
    chosen = train.subset(_train_indices(train, settings))
    num_classes = len(train.classes)
    model = as_observer(model)  # once: its weights hash and token layouts serve every feature call
    ckpt = model.weights_hash
    test_spec = view_spec_for(model, settings.num_clips, settings.num_crops, settings.stride)
    train_spec = dataclasses.replace(test_spec, num_clips=1, num_crops=1)
    logger.info("%s evaluation: %d training items (%s), %d validation items, %d classes", settings.method,
                len(chosen), settings.protocol(), len(val), num_classes)
    common = dict(batch_size=8, use_cache=settings.cache, progress=progress, checkpoint_hash=ckpt)
    if settings.method == "linear":
        x_train = view_features(model, chosen, train_spec, "pooled", settings.pool, **common)[:, 0]  # [N, D]
        x_val = view_features(model, val, test_spec, "pooled", settings.pool, **common)  # [N, V, D]
        probe = fit_linear_probe(x_train, chosen.labels, C=settings.C)
        probs = predict_linear(probe, x_val, num_classes)
    elif settings.method == "attentive":
        t_train = view_features(model, chosen, train_spec, "tokens", layer=settings.layer, **common)[:, 0]
        t_val = view_features(model, val, test_spec, "tokens", layer=settings.layer, **common)  # [N, V, L, D]
        head = train_attentive_probe(t_train, chosen.labels, num_classes, settings.attentive)
        probs = predict_attentive(head, t_val)
    else:
        encoder = model.module
        if not (hasattr(encoder, "encode") and hasattr(encoder, "blocks")):
            raise ValueError(f"few-shot fine-tuning needs one of the suite's ViT encoders; "
                             f"{model.id} is not one (use linear or attentive)")
        classifier = finetune(copy.deepcopy(encoder), chosen, train_spec,
                              dataclasses.replace(settings.finetune, seed=settings.seed, pool=settings.pool),
                              progress=progress)
        probs = predict_finetuned(classifier, val, test_spec, progress=progress)
    return EvalResult(*_scores(probs, val.labels), len(chosen), len(val), probs, val.labels, settings, ckpt,
                      [(str(p), w) for p, w in skipped_train + skipped_val])


def _scores(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """Top-1, top-5 and the 95% Wilson interval of top-1 over the ``N`` items of ``probs [N, C]``."""
    top1 = topk_accuracy(probs, labels, 1)
    low, high = proportion_confint(round(top1 * len(labels)), len(labels), alpha=0.05, method="wilson")
    return top1, topk_accuracy(probs, labels, 5), (float(low), float(high))


def head_labels(items: LabelledSet, num_outputs: int) -> np.ndarray:
    """Labels of ``items`` as indices of a released head's outputs.

    Class folders named by integers (``0``, ``1``, ... as in many label maps) are taken as the output
    index; otherwise the sorted class names must number exactly ``num_outputs`` (e.g. ImageNet synsets,
    whose sorted order is the standard class order).

    Raises:
        ValueError: when neither rule applies (the message says why).
    """
    if all(c.isdigit() for c in items.classes):
        labels = np.array([int(items.classes[y]) for y in items.labels], dtype=np.int64)
        if labels.max() >= num_outputs:
            raise ValueError(f"{items.source}: class {labels.max()} is outside the head's {num_outputs} outputs")
        return labels
    if len(items.classes) != num_outputs:
        raise ValueError(f"{items.source}: {len(items.classes)} class folders for a head with {num_outputs} outputs; "
                         "name folders by output index (0, 1, ...) or give all classes")
    return items.labels.copy()


def evaluate_head(model: nn.Module | Observer, val: LabelledSet, settings: EvalSettings,
                  progress: bool = True) -> EvalResult:
    """Score a model's own classifier on ``val`` (multi-view): a released checkpoint's fine-tuned head or
    attentive probe, or any observer's classifier (e.g. a timm ImageNet model on ImageNet-indexed classes).

    Raises:
        ValueError: if the model has no classifier or the classes cannot be matched (see :func:`head_labels`).
    """
    observer = as_observer(model)
    if observer.num_classes is None:
        raise ValueError(f"{observer.id} has no classifier head (use a fine-tuned or probe entry, or the "
                         "linear/attentive/fewshot methods)")
    val, skipped = readable(val)
    labels = head_labels(val, observer.num_classes)
    spec = view_spec_for(observer, settings.num_clips, settings.num_crops, settings.stride)
    pool = (observer.info.get("released") or {}).get("pool", settings.pool)
    logits = view_features(observer, val, spec, "logits", use_cache=settings.cache, progress=progress,
                           checkpoint_hash=observer.weights_hash)  # [N, V, C]
    probs = average_views(torch.from_numpy(logits).softmax(-1).numpy())  # [N, C]
    return EvalResult(*_scores(probs, labels), 0, len(val), probs, labels,
                      dataclasses.replace(settings, method="head", pool=pool), observer.weights_hash,
                      [(str(p), w) for p, w in skipped])


def result_rows(result: EvalResult, model_name: str, dataset: str) -> list[dict[str, Any]]:
    """Long-format metric rows (top-1 with its Wilson interval, top-5) for the results store."""
    s = result.settings
    layer = f"block{s.layer}" if s.method == "attentive" else "final"
    base = {"model": model_name, "checkpoint_hash": result.checkpoint_hash[:16], "layer": layer,
            "benchmark": f"eval_{s.method}", "dataset": dataset, "condition": s.protocol(), "n": result.n_val,
            "seed": s.seed, "config_hash": settings_hash(dataclasses.asdict(s))}
    return [
        {**base, "metric": "top1", "value": result.top1, "ci_low": result.top1_ci[0], "ci_high": result.top1_ci[1]},
        {**base, "metric": "top5", "value": result.top5},
    ]
