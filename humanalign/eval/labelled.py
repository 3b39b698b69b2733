"""The one labelled set of the evaluation core: images or clips with class labels.

A labelled set comes from a folder with one sub-folder per class (``ROOT/<class>/<file>``), a CSV with
columns ``path`` and ``label`` (paths relative to the CSV's folder), or a registered stimulus set whose
table has a ``category`` column (``cue-conflict``, ...). It wraps a :class:`~humanalign.stimuli.base.StimulusSet`
(ids, paths, a pixel loader), so every consumer (probes, few-shot, robustness grids, alignment, RSA)
reads stimuli the same way. Videos are read as ``frames`` frames spaced uniformly over the whole video.

Unreadable items (broken or truncated files, decompression bombs) are found by :func:`readable` before
a long run, skipped, counted and listed (``LabelledSet.skipped``), never fatal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from humanalign.stimuli.base import IMAGE_SUFFIXES, StimulusSet, StimulusSetError, load_stimulus_set

__all__ = ["LabelledSet", "load_labelled", "readable", "VIDEO_EXTENSIONS", "IMAGE_EXTENSIONS", "video_loader"]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v")
IMAGE_EXTENSIONS = IMAGE_SUFFIXES


def _kind(path: Path) -> str:
    ext = path.suffix.lower()
    return "video" if ext in VIDEO_EXTENSIONS else "image" if ext in IMAGE_EXTENSIONS else ""


def video_loader(frames: int) -> Callable[[pd.Series], np.ndarray]:
    """A stimulus loader reading ``frames`` frames spaced uniformly over each video: uint8 ``[T, H, W, 3]``."""
    from humanalign.io.video import probe, read_frames

    def load(row: pd.Series) -> np.ndarray:
        n, _ = probe(row["path"])
        idx = np.linspace(0, max(n - 1, 0), frames).round().astype(int)
        return read_frames(row["path"], idx)  # uint8 [T, H, W, 3]

    return load


@dataclass
class LabelledSet:
    """Stimuli with integer class labels.

    Attributes:
        name: Set name (the results' ``dataset``).
        stimuli: The stimulus set (ids, paths, loader); row ``i`` is item ``i``.
        classes: Class names; ``labels`` index into it.
        labels: Class index per item ``[N]``.
        is_video: True for clips.
        frames: Frames read per video.
        source: Folder, CSV or set name it was read from.
        skipped: ``(stimulus_id, reason)`` of items dropped as unreadable.
    """

    name: str
    stimuli: StimulusSet
    classes: list[str]
    labels: np.ndarray
    is_video: bool = False
    frames: int = 16
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.stimuli)

    @property
    def ids(self) -> list[str]:
        """Stimulus ids in set order."""
        return self.stimuli.ids

    @property
    def paths(self) -> list[Path]:
        """One file per item (sets without files raise)."""
        if "path" not in self.stimuli.table:
            raise StimulusSetError(f"{self.source or self.name}: items are not files")
        return [Path(p) for p in self.stimuli.table["path"]]

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledSet:
        """The items at ``indices`` (same class list)."""
        idx = np.asarray(indices, dtype=np.int64)
        ids = self.stimuli.ids
        return dataclasses.replace(self, stimuli=self.stimuli.subset([ids[i] for i in idx]), labels=self.labels[idx])

    def per_class(self, k: int) -> LabelledSet:
        """The first ``k`` items of every class (in set order), for quick runs."""
        keep = np.sort(np.concatenate([np.flatnonzero(self.labels == c)[:k] for c in range(len(self.classes))]))
        return self.subset(keep)

    def with_classes(self, classes: Sequence[str]) -> LabelledSet:
        """Re-index labels against ``classes`` (e.g. a validation set against the training classes).

        Raises:
            ValueError: if this set has a class not in ``classes``.
        """
        unknown = sorted(set(self.classes) - set(classes))
        if unknown:
            raise ValueError(f"{self.source}: classes {unknown[:5]} do not occur in the training set")
        position = {c: i for i, c in enumerate(classes)}
        labels = np.array([position[self.classes[y]] for y in self.labels], dtype=np.int64)
        return dataclasses.replace(self, labels=labels, classes=list(classes))

    def with_frames(self, frames: int) -> LabelledSet:
        """The same clips read with ``frames`` frames each (images: unchanged)."""
        if not self.is_video or frames == self.frames:
            return self
        stimuli = StimulusSet(self.stimuli.name, self.stimuli.table, loader=video_loader(frames),
                              meta=dict(self.stimuli.meta))
        return dataclasses.replace(self, stimuli=stimuli, frames=frames)

    def renamed(self, name: str) -> LabelledSet:
        """The same set under another results name."""
        return dataclasses.replace(self, name=name)


def _rows_from_folder(root: Path) -> list[tuple[Path, str]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and _kind(p))
    rows = []
    for p in files:
        rel = p.relative_to(root)
        if len(rel.parts) < 2:
            raise StimulusSetError(f"{p}: not inside a class sub-folder (expected {root}/<class>/{p.name})")
        rows.append((p, rel.parts[0]))
    return rows


def _rows_from_csv(csv: Path) -> list[tuple[Path, str]]:
    try:
        table = pd.read_csv(csv, skip_blank_lines=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise StimulusSetError(f"{csv}: not a readable CSV ({str(err).splitlines()[0]})") from None
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise StimulusSetError(f"{csv}: missing column(s) {sorted(missing)}; found {list(table.columns)}")
    rows = []
    for i, (path, label) in enumerate(zip(table["path"], table["label"])):
        if pd.isna(path) and pd.isna(label):
            continue  # a blank line
        if pd.isna(path) or pd.isna(label):
            raise StimulusSetError(f"{csv}: row {i + 2} has an empty path or label")
        file = (csv.parent / str(path)).resolve()
        if not file.is_file():
            raise FileNotFoundError(f"{csv}: row {i + 2}: file not found: {file}")
        rows.append((file, str(label)))
    return rows


def load_labelled(source: str | Path, frames: int = 16, root: str | Path | None = None,
                  name: str | None = None, min_classes: int = 1) -> LabelledSet:
    """Read a labelled set from a class-folder tree, a ``path,label`` CSV or a registered stimulus set.

    Args:
        source: Folder, CSV file or registered set name.
        frames: Frames read per video.
        root: Local copy of a registered set.
        name: Results name (default: the folder/set name).
        min_classes: Fewest classes accepted (a validation set may hold one; a readout needs two).

    Raises:
        FileNotFoundError: the folder/CSV or a listed file is absent (the line is named).
        StimulusSetError: a malformed CSV, an empty set, mixed videos and images, too few classes.
    """
    path = Path(source).expanduser()
    if path.is_dir() or path.is_file():
        rows = _rows_from_csv(path) if path.is_file() else _rows_from_folder(path)
        if not rows:
            raise StimulusSetError(f"{path}: no labelled videos ({', '.join(VIDEO_EXTENSIONS)}) or images "
                                   f"({', '.join(IMAGE_EXTENSIONS)}) found (expected ROOT/<class>/<file> or a "
                                   "CSV with path,label)")
        kinds = {_kind(p) for p, _ in rows}
        if "" in kinds:
            bad = next(p for p, _ in rows if not _kind(p))
            raise StimulusSetError(f"{path}: unsupported file type {bad.suffix!r} ({bad})")
        if len(kinds) > 1:
            raise StimulusSetError(f"{path}: holds both images and videos; use one kind per set")
        is_video = kinds == {"video"}
        base = path.parent if path.is_file() else path
        table = pd.DataFrame({"stimulus_id": [_relative(p, base) for p, _ in rows], "path": [str(p) for p, _ in rows],
                              "category": [label for _, label in rows]})
        stimuli = StimulusSet(path.stem if path.is_file() else path.name, table,
                              loader=video_loader(frames) if is_video else None, meta={"root": str(base)})
    elif "/" in str(source) or Path(str(source)).suffix:
        raise FileNotFoundError(f"{path}: labelled data not found")
    else:
        stimuli = load_stimulus_set(str(source), root)
        is_video = False
        if "category" not in stimuli.table.columns or (stimuli.table["category"].astype(str) == "").any():
            raise StimulusSetError(f"stimulus set {source!r} has no 'category' label for every stimulus")
    cats = stimuli.table["category"].astype(str)
    classes = sorted(cats.unique())
    if len(classes) < min_classes:
        raise StimulusSetError(f"{source}: needs at least {min_classes} classes, found {classes}")
    labels = cats.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    logger.info("%s: %d items in %d classes", source, len(stimuli), len(classes))
    return LabelledSet(name or stimuli.name, stimuli, classes, labels, is_video, frames, str(source))


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def readable(items: LabelledSet) -> tuple[LabelledSet, list[tuple[str, str]]]:
    """Drop items that cannot be read (videos: header and first/last frame decoded; images: header checked).

    Returns:
        The readable items (their ``skipped`` extended) and ``(stimulus_id, reason)`` per dropped item
        (also logged as one warning).
    """
    skipped: list[tuple[str, str]] = []
    if items.is_video:
        from humanalign.io.video import VideoReadError, probe

        for sid, p in zip(items.ids, items.paths):
            try:
                probe(p, verify=True)
            except (VideoReadError, OSError, ValueError) as err:
                skipped.append((sid, f"{p}: {err}" if str(p) not in str(err) else str(err)))
    else:
        skipped = sorted(items.stimuli.check().items(), key=lambda kv: items.ids.index(kv[0]))
    if not skipped:
        return items, []
    logger.warning("%s: skipped %d unreadable item(s): %s", items.source or items.name, len(skipped),
                   "; ".join(f"{why}" for _, why in skipped[:10]))
    bad = {sid for sid, _ in skipped}
    keep = [i for i, sid in enumerate(items.ids) if sid not in bad]
    out = items.subset(keep)
    out.skipped = list(items.skipped) + skipped
    return out, skipped
