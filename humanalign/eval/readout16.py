"""The 16-class readout of the model-vs-human experiments: the cross-validated readout
(:mod:`humanalign.eval.readout`) over the benchmark's 16 categories, for encoders without an ImageNet head.

Each stimulus is predicted by a readout trained few-shot on the other stimuli only (``folds``
stratified folds, at most ``shots`` training stimuli per category); ``labels="shape+texture"`` trains
cue-conflict readouts on both cues. The fold count is strict here: every category needs ``folds`` stimuli.

Example:
    >>> protocol = ReadoutProtocol(layer="final", shots=10, folds=5, seed=0)
    >>> result = cross_validated_readout(features, table["category"], protocol)
    >>> result.decisions[:3]                    # 16-class decisions, one per stimulus
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from humanalign.eval import readout as _readout
from humanalign.eval.readout import ReadoutProtocol, ReadoutResult
from humanalign.io.trials import CATEGORIES16

__all__ = ["ReadoutProtocol", "ReadoutResult", "cross_validated_readout"]


def cross_validated_readout(features: np.ndarray, labels: Sequence[str], protocol: ReadoutProtocol,
                            textures: Sequence[str] | None = None) -> ReadoutResult:
    """Predict every stimulus over the 16 categories with a readout trained on the other folds.

    Raises:
        ValueError: on shape mismatches, labels outside the 16 categories, fewer stimuli per category
            than folds, or a missing texture list.
    """
    return _readout.cross_validated_readout(features, labels, protocol, CATEGORIES16, textures, strict_folds=True)
