"""The :class:`StimulusSet` container shared by every comparison (behaviour, RSA, robustness).

A stimulus set is an ordered table of stimuli, each with a unique ``stimulus_id`` that is carried
through feature extraction and every comparison (ids are aligned, never assumed to be in order),
plus a loader that returns one stimulus as a ``uint8`` array ``[H, W, 3]`` (images) or
``[T, H, W, 3]`` (video clips).

Unreadable stimuli: :meth:`StimulusSet.load` raises :class:`StimulusSetError` naming the file (one
line); a long run uses :meth:`StimulusSet.load_or_none` instead, which returns None and records the
reason in :attr:`StimulusSet.unreadable` (``{stimulus_id: reason}``), so the run can skip, count and
list them. :meth:`StimulusSet.check` finds them up front (cheaply for image files: no pixel decoding).

Registered stimulus sets live in :data:`humanalign.registry.STIMULUS_SETS`: the registered object
is a function ``load(root: Path | None) -> StimulusSet`` and its metadata records the licence,
public download address and checksum.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from humanalign.paths import shared_data_root
from humanalign.stimuli.errors import StimulusSetError
from humanalign.stimuli.images import check_image, read_image

__all__ = ["StimulusSet", "StimulusSetError", "load_stimulus_set", "shared_data_root", "IMAGE_SUFFIXES"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


#: What a loader may raise for one bad stimulus (anything else is a bug and propagates).
_STIMULUS_ERRORS = (StimulusSetError, OSError, ValueError)


@dataclass
class StimulusSet:
    """An ordered, id-keyed set of stimuli.

    Attributes:
        name: Set name (the registry name for registered sets).
        table: One row per stimulus; must have a unique ``stimulus_id`` column. Optional columns:
            ``path`` (file), ``category`` (label), any others (condition, shape, texture, ...).
        loader: ``loader(row) -> uint8 array [H, W, 3]`` or ``[T, H, W, 3]``; defaults to reading
            ``row["path"]`` as an image.
        meta: Free-form provenance (source address, licence, ...).
        unreadable: ``{stimulus_id: reason}`` of stimuli that failed in :meth:`load_or_none` or
            :meth:`check` (carried into subsets).
    """

    name: str
    table: pd.DataFrame
    loader: Callable[[pd.Series], np.ndarray] | None = None
    meta: dict = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "stimulus_id" not in self.table.columns:
            raise StimulusSetError(f"stimulus set {self.name!r}: table has no 'stimulus_id' column")
        dup = self.table["stimulus_id"][self.table["stimulus_id"].duplicated()]
        if len(dup):
            raise StimulusSetError(
                f"stimulus set {self.name!r}: duplicate stimulus ids, e.g. {dup.iloc[0]!r}"
            )
        self.table = self.table.reset_index(drop=True)
        if self.loader is None and "path" not in self.table.columns:
            raise StimulusSetError(f"stimulus set {self.name!r}: needs a 'path' column or a loader")

    @property
    def ids(self) -> list[str]:
        """Stimulus ids in set order."""
        return self.table["stimulus_id"].astype(str).tolist()

    def __len__(self) -> int:
        return len(self.table)

    def load(self, index: int) -> np.ndarray:
        """Return stimulus ``index`` as uint8 ``[H, W, 3]`` (or ``[T, H, W, 3]`` for clips)."""
        row = self.table.iloc[index]
        if self.loader is not None:
            return self.loader(row)
        return read_image(row["path"])

    def load_or_none(self, index: int) -> np.ndarray | None:
        """Stimulus ``index``, or None if it cannot be read (the reason goes to :attr:`unreadable`).

        For long runs (grids, feature extraction): each stimulus is read once, bad ones are skipped
        and listed at the end from :attr:`unreadable`.
        """
        try:
            return self.load(index)
        except _STIMULUS_ERRORS as err:
            sid = str(self.table["stimulus_id"].iloc[index])
            self.unreadable[sid] = " ".join(str(err).split()) or type(err).__name__
            logger.warning("stimulus set %r: skipping unreadable stimulus %s: %s", self.name, sid,
                           self.unreadable[sid])
            return None

    def check(self, indices: Iterable[int] | None = None) -> dict[str, str]:
        """``{stimulus_id: reason}`` of the stimuli that will not load (also recorded in :attr:`unreadable`).

        Image files (no custom loader) are checked without decoding pixels (header, size limit, PNG
        checksums; see :func:`humanalign.stimuli.images.check_image`); with a custom loader each
        stimulus is loaded once, so prefer :meth:`load_or_none` during the run itself.
        """
        bad: dict[str, str] = {}
        ids = self.table["stimulus_id"].astype(str)
        for i in range(len(self)) if indices is None else indices:
            try:
                if self.loader is None:
                    check_image(self.table["path"].iloc[i])
                else:
                    self.loader(self.table.iloc[i])
            except _STIMULUS_ERRORS as err:
                bad[ids.iloc[i]] = " ".join(str(err).split()) or type(err).__name__
        self.unreadable.update(bad)
        if bad:
            logger.warning("stimulus set %r: %d of %d stimuli unreadable:\n  %s", self.name, len(bad), len(self),
                           "\n  ".join(f"{k}: {v}" for k, v in bad.items()))
        return bad

    def _carried(self, ids: Iterable[str]) -> dict[str, str]:
        return {s: self.unreadable[s] for s in ids if s in self.unreadable}

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.load(i)

    def subset(self, ids: list[str]) -> StimulusSet:
        """The stimuli with the given ids, in that order (raises naming any missing id)."""
        position = {sid: i for i, sid in enumerate(self.ids)}
        missing = [s for s in ids if s not in position]
        if missing:
            raise StimulusSetError(f"stimulus set {self.name!r} has no stimuli {missing[:5]}")
        table = self.table.iloc[[position[s] for s in ids]].reset_index(drop=True)
        return StimulusSet(self.name, table, self.loader, dict(self.meta), self._carried(ids))

    def head(self, n: int) -> StimulusSet:
        """The first ``n`` stimuli (for quick runs)."""
        return StimulusSet(self.name, self.table.iloc[:n].copy(), self.loader, dict(self.meta),
                           self._carried(self.ids[:n]))

    @classmethod
    def from_folder(cls, root: str | Path, name: str | None = None, recursive: bool = True) -> StimulusSet:
        """Images under ``root``; the first sub-folder level (if any) is the ``category``.

        ``stimulus_id`` is the path relative to ``root`` (POSIX style).
        """
        root = Path(root)
        if not root.is_dir():
            raise StimulusSetError(f"stimulus folder not found: {root}")
        files = sorted(
            p for p in (root.rglob("*") if recursive else root.iterdir())
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise StimulusSetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
        rows = []
        for p in files:
            rel = p.relative_to(root)
            rows.append({
                "stimulus_id": rel.as_posix(),
                "path": str(p),
                "category": rel.parts[0] if len(rel.parts) > 1 else "",
            })
        return cls(name or root.name, pd.DataFrame(rows), meta={"root": str(root)})


def load_stimulus_set(name_or_path: str | Path, root: str | Path | None = None) -> StimulusSet:
    """A registered stimulus set by name (``root`` = local copy), or an image folder by path.

    Raises:
        humanalign.registry.UnknownNameError: if it is neither a registered name nor a folder.
    """
    from humanalign.registry import STIMULUS_SETS

    path = Path(name_or_path)
    if path.is_dir():
        return StimulusSet.from_folder(path)
    loader = STIMULUS_SETS.get(str(name_or_path))
    return loader(Path(root) if root is not None else None)
