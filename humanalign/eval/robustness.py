"""The robustness experiment as package calls: which cells, every observer's grid, the summary rows.

``experiments/robustness.py`` is a thin command over :func:`run_robustness`; a lab can call it directly::

    data = load_labelled("data/sketch")
    observers = load_observers("timm:resnet50@r50.pth,hvm1")
    grids, summary = run_robustness(observers, data, resolve_corruptions("all", data.is_video), [1, 3, 5], store)
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

import pandas as pd

from humanalign.compare.robustness_rows import GridSummary, summarise_grid
from humanalign.eval.grid import CLEAN, Cell, GridResult, GridSettings, grid_cells, score_grid
from humanalign.eval.labelled import LabelledSet
from humanalign.io.results import ResultsStore
from humanalign.models.observers import Observer
from humanalign.perturb.corruptions import ALL_CORRUPTIONS, CorruptionError
from humanalign.registry import CORRUPTIONS, VIDEO_PERTURBATIONS

__all__ = ["resolve_corruptions", "parse_severities", "family_of", "grid_trials", "run_robustness", "parse_shard",
           "shard_cells"]

logger = logging.getLogger(__name__)


def resolve_corruptions(spec: str, is_video: bool) -> list[str]:
    """Names to run: ``all`` or a comma list, validated against the registries for the set's kind.

    Raises:
        CorruptionError: naming an unknown name and the closest known ones.
    """
    if spec == "all":
        return list(VIDEO_PERTURBATIONS.list()) if is_video else list(ALL_CORRUPTIONS)
    known = set(CORRUPTIONS.list()) | (set(VIDEO_PERTURBATIONS.list()) if is_video else set())
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in known:
            kind = "video perturbation or image corruption" if is_video else "image corruption"
            close = difflib.get_close_matches(n, sorted(known), n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise CorruptionError(f"unknown {kind} {n!r}.{hint} Known: {', '.join(sorted(known))}")
    if not names:
        raise CorruptionError(f"no corruption named in {spec!r}")
    return names


def parse_severities(spec: str) -> list[int]:
    """``"1-5"`` or ``"1,3"`` -> sorted severities in 1..5.

    Raises:
        ValueError: for anything else.
    """
    out: set[int] = set()
    try:
        for part in spec.split(","):
            lo, dash, hi = part.strip().partition("-")
            if dash and not hi:
                raise ValueError  # "2-": an open range is a typo, not severity 2
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ValueError(f"severities must look like 1-5 or 1,3,5, got {spec!r}") from None
    if not out or min(out) < 1 or max(out) > 5:
        raise ValueError(f"severities must lie in 1..5, got {spec!r}")
    return sorted(out)


def family_of(name: str, is_video: bool) -> str:
    """Corruption family from the registry metadata."""
    if is_video and name in VIDEO_PERTURBATIONS:
        return str(VIDEO_PERTURBATIONS.meta(name).get("family", "other"))
    return str(CORRUPTIONS.meta(name).get("family", "other"))


def grid_trials(store: ResultsStore, grids: Sequence[GridResult], dataset: str, benchmark: str = "robustness"
                ) -> pd.DataFrame:
    """Per-item correctness of the given grids: each observer's rows of its own weights and protocol."""
    frames = []
    for g in grids:
        df = store.trials(observer=g.observer, checkpoint_hash=g.weights_hash, benchmark=benchmark,
                          dataset=dataset, config_hash=g.config_hash)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if df.empty:
        return df
    df["severity"] = df["severity"].astype(int)
    df["correct"] = df["correct"].astype(int)
    return df.rename(columns={"observer": "model", "imagename": "item"})


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` (shard I of N, from 0) -> ``(I, N)``; None stays None.

    Raises:
        ValueError: for anything else.
    """
    if text is None:
        return None
    index, _, count = str(text).partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def shard_cells(cells: Sequence[Cell], index: int, count: int) -> list[Cell]:
    """Shard ``index`` of ``count`` of a grid: a contiguous share of the perturbed cells, plus ``clean``
    (every shard needs it to fit the readout; the store keeps it once)."""
    rest = [c for c in cells if c.perturbation != CLEAN]
    per = -(-len(rest) // count)
    return [c for c in cells if c.perturbation == CLEAN] + rest[index * per:(index + 1) * per]


def run_robustness(observers: Sequence[Observer], data: LabelledSet, corruptions: Sequence[str],
                   severities: Sequence[int], store: ResultsStore, settings: GridSettings = GridSettings(),
                   shard: tuple[int, int] | None = None) -> tuple[list[GridResult], GridSummary]:
    """Score every observer's grid (resumably), then write and return the summary rows.

    With ``shard=(i, n)`` only that share of the cells is scored and no summary is written (a job array
    scores the shards into their own stores; after ``python -m humanalign.results merge``, the same
    command without ``shard`` finds every cell done and writes the summaries).

    Each observer's summary rows carry its own protocol hash; pairwise rows (McNemar, the video-vs-image
    gap) carry the shared hash, or a hash of both when the protocols differ (head vs readout).
    """
    cells = grid_cells(corruptions, severities)
    if shard is not None:
        cells = shard_cells(cells, *shard)
    grids = []
    for obs in observers:
        grid = score_grid(obs, data, cells, store, settings)
        grids.append(grid)
        logger.info("%s: %d cells computed, %d already stored", obs.id, len(grid.computed), len(grid.skipped))
    if shard is not None:
        return grids, GridSummary()
    trials = grid_trials(store, grids, data.name, settings.benchmark)
    summary = summarise_grid(
        trials, dataset=data.name, corruptions=corruptions, severities=severities,
        families={c: family_of(c, data.is_video) for c in corruptions},
        hashes={g.observer: g.weights_hash for g in grids}, is_video={o.id: o.is_video for o in observers},
        num_classes=len(data.classes), imagenet_classes=all(c.isdigit() for c in data.classes),
        cfgs={g.observer: g.config_hash for g in grids}, seed=settings.seed, benchmark=settings.benchmark)
    store.append_metrics(summary.rows)
    return grids, summary
