"""Probes on frozen features: a linear probe (scikit-learn logistic regression) and V-JEPA's attentive probe.

Both train on one view per item (the first: the centre clip and crop) and predict every view; the
multi-view prediction is the mean of the per-view class probabilities.

Example:
    >>> probe = fit_linear_probe(train_feats[:, 0], train_labels)            # [N, D], [N]
    >>> probs = predict_linear(probe, val_feats, num_classes)                 # [N, V, D] -> [N, C]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from humanalign.eval.metrics import average_views
from humanalign.models.heads import AttentiveClassifier

__all__ = ["fit_linear_probe", "predict_linear", "AttentiveProbeConfig", "train_attentive_probe",
           "predict_attentive"]

logger = logging.getLogger(__name__)


def fit_linear_probe(features: np.ndarray, labels: np.ndarray, C: float = 1.0, max_iter: int = 2000) -> Pipeline:
    """Standardise features, then multinomial L2 logistic regression.

    Args:
        features: ``[N, D]``.
        labels: ``[N]`` class indices.
        C: Inverse regularisation strength.
        max_iter: Solver iterations.
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(f"features {features.shape} and labels {labels.shape} do not match ([N, D] and [N])")
    if len(np.unique(labels)) < 2:
        raise ValueError("a linear probe needs at least two classes in its training items")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    return probe.fit(features, labels)


def predict_linear(probe: Pipeline, features: np.ndarray, num_classes: int) -> np.ndarray:
    """Class probabilities ``[N, num_classes]`` averaged over views, from ``[N, V, D]`` or ``[N, D]``."""
    features = np.asarray(features)
    if features.ndim == 2:
        features = features[:, None]
    n, v, d = features.shape
    known = probe.predict_proba(features.reshape(n * v, d))  # [N*V, C_seen]
    probs = np.zeros((n * v, num_classes))
    probs[:, probe.classes_] = known
    return average_views(probs.reshape(n, v, num_classes))


@dataclass(frozen=True)
class AttentiveProbeConfig:
    """Training of the attentive probe (AdamW, cosine learning rate, cross-entropy).

    Attributes:
        num_heads: Heads of the cross-attention.
        depth: 1 = cross-attention block only (V-JEPA's frozen evaluation).
        epochs: Passes over the training items (raised so that there are at least ``min_steps`` steps:
            small few-shot sets otherwise get too few updates to move the query away from uniform attention).
        min_steps: Minimum number of optimiser steps.
        batch_size: Items per step.
        lr: Peak learning rate.
        weight_decay: AdamW weight decay.
        seed: Seed of initialisation and batch order.
    """

    num_heads: int = 4
    depth: int = 1
    epochs: int = 50
    min_steps: int = 300
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 0


def train_attentive_probe(tokens: np.ndarray | torch.Tensor, labels: np.ndarray, num_classes: int,
                          cfg: AttentiveProbeConfig = AttentiveProbeConfig()) -> AttentiveClassifier:
    """Train an :class:`AttentiveClassifier` on frozen tokens ``[N, L, D]`` with labels ``[N]``."""
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.float32)
    y = torch.tensor(np.asarray(labels), dtype=torch.long)
    if x.ndim != 3 or x.shape[0] != y.shape[0]:
        raise ValueError(f"tokens {tuple(x.shape)} and labels {tuple(y.shape)} do not match ([N, L, D] and [N])")
    if x.shape[-1] % cfg.num_heads:
        raise ValueError(f"token width {x.shape[-1]} is not divisible by num_heads {cfg.num_heads}")
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    head = AttentiveClassifier(x.shape[-1], cfg.num_heads, num_classes, depth=cfg.depth)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(x) // cfg.batch_size)
    epochs = max(cfg.epochs, -(-cfg.min_steps // steps_per_epoch))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    head.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), cfg.batch_size):
            batch = order[start:start + cfg.batch_size]
            loss = F.cross_entropy(head(x[batch]), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(batch)
        logger.debug("attentive probe epoch %d: loss %.4f", epoch, total / len(x))
    return head.eval()


def predict_attentive(head: AttentiveClassifier, tokens: np.ndarray | torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``[N, C]`` averaged over views, from ``[N, V, L, D]`` (or ``[N, L, D]``)."""
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.float32)
    if x.ndim == 3:
        x = x[:, None]
    n, v = x.shape[:2]
    flat = x.reshape(n * v, *x.shape[2:])
    with torch.inference_mode():
        probs = torch.cat([head(flat[i:i + batch_size]).softmax(-1) for i in range(0, len(flat), batch_size)])
    return average_views(probs.reshape(n, v, -1).numpy())
