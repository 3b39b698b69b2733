"""Index of a folder (or manifest CSV) of long continuous videos: (path, num_frames, fps) per file.

Probing thousands of long videos is slow, so results are cached on disk in a JSON file keyed by each
file's absolute path, size and modification time: a re-scan only probes new or changed files.
Unreadable, empty and too-short files never stop a scan; they are skipped, counted, logged and kept
in :attr:`VideoIndex.skipped` with the reason.

Example:
    >>> index = scan_videos("/data/egocentric", min_frames=64)
    >>> len(index), index.skipped[:3]
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from humanalign.io.video import VideoReader, VideoReadError
from humanalign.paths import cache_root

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoEntry",
    "SkippedFile",
    "VideoIndex",
    "list_video_files",
    "default_cache_path",
    "scan_videos",
]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg")
_CACHE_VERSION = 1


@dataclass(frozen=True)
class VideoEntry:
    """One readable video: absolute path, frame count and frame rate."""

    path: str
    num_frames: int
    fps: float

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.num_frames / self.fps


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the index and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class VideoIndex:
    """The readable videos of a source, plus the files that were skipped.

    Attributes:
        entries: Readable videos, sorted by path.
        skipped: Files left out, with reasons.
        source: The folder or manifest the index was built from.
    """

    entries: list[VideoEntry]
    skipped: list[SkippedFile] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> VideoEntry:
        return self.entries[i]

    def __iter__(self) -> Iterator[VideoEntry]:
        return iter(self.entries)

    @property
    def total_frames(self) -> int:
        """Frames over all readable videos."""
        return sum(e.num_frames for e in self.entries)

    def summary(self) -> str:
        """One line: counts, total duration and skipped files."""
        hours = sum(e.seconds for e in self.entries) / 3600
        return (
            f"{len(self.entries)} videos ({self.total_frames} frames, {hours:.2f} h) from {self.source}; "
            f"{len(self.skipped)} skipped"
        )


def list_video_files(
    source: str | os.PathLike[str], extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> list[Path]:
    """Video files of a folder (recursive, by extension) or of a manifest CSV (its ``path`` column).

    Relative manifest paths are resolved against the manifest's folder; manifest paths are kept even
    when the file is missing (the scan reports them as skipped).

    Raises:
        FileNotFoundError: if ``source`` does not exist.
        ValueError: naming the manifest and row, if the CSV is malformed or has no ``path`` column.
    """
    source = Path(source)
    if source.is_dir():
        exts = {e.lower() for e in extensions}
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in exts and p.is_file())
    if not source.is_file():
        raise FileNotFoundError(f"video source not found: {source}")
    paths = []
    try:
        with open(source, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [c.strip() for c in next(reader, [])]
            if "path" not in header:
                raise ValueError(f"{source}: manifest needs a 'path' column; found columns {header}")
            column = header.index("path")
            for record in reader:
                if _is_blank(record):
                    continue  # reader.line_num still counts the line, so reported rows stay true
                text = record[column].strip() if column < len(record) else ""
                if not text:
                    raise ValueError(f"{source}, row {reader.line_num}: empty 'path'")
                path = Path(text).expanduser()
                paths.append(path if path.is_absolute() else source.parent / path)
    except (csv.Error, UnicodeDecodeError) as err:
        raise ValueError(f"{source}: cannot read the manifest CSV ({err})") from err
    return paths


def _is_blank(record: list[str]) -> bool:
    """A blank or whitespace-only line (csv gives ``[]``); a line holding ``""`` (``[""]``) is an empty path."""
    return not record or (len(record) == 1 and record[0] != "" and not record[0].strip())


def default_cache_path(source: str | os.PathLike[str]) -> Path:
    """Cache file for a source: ``<cache_root()>/video_index/<hash>.json`` (see :func:`humanalign.paths.cache_root`)."""
    root = cache_root()
    key = hashlib.sha1(str(Path(source).resolve()).encode()).hexdigest()[:16]
    return root / "video_index" / f"{key}.json"


def _load_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("version") != _CACHE_VERSION:
            return {}
        return dict(data["files"])
    except Exception as err:
        logger.warning("ignoring unreadable video index cache %s (%s)", path, err)
        return {}


def _save_cache(path: Path | None, files: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": _CACHE_VERSION, "files": files}))
        tmp.replace(path)  # atomic: concurrent scans (e.g. DDP ranks) never see half a file
    except OSError as err:
        logger.warning("could not write video index cache %s (%s)", path, err)


def scan_videos(
    source: str | os.PathLike[str],
    *,
    min_frames: int = 1,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    cache: str | os.PathLike[str] | bool = True,
    verify: bool = True,
    reader: VideoReader | None = None,
    progress: bool = False,
) -> VideoIndex:
    """Build the index of a folder or manifest of videos, skipping what cannot be used.

    Args:
        source: Folder (scanned recursively) or manifest CSV with a ``path`` column.
        min_frames: Videos with fewer frames are skipped as too short.
        extensions: File name endings counted as videos in a folder scan.
        cache: ``True`` for :func:`default_cache_path`, a path for a given cache file, ``False`` for none.
        verify: Decode the first and last frame of each new file, catching truncated files at scan time.
        reader: Video reader to probe with (default: decord first, PyAV fallback).
        progress: Show a progress bar.

    Returns:
        The index; ``index.skipped`` lists every left-out file with its reason.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be >= 1, got {min_frames}")
    reader = reader or VideoReader()
    files = list_video_files(source, extensions)
    cache_path = default_cache_path(source) if cache is True else (Path(cache) if cache else None)
    cached = _load_cache(cache_path)
    fresh: dict[str, Any] = {}
    entries: list[VideoEntry] = []
    skipped: list[SkippedFile] = []
    probed = 0
    for file in tqdm(files, desc="scanning videos", unit="file", disable=not progress):
        path = str(file.resolve())
        try:
            stat = file.stat()
        except OSError:
            skipped.append(SkippedFile(path, "file not found"))
            continue
        key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        record = cached.get(path)
        usable = (
            record is not None
            and all(record.get(k) == v for k, v in key.items())
            and (record.get("verified") or not verify)
        )
        if not usable:
            probed += 1
            record = dict(key, verified=verify)
            try:
                record["num_frames"], record["fps"] = reader.probe(file, verify=verify)
            except VideoReadError as err:
                record["error"] = err.reason
        fresh[path] = record
        if "error" in record:
            skipped.append(SkippedFile(path, record["error"]))
        elif record["num_frames"] < min_frames:
            skipped.append(SkippedFile(path, f"too short: {record['num_frames']} frames < {min_frames}"))
        else:
            entries.append(VideoEntry(path, int(record["num_frames"]), float(record["fps"])))
    if probed:
        _save_cache(cache_path, {**cached, **fresh})
    index = VideoIndex(sorted(entries, key=lambda e: e.path), skipped, str(source))
    logger.info("%s (probed %d new or changed files)", index.summary(), probed)
    if skipped:
        shown = "\n  ".join(str(s) for s in skipped[:20])
        more = f"\n  ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""
        logger.warning("skipped %d of %d video files:\n  %s%s", len(skipped), len(files), shown, more)
    return index
