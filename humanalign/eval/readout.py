"""A cross-validated readout on frozen features, for any number of classes.

Each item is predicted by a logistic-regression readout (features standardised) trained on the other
items only: the items are split into ``folds`` stratified folds (seeded); for each fold the readout sees
at most ``shots`` training items per class from the other folds. :class:`FoldedReadout` keeps the fold
models, so features of the same items under a perturbation are predicted by the model that did not see
those items clean (the robustness protocol); :func:`cross_validated_readout` fits and predicts in one go.

Label modes: ``"category"`` trains on each item's class. ``"shape+texture"`` (cue-conflict images) adds
every training image twice, once with its shape and once with its texture label, so the readout learns
both cues equally and the representation, not the training labels, decides which one wins.

With fewer items in the smallest class than ``folds``, the folds drop to that count (at least 2) and the
protocol records the folds used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from sklearn.model_selection import StratifiedKFold

from humanalign.eval.probes import fit_linear_probe

__all__ = ["ReadoutProtocol", "ReadoutResult", "FoldedReadout", "cross_validated_readout"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadoutProtocol:
    """How a readout was trained (stored with every result).

    Attributes:
        layer: Feature layer the readout reads (e.g. ``"final"``, ``"block11"``).
        pooling: Pooling of the features (``"mean"``, ``"cls"``, ...).
        shots: Training items per class and fold (None = all items of the other folds).
        folds: Cross-validation folds over items.
        seed: Seed of the fold split and the shot sampling.
        C: Inverse L2 regularisation strength of the logistic regression.
        labels: ``"category"`` or ``"shape+texture"`` (see the module docstring).
    """

    layer: str = "final"
    pooling: str = "mean"
    shots: int | None = None
    folds: int = 5
    seed: int = 0
    C: float = 1.0
    labels: str = "category"

    def as_dict(self) -> dict:
        """Plain dict (for JSON/YAML provenance)."""
        return {"readout": "logistic_regression_cv", **asdict(self)}


@dataclass
class ReadoutResult:
    """Cross-validated readout output.

    Attributes:
        decisions: Decided class name per item ``[N]``.
        probabilities: ``[N, C]`` class probabilities (columns in ``classes`` order).
        protocol: The protocol used (``folds`` as used).
        shots_used: Mean number of training items per class over folds.
        classes: Column order of ``probabilities``.
    """

    decisions: list[str]
    probabilities: np.ndarray
    protocol: ReadoutProtocol
    shots_used: float = 0.0
    extra: dict = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)


def _pick_shots(labels: np.ndarray, pool: np.ndarray, shots: int | None, rng: np.random.Generator) -> np.ndarray:
    if shots is None:
        return pool
    picked = []
    for category in np.unique(labels[pool]):
        members = pool[labels[pool] == category]
        picked.append(rng.choice(members, size=min(shots, len(members)), replace=False))
    return np.sort(np.concatenate(picked))


class FoldedReadout:
    """Fold models of a cross-validated readout; each item is predicted by the model that did not see it.

    Args:
        protocol: Readout protocol.
        classes: The class names decisions are drawn from (probability columns in this order).
    """

    def __init__(self, protocol: ReadoutProtocol, classes: Sequence[str]) -> None:
        if protocol.labels not in ("category", "shape+texture"):
            raise ValueError(f"unknown label mode {protocol.labels!r}: use 'category' or 'shape+texture'")
        self.protocol = protocol
        self.classes = [str(c) for c in classes]
        self.fold_of: np.ndarray | None = None
        self.models: list = []
        self.shots_used = 0.0

    def fit(self, features: np.ndarray, labels: Sequence[str], textures: Sequence[str] | None = None,
            strict_folds: bool = False) -> FoldedReadout:
        """Fit one readout per fold on the other folds' items.

        Args:
            features: ``[N, D]`` features, one row per item.
            labels: ``[N]`` class name per item (one of ``classes``).
            textures: ``[N]`` texture classes; required for ``labels="shape+texture"``.
            strict_folds: Raise instead of lowering the folds when a class has fewer items than folds.

        Raises:
            ValueError: shape mismatches, unknown classes, too few items per class, missing textures.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray([str(v) for v in labels])
        if x.ndim != 2 or x.shape[0] != len(y):
            raise ValueError(f"features must be [N, D] with N = {len(y)} labels, got {x.shape}")
        unknown = sorted(set(y) - set(self.classes))
        if unknown:
            raise ValueError(f"labels outside the {len(self.classes)} categories: {unknown[:5]}")
        tex = None
        if self.protocol.labels == "shape+texture":
            if textures is None or len(textures) != len(y):
                raise ValueError("label mode 'shape+texture' needs one texture label per stimulus")
            tex = np.asarray([str(v) for v in textures])
        smallest = int(np.unique(y, return_counts=True)[1].min())
        folds = self.protocol.folds
        if smallest < folds:
            if strict_folds or smallest < 2:
                raise ValueError(f"{folds} folds need at least {folds if strict_folds else 2} stimuli per "
                                 f"category; the smallest category has {smallest}")
            logger.info("readout: smallest class has %d items, using %d folds instead of %d", smallest,
                        smallest, folds)
            folds = smallest
            self.protocol = replace(self.protocol, folds=folds)
        rng = np.random.default_rng(self.protocol.seed)
        self.fold_of = np.zeros(len(y), dtype=int)
        self.models, shots_used = [], []
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.protocol.seed)
        for fold, (pool, test) in enumerate(splitter.split(x, y)):
            self.fold_of[test] = fold
            train = _pick_shots(y, pool, self.protocol.shots, rng)
            x_train, y_train = x[train], y[train]
            if tex is not None:
                x_train = np.concatenate([x_train, x_train])
                y_train = np.concatenate([y_train, tex[train]])
            shots_used.append(len(train) / len(np.unique(y[train])))
            self.models.append(fit_linear_probe(x_train, y_train, C=self.protocol.C))
            logger.debug("readout fold %d: %d training items, %d test", fold, len(train), len(test))
        self.shots_used = float(np.mean(shots_used))
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``[N, C]`` probabilities of the fitted items' rows (same items, any perturbation of them)."""
        if self.fold_of is None:
            raise RuntimeError("FoldedReadout.predict_proba before fit")
        x = np.asarray(features, dtype=np.float64)
        if x.shape[0] != len(self.fold_of):
            raise ValueError(f"features have {x.shape[0]} rows; the readout was fitted on {len(self.fold_of)} items")
        probs = np.zeros((len(x), len(self.classes)))  # [N, C]
        for fold, model in enumerate(self.models):
            rows = np.flatnonzero(self.fold_of == fold)
            cols = [self.classes.index(c) for c in model.classes_]
            probs[np.ix_(rows, cols)] = model.predict_proba(x[rows])
        return probs

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class index (into ``classes``) per item ``[N]``."""
        return self.predict_proba(features).argmax(axis=1)


def cross_validated_readout(features: np.ndarray, labels: Sequence[str], protocol: ReadoutProtocol,
                            classes: Sequence[str], textures: Sequence[str] | None = None,
                            strict_folds: bool = False) -> ReadoutResult:
    """Predict every item with a readout trained on the other folds (see :class:`FoldedReadout`)."""
    readout = FoldedReadout(protocol, classes).fit(features, labels, textures, strict_folds)
    probs = readout.predict_proba(features)
    decisions = [readout.classes[i] for i in probs.argmax(axis=1)]
    return ReadoutResult(decisions, probs, readout.protocol, readout.shots_used, classes=readout.classes)
