"""The results store: one SQLite database holding every metric row and trial row, with provenance.

Rows are long-format (see ``DESIGN.md``). Metric rows have the columns :data:`METRIC_COLUMNS`; trial
rows have :data:`TRIAL_COLUMNS` (an ``observer`` plus the model-vs-human trial columns). Every row
also carries :data:`PROVENANCE_COLUMNS`, filled in on append when the caller leaves them empty.
Columns outside the schema are kept in a JSON ``extra`` field and come back as ordinary columns.

Identity: a metric row names its observer (``model``: the user's name or spec), the content hash of
its weights (``checkpoint_hash``) and its protocol (``config_hash``); trial rows carry ``observer``,
``checkpoint_hash`` and ``config_hash`` the same way. A metric row may leave ``checkpoint_hash`` empty
only when it is not about one model's weights (see :func:`needs_checkpoint_hash`): reference rows
(``model`` is ``reference:...``, ``human``/``humans``/``human:...``, a human subject ``subject-...``,
``noise_ceiling...``, or a fit over several models ``series:...``) and pairwise rows (``a|b``,
``a - b``). Any other metric row without a hash is a :class:`ResultsSchemaError` naming the row.

Natural keys and idempotence: each table has a UNIQUE natural key (:data:`NATURAL_KEYS`), indexed on
``ifnull(column, '')`` so that a missing value is one value (SQLite's UNIQUE treats NULLs as distinct;
here an empty string and a missing value are the same key). Writing a row whose key is already stored
is a no-op; the append methods return how many rows were new and log how many were already there
(with a warning when a stored row's values differ, which means the key misses a distinguishing
column or the computation is not deterministic). Two rows of one batch with the same key but
different values are a :class:`ResultsSchemaError`.

Concurrency and durability: the database runs in WAL mode; each append is one ``BEGIN IMMEDIATE``
transaction (all rows or none; :meth:`ResultsStore.append` writes a cell's trial and metric rows in
one), so several processes may append at once and a killed writer loses only its uncommitted
transaction. Each call opens its own short-lived connection, so a store object can be shared across
``fork``. Opening an up-to-date store and reading never write or take the write lock; a version-1
database is migrated (deduplicated, then indexed) in one transaction on its first writable open.

Errors about the file itself (not an SQLite database, locked by another writer for more than
``timeout`` seconds, missing on a read-only open) are :class:`ResultsStoreError` with one line that
starts with the file's path.

Example:
    >>> store = ResultsStore("results/humanalign.sqlite")
    >>> store.append(trials=trial_rows, metrics=[{"model": "vit_s16_video", "checkpoint_hash": "3fa1",
    ...     "benchmark": "robustness", "dataset": "sketch", "metric": "accuracy", "value": 0.61}])
    Appended(trials=1600, metrics=1)
    >>> ResultsStore("results/humanalign.sqlite", readonly=True).metrics(model="vit_s16_video")
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from humanalign.paths import default_results_path
from humanalign.provenance import git_revision, package_version, utc_now

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_PATH",
    "METRIC_COLUMNS",
    "TRIAL_COLUMNS",
    "PROVENANCE_COLUMNS",
    "METRIC_KEY",
    "TRIAL_KEY",
    "NATURAL_KEYS",
    "REFERENCE_MODEL_PREFIXES",
    "Appended",
    "ResultsStore",
    "ResultsStoreError",
    "SchemaVersionError",
    "ResultsSchemaError",
    "needs_checkpoint_hash",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DEFAULT_PATH = default_results_path()

# name -> SQLite type; TEXT columns are stored (and filtered) as strings, so layer=11 matches "11".
METRIC_COLUMNS: dict[str, str] = {
    "model": "TEXT",
    "checkpoint_hash": "TEXT",
    "layer": "TEXT",
    "benchmark": "TEXT",
    "dataset": "TEXT",
    "condition": "TEXT",
    "metric": "TEXT",
    "value": "REAL",
    "ci_low": "REAL",
    "ci_high": "REAL",
    "n": "INTEGER",
    "seed": "INTEGER",
    "config_hash": "TEXT",
}
TRIAL_COLUMNS: dict[str, str] = {
    "observer": "TEXT",
    "checkpoint_hash": "TEXT",
    "benchmark": "TEXT",
    "dataset": "TEXT",
    "subject": "TEXT",
    "session": "TEXT",
    "trial": "INTEGER",
    "rt": "REAL",
    "object_response": "TEXT",
    "category": "TEXT",
    "condition": "TEXT",
    "imagename": "TEXT",
    "seed": "INTEGER",
    "config_hash": "TEXT",
}
PROVENANCE_COLUMNS: dict[str, str] = {"git_revision": "TEXT", "package_version": "TEXT", "time": "TEXT"}
METRIC_KEY: tuple[str, ...] = (
    "model", "checkpoint_hash", "layer", "benchmark", "dataset", "condition", "metric", "seed", "config_hash",
)  # fmt: skip
TRIAL_KEY: tuple[str, ...] = (
    "observer", "checkpoint_hash", "benchmark", "dataset", "subject", "session", "trial", "condition",
    "imagename", "seed", "config_hash",
)  # fmt: skip
NATURAL_KEYS: dict[str, tuple[str, ...]] = {"metrics": METRIC_KEY, "trials": TRIAL_KEY}
# A metric row whose model starts with one of these (or names a pair) is not about one model's weights.
REFERENCE_MODEL_PREFIXES: tuple[str, ...] = ("reference:", "human:", "humans:", "subject-", "noise_ceiling",
                                             "series:")
_REFERENCE_MODELS = frozenset({"human", "humans"})
_REQUIRED = {"metrics": ("model", "benchmark", "metric", "value"), "trials": ("observer", "object_response")}
_SCHEMAS = {"metrics": METRIC_COLUMNS, "trials": TRIAL_COLUMNS}
_IDENTITY = ("model", "observer")  # required and non-empty: who the row is about


class ResultsStoreError(RuntimeError):
    """The store's file cannot be used (not SQLite, locked, missing, not a results store); one line, path first."""


