"""Video-folder index: recursive scan, skipped files with reasons, cache keyed by size/mtime, manifests."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from humanalign.data.video_index import default_cache_path, list_video_files, scan_videos
from humanalign.io.video import VideoReader, write_video


def frames(t: int, level: int = 100) -> np.ndarray:
    y, x = np.mgrid[0:32, 0:32]
    base = level + 20 * np.sin(x / 5.0) + 10 * np.cos(y / 4.0)
    return np.repeat(np.clip(base, 0, 255).astype(np.uint8)[None, :, :, None], 3, -1).repeat(t, 0)


class CountingReader(VideoReader):
    """A reader that counts probes, to see what the cache saves."""

    def __init__(self) -> None:
        super().__init__()
        self.probed: list[str] = []

    def probe(self, path: str | os.PathLike[str], verify: bool = False) -> tuple[int, float]:
        self.probed.append(Path(path).name)
        return super().probe(path, verify=verify)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    write_video(root / "a.mp4", frames(20), 10)
    write_video(root / "sub" / "deeper" / "b.MP4", frames(12), 6)
    write_video(root / "short.mp4", frames(3), 10)
    (root / "empty.mp4").write_bytes(b"")
    good = write_video(tmp_path / "tmp.mp4", frames(20), 10).read_bytes()
    (root / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (root / "sub" / "notes.mp4").write_text("not a video")
    (root / "readme.txt").write_text("ignored: not a video extension")
    return root


def test_scan_indexes_readable_videos_and_lists_skipped_with_reasons(
    folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="humanalign.data.video_index"):
        index = scan_videos(folder, min_frames=5, cache=tmp_path / "cache.json")
    by_name = {Path(e.path).name: e for e in index}
    assert set(by_name) == {"a.mp4", "b.MP4"}
    assert (by_name["a.mp4"].num_frames, by_name["a.mp4"].fps) == (20, 10.0)
    assert (by_name["b.MP4"].num_frames, by_name["b.MP4"].fps) == (12, 6.0)
    assert by_name["b.MP4"].seconds == pytest.approx(2.0)
    reasons = {Path(s.path).name: s.reason for s in index.skipped}
    assert set(reasons) == {"short.mp4", "empty.mp4", "truncated.mp4", "notes.mp4"}
    assert reasons["short.mp4"] == "too short: 3 frames < 5"
    assert reasons["empty.mp4"] == "empty file (0 bytes)"
    assert index.total_frames == 32
    assert "2 videos" in index.summary() and "4 skipped" in index.summary()
    assert "skipped 4 of 6 video files" in caplog.text and "truncated.mp4" in caplog.text


def test_rescan_uses_cache_and_reprobes_only_changed_files(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    reader = CountingReader()
    first = scan_videos(folder, cache=cache, reader=reader)
    assert len(reader.probed) == 6
    assert len(json.loads(cache.read_text())["files"]) == 6
    reader.probed.clear()
    second = scan_videos(folder, cache=cache, reader=reader)
    assert reader.probed == []
    assert second.entries == first.entries
    assert [str(s) for s in second.skipped] == [str(s) for s in first.skipped]
    write_video(folder / "a.mp4", frames(30), 10)  # changed size and mtime
    third = scan_videos(folder, cache=cache, reader=reader)
    assert reader.probed == ["a.mp4"]
    assert {Path(e.path).name: e.num_frames for e in third}["a.mp4"] == 30


def test_unverified_cache_entries_are_reprobed_for_a_verified_scan(folder: Path, tmp_path: Path) -> None:
    cache, reader = tmp_path / "cache.json", CountingReader()
    scan_videos(folder, cache=cache, reader=reader, verify=False)
    reader.probed.clear()
    scan_videos(folder, cache=cache, reader=reader, verify=True)
    assert len(reader.probed) == 6


def test_corrupt_cache_is_ignored(folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        index = scan_videos(folder, cache=cache)
    assert len(index) == 3 and "ignoring unreadable video index cache" in caplog.text
    assert json.loads(cache.read_text())["version"] == 1


def test_default_cache_location_follows_env(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUMANALIGN_CACHE", str(tmp_path / "cachedir"))
    monkeypatch.delenv("HUMANALIGN_CACHE_DIR", raising=False)
    scan_videos(folder)
    assert len(list((tmp_path / "cachedir" / "video_index").glob("*.json"))) == 1
    scan_videos(folder, cache=False)
    assert len(list((tmp_path / "cachedir" / "video_index").glob("*.json"))) == 1


def test_video_index_and_feature_cache_share_one_root(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from humanalign.features.cache import default_cache_dir

    monkeypatch.setenv("HUMANALIGN_CACHE", str(tmp_path / "one"))
    monkeypatch.setenv("HUMANALIGN_CACHE_DIR", str(tmp_path / "other"))  # the old name loses to the new
    assert default_cache_path(folder).parent == tmp_path / "one" / "video_index"
    assert default_cache_dir() == tmp_path / "one" / "features"
    monkeypatch.delenv("HUMANALIGN_CACHE")
    with caplog.at_level(logging.WARNING, logger="humanalign.paths"):
        assert default_cache_path(folder).parent == tmp_path / "other" / "video_index"
    assert default_cache_dir() == tmp_path / "other" / "features"
    assert "HUMANALIGN_CACHE_DIR is deprecated" in caplog.text


def test_manifest_with_blank_lines_reports_the_true_row(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text('path,note\n\na.mp4,x\n   \nb.mp4,y\n"",z\n')
    with pytest.raises(ValueError, match=r"m\.csv, row 6: empty 'path'"):
        list_video_files(manifest)
    manifest.write_text("path,note\n\na.mp4,x\n\n\nsub/b.mp4,y\n\n")
    assert list_video_files(manifest) == [tmp_path / "a.mp4", tmp_path / "sub" / "b.mp4"]


def test_manifest_with_relative_absolute_and_missing_paths(folder: Path, tmp_path: Path) -> None:
    manifest = folder / "list.csv"
    manifest.write_text(
        f"path,note\na.mp4,x\n{folder / 'sub' / 'deeper' / 'b.MP4'},y\ngone.mp4,z\nempty.mp4,w\n"
    )
    index = scan_videos(manifest, cache=False)
    assert [Path(e.path).name for e in index] == ["a.mp4", "b.MP4"]
    assert {Path(s.path).name: s.reason for s in index.skipped} == {
        "gone.mp4": "file not found",
        "empty.mp4": "empty file (0 bytes)",
    }


def test_malformed_sources_raise_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_videos(tmp_path / "nowhere", cache=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,fps\na.mp4,3\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*'path' column"):
        list_video_files(bad)
    blank = tmp_path / "blank.csv"
    blank.write_text('path\na.mp4\n""\n')
    with pytest.raises(ValueError, match=r"blank\.csv, row 3: empty 'path'"):
        list_video_files(blank)
    with pytest.raises(ValueError, match="min_frames"):
        scan_videos(tmp_path, min_frames=0)


def test_unreadable_cache_is_ignored_with_a_warning_and_rewritten(
    folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="humanalign.data.video_index"):
        index = scan_videos(folder, cache=cache)
    assert "ignoring unreadable video index cache" in caplog.text and str(cache) in caplog.text
    assert len(index) == 3 and len(json.loads(cache.read_text())["files"]) == 6
