"""The :class:`FeatureSet` container: per-layer feature arrays keyed by stimulus id.

Rows are always tied to stimulus ids; comparisons align two feature sets (or a feature set and a
reference RDM) by id with :meth:`FeatureSet.aligned` instead of assuming a shared order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from humanalign.stimuli.base import StimulusSetError

__all__ = ["FeatureSet", "layer_name"]

logger = logging.getLogger(__name__)


def layer_name(layer: int | str) -> str:
    """Canonical layer name: block index ``i`` (int, ``"i"`` or ``"block<i>"``) -> ``"block<i>"``.

    ``"final"`` (the encoder's pooled output) is returned unchanged. Negative indices must be
    resolved against the model depth before calling this.

    Raises:
        ValueError: for any other name.
    """
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if layer < 0:
            raise ValueError(f"negative layer index {layer} must be resolved against the model depth")
        return f"block{int(layer)}"
    text = str(layer).strip().lower()
    if text == "final":
        return "final"
    digits = text.removeprefix("block")
    if digits.isdigit():
        return f"block{int(digits)}"
    raise ValueError(f"unknown layer {layer!r}: use a block index, 'block<i>', 'final' or 'all'")


@dataclass
class FeatureSet:
    """Features of one model on one stimulus set.

    Attributes:
        stimulus_ids: Row order of every array.
        features: Layer name (``"block<i>"`` or ``"final"``) -> float32 array ``[N, D]``.
        provenance: Model name, checkpoint hash, stimulus-set name and fingerprint, pooling,
            preprocessing, and the cache key of each layer.
    """

    stimulus_ids: list[str]
    features: dict[str, np.ndarray]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stimulus_ids = [str(s) for s in self.stimulus_ids]
        if len(set(self.stimulus_ids)) != len(self.stimulus_ids):
            raise StimulusSetError("FeatureSet: duplicate stimulus ids")
        for name, arr in self.features.items():
            if arr.ndim != 2 or arr.shape[0] != len(self.stimulus_ids):
                raise ValueError(f"FeatureSet layer {name!r}: expected [{len(self.stimulus_ids)}, D], "
                                 f"got {arr.shape}")

    @property
    def layers(self) -> list[str]:
        """Layer names in extraction order."""
        return list(self.features)

    @property
    def checkpoint_hash(self) -> str:
        """Content hash of the model weights the features came from."""
        return str(self.provenance.get("checkpoint_hash", ""))

    def __getitem__(self, layer: int | str) -> np.ndarray:
        """Features ``[N, D]`` of one layer (block index, ``"block<i>"``, ``"final"`` or a module name)."""
        name = layer if isinstance(layer, str) and layer in self.features else layer_name(layer)
        if name not in self.features:
            raise KeyError(f"layer {name!r} not extracted; have {', '.join(self.layers)}")
        return self.features[name]

    def __len__(self) -> int:
        return len(self.stimulus_ids)

    def aligned(self, ids: Sequence[str]) -> FeatureSet:
        """The same features with rows reordered (or subset) to ``ids``.

        Raises:
            StimulusSetError: naming ids that this feature set does not have.
        """
        ids = [str(s) for s in ids]
        position = {sid: i for i, sid in enumerate(self.stimulus_ids)}
        missing = [s for s in ids if s not in position]
        if missing:
            raise StimulusSetError(
                f"feature set ({self.provenance.get('stimulus_set', '?')}) lacks {len(missing)} of the "
                f"{len(ids)} requested stimulus ids, e.g. {missing[:3]}"
            )
        order = np.array([position[s] for s in ids], dtype=np.int64)
        return FeatureSet(ids, {k: v[order] for k, v in self.features.items()}, dict(self.provenance))