class SchemaVersionError(ResultsStoreError):
    """The database was written with a different schema version than this code reads."""


class ResultsSchemaError(ValueError):
    """A row does not fit the results schema (missing column, wrong type); the message names the row."""


class Appended(NamedTuple):
    """New rows written by :meth:`ResultsStore.append` (rows already stored are not counted)."""

    trials: int
    metrics: int


def needs_checkpoint_hash(model: str) -> bool:
    """Whether a metric row of this ``model`` is about one model's weights and so needs a checkpoint hash.

    False for reference rows (``reference:...``, ``human``, ``humans``, ``human:...``, ``subject-...``,
    ``noise_ceiling...``, ``series:...``) and for pairwise rows (``a|b``, ``a - b``); True otherwise.
    """
    name = str(model).strip()
    if name in _REFERENCE_MODELS or name.startswith(REFERENCE_MODEL_PREFIXES):
        return False
    return "|" not in name and " - " not in name


def _columns(table: str) -> dict[str, str]:
    return {**_SCHEMAS[table], **PROVENANCE_COLUMNS}


def _content_columns(table: str) -> list[str]:
    """Columns that are neither key nor provenance: what must agree when one key is written twice."""
    return [c for c in _SCHEMAS[table] if c not in NATURAL_KEYS[table]] + ["extra"]


def _key_exprs(table: str, alias: str = "") -> list[str]:
    prefix = f"{alias}." if alias else ""
    return [f"ifnull({prefix}\"{c}\", '')" for c in NATURAL_KEYS[table]]


def _index_sql(table: str) -> str:
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_natural_key ON {table} ({', '.join(_key_exprs(table))})"


def _table_sql(table: str) -> str:
    cols = ", ".join(f'"{c}" {t}' for c, t in _columns(table).items())
    return f"CREATE TABLE IF NOT EXISTS {table} (row_id INTEGER PRIMARY KEY AUTOINCREMENT, {cols}, extra TEXT)"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _convert(value: Any, sql_type: str, table: str, row: int, column: str) -> Any:
    """Convert one cell to its SQLite type, raising ResultsSchemaError naming row and column."""
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if sql_type == "TEXT":
            return str(value)
        if sql_type == "REAL":
            if isinstance(value, bool) or isinstance(value, str):
                raise TypeError
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            raise TypeError
        if isinstance(value, bool) or isinstance(value, str) and not value.lstrip("-").isdigit():
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        kind = {"REAL": "a number", "INTEGER": "an integer"}[sql_type]
        raise ResultsSchemaError(
            f"{table} row {row}: column {column!r} must be {kind}, got {value!r}"
        ) from None


