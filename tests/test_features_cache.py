"""The feature cache keeps every entry inside its folder and reads its root from humanalign.paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humanalign.features.cache import FeatureCache, default_cache_dir


@pytest.mark.parametrize("key", ["../../x", "..", "a/b", "/etc/passwd", "ab\\..\\c", "a", "", "x" * 129,
                                 "ab\x00cd", "é9"])
def test_keys_that_could_leave_the_folder_are_refused(tmp_path: Path, key: str) -> None:
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(ValueError, match="not a plain name"):
        cache.path(key)
    with pytest.raises(ValueError, match="not a plain name"):
        cache.put(key, ["s"], np.zeros((1, 2)), {})
    assert not any(tmp_path.rglob("*.npz"))


def test_plain_hex_keys_round_trip_inside_the_folder(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    key = "0f" * 32
    path = cache.put(key, ["a", "b"], np.arange(4.0).reshape(2, 2), {"model": "m"})
    assert path.resolve().is_relative_to((tmp_path / "cache").resolve()) and path.parent.name == "0f"
    ids, feats, prov = cache.get(key)
    assert ids == ["a", "b"] and feats.tolist() == [[0.0, 1.0], [2.0, 3.0]] and prov == {"model": "m"}


def test_default_root_is_the_shared_cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANALIGN_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "features" == FeatureCache().root
