"""On-disk feature cache: one ``.npz`` file per (model, stimulus set, layer, pooling, preprocessing).

Files live at ``<cache_dir>/<key[:2]>/<key>.npz`` (default ``<cache_root()>/features``, see
:func:`humanalign.paths.cache_root`; keys are plain names, so no entry lies outside the folder) and
hold the features ``[N, D]``, the stimulus ids they belong to, and the provenance as JSON. Writes are atomic (temporary file + rename), so an
interrupted run never leaves a half-written entry; no pickles are stored or loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from humanalign.paths import cache_root

__all__ = ["FeatureCache", "default_cache_dir", "SAFE_KEY"]

logger = logging.getLogger(__name__)

#: What a cache key may be: a plain name of letters, digits, ``_`` and ``-`` (content hashes are hex),
#: so that no key can reach outside the cache folder.
SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{2,128}")


def default_cache_dir() -> Path:
    """``<cache_root()>/features``: ``$HUMANALIGN_CACHE/features``, else ``~/.cache/humanalign/features``."""
    return cache_root() / "features"


class FeatureCache:
    """Content-keyed store of feature arrays.

    Args:
        root: Cache directory (created on first write); None means :func:`default_cache_dir`.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        """File that holds the entry ``key``, always inside :attr:`root`.

        Raises:
            ValueError: if ``key`` is not a plain safe name (see :data:`SAFE_KEY`), e.g. ``"../../x"``.
        """
        if not isinstance(key, str) or not SAFE_KEY.fullmatch(key):
            raise ValueError(f"feature cache key {key!r} is not a plain name (2-128 of A-Z a-z 0-9 _ -)")
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> tuple[list[str], np.ndarray, dict[str, Any]] | None:
        """Return ``(stimulus_ids, features [N, D], provenance)`` or None on a miss.

        A corrupt entry is logged, deleted and treated as a miss.
        """
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                ids = [str(s) for s in data["stimulus_ids"]]
                feats = np.array(data["features"])
                prov = json.loads(str(data["provenance"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            logger.warning("feature cache entry %s is unreadable (%s); recomputing", path, err)
            path.unlink(missing_ok=True)
            return None
        if feats.shape[0] != len(ids):
            logger.warning("feature cache entry %s has %d rows for %d ids; recomputing",
                           path, feats.shape[0], len(ids))
            path.unlink(missing_ok=True)
            return None
        return ids, feats, prov

    def put(self, key: str, stimulus_ids: list[str], features: np.ndarray, provenance: dict[str, Any]) -> Path:
        """Atomically write one entry and return its path."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, stimulus_ids=np.array(stimulus_ids, dtype=str), features=features,
                         provenance=np.array(json.dumps(provenance, sort_keys=True, default=str)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