def _records(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict(orient="records")
    records = []
    for i, rec in enumerate(rows):
        if not isinstance(rec, Mapping):
            raise ResultsSchemaError(f"row {i} is not a mapping: {rec!r}")
        records.append(dict(rec))
    return records


def _key_params(table: str, values: Mapping[str, Any]) -> list[Any]:
    """Key values as the index stores them: a missing value is ``''``."""
    return ["" if values.get(c) is None else values[c] for c in NATURAL_KEYS[table]]


def _describe_key(table: str, key: Sequence[Any]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(NATURAL_KEYS[table], key, strict=True) if v != "")


class _Prepared(NamedTuple):
    """Rows converted for one table: insert tuples, their keys and contents, and in-batch repeats dropped."""

    values: list[tuple[Any, ...]]
    keys: list[tuple[Any, ...]]
    contents: list[tuple[Any, ...]]
    repeats: int


class ResultsStore:
    """SQLite-backed store of long-format metric rows and trial rows, with natural keys.

    Args:
        path: Database file; created (with parent folders) on the first writable open. Defaults to
            :func:`humanalign.paths.default_results_path` (``$HUMANALIGN_RESULTS`` or
            ``results/humanalign.sqlite``).
        timeout: Seconds a writer waits for another writer's lock before :class:`ResultsStoreError`.
        readonly: Open for reading only: the file must exist; nothing is created, migrated or locked.

    Raises:
        ResultsStoreError: the file is not an SQLite database, is locked by another writer for more than
            ``timeout`` seconds (creating or migrating it), or is missing on a read-only open.
        SchemaVersionError: an existing database has a schema version this code does not read.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 60.0, readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_results_path()
        self.timeout = float(timeout)
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise ResultsStoreError(f"{self.path}: no such results store (opened read-only, so not created)")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():
            raise ResultsStoreError(f"{self.path}: not a file (a results store is one SQLite file)")
        self._init_schema()

    # -- connection and schema -------------------------------------------------------------------
    def _error(self, err: sqlite3.Error) -> ResultsStoreError:
        """One-line error naming the file for an SQLite failure."""
        name = getattr(err, "sqlite_errorname", "")
        text = str(err)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
            return ResultsStoreError(f"{self.path}: locked by another writer for more than {self.timeout:g} s")
        if name == "SQLITE_NOTADB" or "not a database" in text:
            return ResultsStoreError(f"{self.path}: not an SQLite database")
        if name == "SQLITE_CORRUPT" or "malformed" in text:
            return ResultsStoreError(f"{self.path}: damaged SQLite database ({text})")
        if name == "SQLITE_READONLY" or "readonly" in text:
            return ResultsStoreError(f"{self.path}: cannot write ({text}); open it with readonly=True to read")
        return ResultsStoreError(f"{self.path}: {text}")

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (autocommit mode), closed on exit; SQLite errors become one line.

        A read-only store's connections are opened ``mode=ro``; ``write`` only sets ``synchronous``.
        """
        con: sqlite3.Connection | None = None
        try:
            target = f"{self.path.resolve().as_uri()}?mode=ro" if self.readonly else str(self.path)
            con = sqlite3.connect(target, timeout=self.timeout, isolation_level=None, uri=True)
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if write:
                con.execute("PRAGMA synchronous=NORMAL")
            yield con
        except sqlite3.Error as err:
            raise self._error(err) from err
        finally:
            if con is not None:
                con.close()

    @staticmethod
    @contextlib.contextmanager
    def _transaction(con: sqlite3.Connection) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the body raises."""
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                con.execute("ROLLBACK")
            raise

    @staticmethod
    def _read_version(con: sqlite3.Connection) -> int | None:
        """The stored schema version, or None for a database without one (new or not a results store)."""
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return None
            raise
        if row is None:
            return None
        try:
            return int(row[0])
        except (TypeError, ValueError):
            return -1

    def _check_version(self, found: int) -> None:
        if found not in (1, SCHEMA_VERSION):
            raise SchemaVersionError(
                f"{self.path}: results store has schema version {found}, this code reads version "
                f"{SCHEMA_VERSION}; export it with the matching humanalign version or start a new database"
            )

    def _init_schema(self) -> None:
        """Check the version; create or migrate (one transaction) only when needed and allowed."""
        if self.readonly:
            with self._connect() as con:
                found = self._read_version(con)
            if found is None:
                raise ResultsStoreError(f"{self.path}: not a results store (no schema version in it)")
            self._check_version(found)
            if found != SCHEMA_VERSION:
                logger.warning("%s: schema version %d, read as is; a writable open migrates it to %d",
                               self.path, found, SCHEMA_VERSION)
            return
        with self._connect(write=True) as con:
            found = self._read_version(con)
            if found == SCHEMA_VERSION:
                return  # up to date: no write, no lock
            if found is not None:
                self._check_version(found)
            mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    logger.warning("results store %s: WAL mode unavailable (journal_mode=%s)", self.path, mode)
            with self._transaction(con):
                found = self._read_version(con)  # another process may have won the race
                if found is not None:
                    self._check_version(found)
                if found == 1:
                    self._migrate_v1(con)
                elif found is None:
                    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                    for table in _SCHEMAS:
                        con.execute(_table_sql(table))
                        con.execute(_index_sql(table))
                    con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                                (str(SCHEMA_VERSION),))

    def _migrate_v1(self, con: sqlite3.Connection) -> None:
        """Version 1 -> 2 inside the caller's transaction: keep the last row of each natural key, then index."""
        for table in _SCHEMAS:
            con.execute(_table_sql(table))
            cur = con.execute(
                f"DELETE FROM {table} WHERE row_id NOT IN "
                f"(SELECT max(row_id) FROM {table} GROUP BY {', '.join(_key_exprs(table))})"
            )
            con.execute(_index_sql(table))
            if cur.rowcount:
                logger.warning("%s: migration to schema %d removed %d duplicate %s rows (kept the last of each)",
                               self.path, SCHEMA_VERSION, cur.rowcount, table)
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        logger.info("%s: migrated results store from schema 1 to %d", self.path, SCHEMA_VERSION)

    @property
    def schema_version(self) -> int:
        """Schema version stored in the database."""
        with self._connect() as con:
            return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------------
    def _prepare(self, table: str, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> _Prepared:
        """Validate and convert rows; drop exact in-batch repeats; refuse in-batch key clashes."""
        records = _records(rows)
        columns = _columns(table)
        content_names = _content_columns(table)
        provenance = {"git_revision": git_revision(), "package_version": package_version(), "time": utc_now()}
        prepared = _Prepared([], [], [], 0)
        seen: dict[tuple[Any, ...], tuple[int, int]] = {}  # key -> (position in prepared, row number)
        for i, rec in enumerate(records):
            for name in _REQUIRED[table]:
                if _is_missing(rec.get(name)) or (name in _IDENTITY and str(rec[name]).strip() == ""):
                    raise ResultsSchemaError(f"{table} row {i}: required column {name!r} is missing or empty")
            if table == "metrics" and needs_checkpoint_hash(rec["model"]) and (
                _is_missing(rec.get("checkpoint_hash")) or str(rec.get("checkpoint_hash")).strip() == ""
            ):
                raise ResultsSchemaError(
                    f"metrics row {i} (model {str(rec['model'])!r}, benchmark {rec.get('benchmark')!r}, metric "
                    f"{rec.get('metric')!r}): checkpoint_hash is required for a model's row; only reference rows "
                    f"(model 'reference:...', 'human...', 'subject-...', 'noise_ceiling', 'series:...') and "
                    f"pairwise rows ('a|b', 'a - b') may leave it empty"
                )
            for name, default in provenance.items():
                if _is_missing(rec.get(name)):
                    rec[name] = default
            cells = {c: _convert(rec.get(c), t, table, i, c) for c, t in columns.items()}
            extra = {k: v for k, v in rec.items() if k not in columns and not _is_missing(v)}
            try:
                blob = json.dumps(extra, default=_json_default, allow_nan=False, sort_keys=True) if extra else None
            except (TypeError, ValueError) as err:
                raise ResultsSchemaError(f"{table} row {i}: extra columns not JSON-serialisable ({err})") from None
            cells["extra"] = blob
            key = tuple(_key_params(table, cells))
            content = tuple(cells[c] for c in content_names)
            if key in seen:
                pos, j = seen[key]
                if prepared.contents[pos] != content:
                    raise ResultsSchemaError(
                        f"{table} rows {j} and {i} have the same natural key ({_describe_key(table, key)}) but "
                        f"different values; put what tells them apart into a key column "
                        f"({', '.join(NATURAL_KEYS[table])})"
                    )
                prepared = prepared._replace(repeats=prepared.repeats + 1)
                continue
            seen[key] = (len(prepared.values), i)
            prepared.values.append((*(cells[c] for c in columns), blob))
            prepared.keys.append(key)
            prepared.contents.append(content)
        return prepared

    def _insert(self, con: sqlite3.Connection, table: str, prepared: _Prepared) -> int:
        """INSERT OR IGNORE the prepared rows (inside the caller's transaction); return how many were new."""
        if not prepared.values:
            return 0
        columns = _columns(table)
        names = ", ".join(f'"{c}"' for c in columns) + ", extra"
        marks = ", ".join("?" * (len(columns) + 1))
        insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})"
        lookup = (f"SELECT {', '.join(_content_columns(table))} FROM {table} WHERE "
                  + " AND ".join(f"{e} = ?" for e in _key_exprs(table)))
        new = differing = 0
        example = ""
        for values, key, content in zip(prepared.values, prepared.keys, prepared.contents, strict=True):
            if con.execute(insert, values).rowcount:
                new += 1
                continue
            stored = con.execute(lookup, key).fetchone()
            if stored is not None and tuple(stored) != content:
                differing += 1
                example = example or _describe_key(table, key)
        old = len(prepared.values) + prepared.repeats - new
        if old:
            logger.info("%s: %d of %d %s rows were already stored (kept as they were)",
                        self.path, old, len(prepared.values) + prepared.repeats, table)
        if differing:
            logger.warning("%s: %d already-stored %s rows differ from the rewrite (kept the stored values), "
                           "e.g. %s", self.path, differing, table, example)
        return new

    def _writable(self) -> None:
        if self.readonly:
            raise ResultsStoreError(f"{self.path}: opened read-only; open it without readonly=True to write")

    def append(
        self,
        *,
        trials: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
        metrics: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    ) -> Appended:
        """Write a cell's trial rows and metric rows in one transaction (all or none).

        Args:
            trials: Trial rows, as for :meth:`append_trials`.
            metrics: Metric rows, as for :meth:`append_metrics`.

        Returns:
            How many trial and metric rows were new (rows whose natural key was stored are skipped).

        Raises:
            ResultsSchemaError: naming the first bad row; nothing is written.
            ResultsStoreError: the store is read-only, or locked by another writer for more than ``timeout`` s.
        """
        self._writable()
        batches = {name: self._prepare(name, rows) for name, rows in (("trials", trials), ("metrics", metrics))
                   if rows is not None}
        if not any(b.values for b in batches.values()):
            return Appended(0, 0)
        with self._connect(write=True) as con, self._transaction(con):
            counts = {name: self._insert(con, name, batch) for name, batch in batches.items()}
        logger.debug("appended %s new rows to %s", counts, self.path)
        return Appended(counts.get("trials", 0), counts.get("metrics", 0))

    def append_metrics(self, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> int:
        """Append metric rows atomically (all or none); rows whose natural key is stored are skipped.

        Args:
            rows: DataFrame or dicts with columns from :data:`METRIC_COLUMNS`; ``model``, ``benchmark``,
                ``metric`` and ``value`` are required, and ``checkpoint_hash`` unless
                :func:`needs_checkpoint_hash` says the row is not about one model's weights. Provenance
                columns left empty are filled in. Other columns are kept in ``extra``.

        Returns:
            Number of new rows written.

        Raises:
            ResultsSchemaError: naming the first bad row and column.
        """
        return self.append(metrics=rows).metrics

    def append_trials(self, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> int:
        """Append trial rows atomically (all or none); rows whose natural key is stored are skipped.

        Args:
            rows: DataFrame or dicts with columns from :data:`TRIAL_COLUMNS`; ``observer`` (a model name
                or a human subject id) and ``object_response`` are required.

        Returns:
            Number of new rows written.
        """
        return self.append(trials=rows).trials

    def merge_from(self, other: str | Path) -> int:
        """Union another store (a shard) into this one, in one transaction; stored natural keys are skipped.

        Merging the same shard twice adds nothing. The shard's rows keep their provenance.

        Args:
            other: Path of the shard's database (opened read-only).

        Returns:
            Number of new rows (trials and metrics together).

        Raises:
            ResultsStoreError: naming the shard when it is missing, not an SQLite database, not a results
                store, this very store, or holds model metric rows without a checkpoint hash.
        """
        self._writable()
        shard = ResultsStore(other, timeout=self.timeout, readonly=True)
        if shard.path.resolve() == self.path.resolve():
            raise ResultsStoreError(f"{shard.path}: is the output store itself; cannot merge a store into itself")
        nameless = shard.unidentified_models()
        if nameless:
            raise ResultsStoreError(f"{shard.path}: metric rows without a checkpoint_hash for model(s) "
                                    f"{', '.join(map(repr, sorted(nameless)[:5]))}; cannot identify them")
        new: dict[str, int] = {}
        with self._connect(write=True) as con:
            con.execute("ATTACH DATABASE ? AS shard", (f"{shard.path.resolve().as_uri()}?mode=ro",))
            try:
                with self._transaction(con):
                    for table in _SCHEMAS:
                        names = ", ".join(f'"{c}"' for c in _columns(table)) + ", extra"
                        same_key = " AND ".join(
                            f"{m} = {s}" for m, s in zip(_key_exprs(table, "m"), _key_exprs(table, "s"), strict=True))
                        same_content = " AND ".join(f'm."{c}" IS s."{c}"' for c in _content_columns(table))
                        differing = con.execute(
                            f"SELECT count(*) FROM shard.{table} AS s WHERE EXISTS (SELECT 1 FROM main.{table} AS m "
                            f"WHERE {same_key} AND NOT ({same_content}))").fetchone()[0]
                        total = con.execute(f"SELECT count(*) FROM shard.{table}").fetchone()[0]
                        before = con.total_changes
                        con.execute(f"INSERT OR IGNORE INTO main.{table} ({names}) "
                                    f"SELECT {names} FROM shard.{table} ORDER BY row_id")
                        new[table] = con.total_changes - before
                        if differing:
                            logger.warning("%s: %d %s rows of shard %s differ from the stored rows of the same key "
                                           "(kept the stored values)", self.path, differing, table, shard.path)
                        logger.info("%s: merged %s: %d new %s rows, %d already stored",
                                    self.path, shard.path, new[table], table, total - new[table])
            finally:
                con.execute("DETACH DATABASE shard")
        return sum(new.values())

    # -- reading ---------------------------------------------------------------------------------
    def unidentified_models(self) -> list[str]:
        """Models of metric rows that need a checkpoint hash (:func:`needs_checkpoint_hash`) and lack one.

        Always empty for rows written by this version; a migrated version-1 store may have some.
        """
        with self._connect() as con:
            cur = con.execute("SELECT DISTINCT model FROM metrics WHERE ifnull(checkpoint_hash, '') = ''")
            return sorted(str(m) for (m,) in cur if m is not None and needs_checkpoint_hash(m))

    def _select(self, table: str, filters: Mapping[str, Any], count_only: bool = False) -> Any:
        columns = _columns(table)
        where: list[str] = []
        params: list[Any] = []
        for key, wanted in filters.items():
            if key not in columns:
                raise KeyError(f"unknown {table} column {key!r}; known: {', '.join(columns)}")
            if isinstance(wanted, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
                options = [_convert(v, columns[key], table, -1, key) for v in wanted]
                if not options:
                    where.append("0")
                    continue
                where.append(f'"{key}" IN ({", ".join("?" * len(options))})')
                params.extend(options)
            elif _is_missing(wanted):
                where.append(f'"{key}" IS NULL')
            else:
                where.append(f'"{key}" = ?')
                params.append(_convert(wanted, columns[key], table, -1, key))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as con:
            if count_only:
                return con.execute(f"SELECT EXISTS(SELECT 1 FROM {table}{clause})", params).fetchone()[0]
            names = ", ".join(f'"{c}"' for c in columns)
            cur = con.execute(f"SELECT {names}, extra FROM {table}{clause} ORDER BY row_id", params)
            frame = pd.DataFrame(cur.fetchall(), columns=[*columns, "extra"])
        return _expand_extra(frame, columns)

    def metrics(self, **column_equals: Any) -> pd.DataFrame:
        """Metric rows whose columns equal the given values (a list/tuple value means "any of").

        Example:
            >>> store.metrics(benchmark="robustness", model=["a", "b"], seed=None)  # seed IS NULL
        """
        return self._select("metrics", column_equals)

    def trials(self, **filters: Any) -> pd.DataFrame:
        """Trial rows matching the filters (same rules as :meth:`metrics`)."""
        return self._select("trials", filters)

    def has_metrics(self, **column_equals: Any) -> bool:
        """Whether any metric row matches (filters as in :meth:`metrics`)."""
        return bool(self._select("metrics", column_equals, count_only=True))

    def contains(self, table: str, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[bool]:
        """For each row, whether a row with its natural key is stored (missing key columns count as empty).

        Args:
            table: ``"metrics"`` or ``"trials"``.
            rows: Mappings (or a DataFrame) with the key columns of :data:`NATURAL_KEYS` ``[table]``.

        Returns:
            One bool per row, in order.
        """
        if table not in _SCHEMAS:
            raise KeyError(f"unknown results table {table!r}; known: {', '.join(_SCHEMAS)}")
        columns = _columns(table)
        records = _records(rows)
        sql = f"SELECT EXISTS(SELECT 1 FROM {table} WHERE " + " AND ".join(f"{e} = ?" for e in _key_exprs(table)) + ")"
        out = []
        with self._connect() as con:
            for i, rec in enumerate(records):
                cells = {c: _convert(rec.get(c), columns[c], table, i, c) for c in NATURAL_KEYS[table]}
                out.append(bool(con.execute(sql, _key_params(table, cells)).fetchone()[0]))
        return out

    def done_conditions(
        self,
        model: str,
        checkpoint_hash: str | None,
        benchmark: str,
        dataset: str | None,
        config_hash: str | None,
        metric: str,
        **key_columns: Any,
    ) -> set[str]:
        """Conditions of the cells already stored for one observer, weights and protocol (one query).

        A resumable grid asks once and runs only the conditions not in the answer. Matching follows the
        natural key: a missing value (None) equals an empty one.

        Args:
            model: Observer id (the ``model`` column).
            checkpoint_hash: Weights content hash; a retrained model has another and is re-scored.
            benchmark: Benchmark name.
            dataset: Data set name.
            config_hash: Protocol/config hash.
            metric: The metric row a finished cell writes (e.g. ``"accuracy"``).
            **key_columns: Other metric key columns to match (``layer``, ``seed``; None matches a row
                without one); key columns not given match any value.

        Returns:
            The stored ``condition`` values (``""`` for a row without one).
        """
        wanted = {"model": model, "checkpoint_hash": checkpoint_hash, "benchmark": benchmark, "dataset": dataset,
                  "config_hash": config_hash, "metric": metric, **key_columns}
        unknown = [c for c in wanted if c not in METRIC_KEY or c == "condition"]
        if unknown:
            raise KeyError(f"done_conditions: {unknown} are not metric key columns other than 'condition'; "
                           f"known: {', '.join(c for c in METRIC_KEY if c != 'condition')}")
        where, params = [], []
        for c, v in wanted.items():
            where.append(f"ifnull(\"{c}\", '') = ?")
            value = _convert(v, METRIC_COLUMNS[c], "metrics", -1, c)
            params.append("" if value is None else value)
        with self._connect() as con:
            cur = con.execute(f"SELECT DISTINCT ifnull(condition, '') FROM metrics WHERE {' AND '.join(where)}",
                              params)
            return {str(c) for (c,) in cur}

    def export(self, path: str | Path, table: str = "metrics", **filters: Any) -> Path:
        """Write a table (optionally filtered) to CSV or Parquet, chosen by the file suffix.

        Args:
            path: Output ``.csv`` or ``.parquet`` file.
            table: ``"metrics"`` or ``"trials"``.
            **filters: Column filters as in :meth:`metrics`.

        Returns:
            The written path.
        """
        if table not in _SCHEMAS:
            raise KeyError(f"unknown results table {table!r}; known: {', '.join(_SCHEMAS)}")
        path = Path(path)
        frame = self._select(table, filters)
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(path, index=False)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(path, index=False)
        else:
            raise ValueError(f"cannot export to {path}: use a .csv or .parquet suffix")
        logger.info("exported %d %s rows to %s", len(frame), table, path)
        return path

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, Sequence)) and not isinstance(value, str):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _expand_extra(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """Turn the JSON ``extra`` column back into ordinary columns; cast numeric columns."""
    extras = frame.pop("extra")
    for name, sql_type in columns.items():
        if sql_type == "REAL":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        elif sql_type == "INTEGER":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
    parsed = [json.loads(x) if isinstance(x, str) and x else {} for x in extras]
    keys = sorted({k for d in parsed for k in d})
    for key in keys:
        frame[key] = [d.get(key) for d in parsed]
    return frame
