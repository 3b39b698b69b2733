"""One trial-level schema for human and model observers (the model-vs-human CSV columns).

Every behavioural comparison in :mod:`humanalign.compare.behaviour` is a DataFrame operation on
trial rows with the columns of the model-vs-human ``raw-data/`` CSVs (Geirhos et al. 2021,
https://github.com/bethgelab/model-vs-human)::

    subj, session, trial, rt, object_response, category, condition, imagename

plus two derived columns added by the readers here: ``dataset`` (the data-set folder name, e.g.
``"cue-conflict"``) and ``image_id`` (``imagename`` without the experiment-specific trial prefix,
so the same image matches across observers). A model is one more observer: its ``subj`` is the
model name and its ``rt`` is missing. Human subjects are named ``subject-XX``.

Conditions are kept as strings in the canonical form the benchmark's code uses (a column of
integers stays ``"0"``, ``"15"``; a column of decimals becomes ``"0.9"``, ``"1.0"``, ``"inf"``;
``true``/``false`` become ``"True"``/``"False"``), so the benchmark's excluded-condition lists
apply unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "TRIAL_COLUMNS",
    "CATEGORIES16",
    "NA_RESPONSE",
    "TrialsError",
    "canonical_conditions",
    "short_image_id",
    "is_human",
    "read_trials_csv",
    "load_raw_data",
    "write_trials_csv",
    "model_trials",
    "validate_trials",
]

logger = logging.getLogger(__name__)

TRIAL_COLUMNS: tuple[str, ...] = (
    "subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename",
)

#: The 16 entry-level categories of the model-vs-human experiments (sorted, as in the benchmark).
CATEGORIES16: tuple[str, ...] = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
)

#: A human "no answer" response; it counts as an error in every metric.
NA_RESPONSE = "na"

_HUMAN_PREFIX = "subject-"
_MISSING = ("", "nan", "na", "none", "<na>")


class TrialsError(ValueError):
    """A trial file or table is malformed (missing column, unknown category, duplicate trial, ...)."""


def is_human(subj: str) -> bool:
    """True for human observers (``subject-XX``), False for models."""
    return str(subj).startswith(_HUMAN_PREFIX)


def short_image_id(imagename: str) -> str:
    """``imagename`` without its experiment-specific prefix (trial number, session, condition).

    ``0001_cl_s01_cr_oven_40_n04111531_14126.png`` -> ``n04111531_14126.png`` (ImageNet images keep
    their synset prefix); ``0001_s5n_s01_0_bird_00_bird3-bird2.png`` -> ``bird3-bird2.png``;
    a name without underscores is returned unchanged.
    """
    parts = str(imagename).split("_")
    if len(parts) == 1:
        return parts[0]
    head, tail = parts[-2], parts[-1]
    return f"{head}_{tail}" if head.startswith("n0") else tail


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def canonical_conditions(values: pd.Series) -> pd.Series:
    """Canonical string form of one file's ``condition`` column (see the module docstring).

    The whole column decides the form, as a CSV reader infers one type per column: all-integer
    columns stay integers, a column with any decimal (or ``inf``) becomes floats, ``true``/``false``
    become ``True``/``False``. Missing values become ``""``.
    """
    text = values.astype("string").str.strip().fillna("")
    present = text[~text.str.lower().isin(["", "nan", "na", "none"])]
    out = text.where(~text.str.lower().isin(["nan", "na", "none"]), "")
    if present.empty:
        return out.astype(object)
    lowered = present.str.lower()
    if lowered.isin(["true", "false"]).all():
        return out.map(lambda v: v.lower().capitalize() if v else "").astype(object)
    numbers = present.map(_parse_number)
    if numbers.notna().all():
        is_int = present.str.fullmatch(r"[+-]?\d+").all()

        def fmt(v: str) -> str:
            if not v:
                return ""
            x = float(v)
            if is_int:
                return str(int(x))
            return "inf" if math.isinf(x) and x > 0 else repr(x)

        return out.map(fmt).astype(object)
    return out.astype(object)


def _row_hint(frame: pd.DataFrame, mask: pd.Series, lines: Sequence[int] | None = None) -> str:
    """'row N (line L)' of the first True in ``mask``: N counts data rows, L is the file's line
    (``lines[i]`` when given, so skipped blank lines still count; else N + 1)."""
    first = int(np.flatnonzero(mask.to_numpy())[0])
    return f"row {first + 1} (line {lines[first] if lines is not None else first + 2})"


def validate_trials(frame: pd.DataFrame, source: str = "<trials>", lines: Sequence[int] | None = None) -> None:
    """Check a trial table: required columns, numeric session and trial, an imagename on every row,
    known categories, no duplicate trials or images.

    Args:
        frame: Trial rows (columns at least :data:`TRIAL_COLUMNS`).
        source: File name (or description) used in error messages.
        lines: The file line of each row (for messages), when blank lines were skipped.

    Raises:
        TrialsError: naming ``source``, the row and the problem.
    """
    missing = [c for c in TRIAL_COLUMNS if c not in frame.columns]
    if missing:
        raise TrialsError(f"{source}: missing column(s) {missing}; found {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    for col in ("session", "trial"):
        number = pd.to_numeric(frame[col], errors="coerce")
        bad = number.isna() | ~np.isfinite(number.astype(float))
        if bad.any():
            value = frame.loc[bad.to_numpy(), col].iloc[0]
            raise TrialsError(f"{source}: {_row_hint(frame, bad, lines)}: {col} {value!r} is missing or not a number")
    name = frame["imagename"].astype("string").str.strip()
    bad = name.isna() | name.str.lower().isin(_MISSING)
    if bad.any():
        value = frame.loc[bad.to_numpy(), "imagename"].iloc[0]
        raise TrialsError(f"{source}: {_row_hint(frame, bad, lines)}: imagename is missing ({value!r})")
    category = frame["category"].astype("string").str.strip()
    bad = ~category.isin(CATEGORIES16)
    if bad.any():
        value = frame.loc[bad.to_numpy(), "category"].iloc[0]
        raise TrialsError(f"{source}: {_row_hint(frame, bad, lines)}: unknown category {value!r} "
                          f"(expected one of {', '.join(CATEGORIES16)})")
    response = frame["object_response"].astype("string").str.strip()
    bad = ~response.isin((*CATEGORIES16, NA_RESPONSE))
    if bad.any():
        value = frame.loc[bad.to_numpy(), "object_response"].iloc[0]
        raise TrialsError(f"{source}: {_row_hint(frame, bad, lines)}: unknown object_response {value!r} "
                          f"(expected one of the 16 categories or {NA_RESPONSE!r})")
    keys = ["dataset"] if "dataset" in frame.columns else []
    dup = frame.duplicated(keys + ["subj", "session", "trial"])
    if dup.any():
        row = frame[dup.to_numpy()].iloc[0]
        raise TrialsError(f"{source}: {_row_hint(frame, dup, lines)}: duplicate trial (subj={row['subj']!r}, "
                          f"session={row['session']!r}, trial={row['trial']!r})")
    ids = frame["image_id"] if "image_id" in frame.columns else frame["imagename"].map(short_image_id)
    dup = pd.concat([frame[keys + ["subj"]], ids.rename("image_id")], axis=1).duplicated()
    if dup.any():
        row = frame[dup.to_numpy()].iloc[0]
        raise TrialsError(f"{source}: {_row_hint(frame, dup, lines)}: duplicate trial: observer {row['subj']!r} "
                          f"saw image {row['imagename']!r} twice")


def read_trials_csv(path: str | Path, dataset: str | None = None) -> pd.DataFrame:
    """Read one model-vs-human trial CSV (header case-insensitive) into the trial schema.

    Args:
        path: CSV file with the columns of :data:`TRIAL_COLUMNS` (any header case).
        dataset: Data-set name for the ``dataset`` column; default: the parent folder's name.

    Returns:
        Trial rows with :data:`TRIAL_COLUMNS` plus ``dataset`` and ``image_id``; ``subj``,
        ``object_response``, ``category``, ``condition`` and ``imagename`` are strings.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        TrialsError: naming file and row: an empty file, a missing or unexpected column, a missing or
            non-numeric session or trial, a missing imagename, an unknown category, a duplicate trial.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trial file not found: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError as err:
        raise TrialsError(f"{path}: empty file (no header, no trials)") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TrialsError(f"{path}: not a readable CSV ({' '.join(str(err).split())})") from err
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    extra = [c for c in frame.columns if c not in TRIAL_COLUMNS]
    if extra:
        raise TrialsError(f"{path}: unexpected column(s) {extra}; a trial file has exactly {list(TRIAL_COLUMNS)}")
    blank = (frame.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    lines = [int(i) + 2 for i in np.flatnonzero(~blank)]  # line 1 is the header
    frame = frame[~blank].reset_index(drop=True)
    validate_trials(frame, str(path), lines)
    frame = frame[list(TRIAL_COLUMNS)].copy()
    for col in ("subj", "object_response", "category", "imagename"):
        frame[col] = frame[col].astype(str).str.strip()
    frame["condition"] = canonical_conditions(frame["condition"])
    frame["session"] = pd.to_numeric(frame["session"], errors="coerce")
    frame["trial"] = pd.to_numeric(frame["trial"], errors="coerce")
    frame["rt"] = pd.to_numeric(frame["rt"].replace({"": np.nan, "NaN": np.nan}), errors="coerce")
    frame["dataset"] = dataset if dataset is not None else path.parent.name
    frame["image_id"] = frame["imagename"].map(short_image_id)
    return frame


def load_raw_data(root: str | Path, datasets: Iterable[str] | None = None,
                  observers: Sequence[str] | None = None) -> pd.DataFrame:
    """Load a model-vs-human ``raw-data/`` folder (any subset of its data sets) into one table.

    Args:
        root: Folder holding one sub-folder of CSVs per data set (``colour/``, ``cue-conflict/``, ...).
        datasets: Data-set folder names to read; default all sub-folders holding CSVs.
        observers: Keep only these ``subj`` names (``"humans"`` selects every ``subject-XX``).

    Returns:
        Trial rows of all files (see :func:`read_trials_csv`).

    Raises:
        FileNotFoundError: if ``root`` or a requested data-set folder is missing.
        TrialsError: if a file is malformed, or a folder holds no CSVs.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"raw-data folder not found: {root}")
    names = sorted(datasets) if datasets is not None else sorted(
        p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.csv")))
    if not names:
        raise TrialsError(f"{root}: no data-set folders with CSV files")
    frames = []
    for name in names:
        folder = root / name
        if not folder.is_dir():
            known = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise FileNotFoundError(f"data set {name!r} not found under {root} (found: {', '.join(known)})")
        files = sorted(folder.glob("*.csv"))
        if not files:
            raise TrialsError(f"{folder}: no CSV files")
        frames.extend(read_trials_csv(f, dataset=name) for f in files)
    table = pd.concat(frames, ignore_index=True)
    if observers is not None:
        wanted = set(observers)
        keep = table["subj"].isin(wanted) | (("humans" in wanted) & table["subj"].map(is_human))
        table = table[keep].reset_index(drop=True)
    logger.info("loaded %d trials of %d observers from %d data sets under %s",
                len(table), table["subj"].nunique(), len(names), root)
    return table


def write_trials_csv(trials: pd.DataFrame, path: str | Path) -> Path:
    """Write trial rows as a model-vs-human CSV (the :data:`TRIAL_COLUMNS`, lower-case header).

    Raises:
        TrialsError: if the table is malformed (see :func:`validate_trials`).
    """
    path = Path(path)
    validate_trials(trials, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    trials[list(TRIAL_COLUMNS)].to_csv(path, index=False, na_rep="NaN")
    return path


def model_trials(observer: str, dataset: str, stimuli: pd.DataFrame, responses: Sequence[str]) -> pd.DataFrame:
    """Trial rows for a model observer: one row per stimulus, in stimulus order.

    Args:
        observer: Model name (becomes ``subj``; must not start with ``subject-``).
        dataset: Data-set name (``dataset`` column).
        stimuli: Table with ``category``, ``imagename`` and optionally ``condition`` columns.
        responses: The model's 16-class decision per stimulus (``len(stimuli)`` strings).

    Returns:
        Trial rows in the schema of :func:`read_trials_csv` (``rt`` missing, session 1).

    Raises:
        TrialsError: on a length mismatch, a human-looking name, or an unknown category.
    """
    if is_human(observer):
        raise TrialsError(f"model observer name {observer!r} must not start with {_HUMAN_PREFIX!r}")
    if len(responses) != len(stimuli):
        raise TrialsError(f"{observer}/{dataset}: {len(responses)} responses for {len(stimuli)} stimuli")
    condition = stimuli["condition"].astype(str) if "condition" in stimuli.columns else "0"
    frame = pd.DataFrame({
        "subj": observer,
        "session": 1,
        "trial": np.arange(1, len(stimuli) + 1),
        "rt": np.nan,
        "object_response": [str(r) for r in responses],
        "category": stimuli["category"].astype(str).to_numpy(),
        "condition": condition if isinstance(condition, str) else condition.to_numpy(),
        "imagename": stimuli["imagename"].astype(str).to_numpy(),
    })
    frame["dataset"] = dataset
    frame["image_id"] = frame["imagename"].map(short_image_id)
    validate_trials(frame, f"{observer}/{dataset}")
    return frame
