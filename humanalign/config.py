"""Dataclass configs: the single source of defaults, YAML presets as diffs, ``key.sub=value`` overrides.

A config is a (possibly nested) dataclass. Presets are YAML files holding only the keys that differ
from the defaults; command-line overrides are ``key.sub=value`` strings whose values are parsed as
YAML scalars. Unknown keys always raise :class:`ConfigError` naming the key and the close matches.

Example:
    >>> cfg = apply_overrides(TrainConfig(), ["optim.lr=3e-4", "steps=100"])
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = [
    "ConfigError",
    "from_dict",
    "to_dict",
    "merge",
    "apply_overrides",
    "parse_overrides",
    "load_yaml",
    "save_yaml",
    "config_hash",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A config key is unknown, or a value has the wrong type."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a dataclass config (tuples become lists, for YAML/JSON)."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(cfg)


def _unknown_key(key: str, known: typing.Iterable[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(where + c for c in close)}?" if close else ""
    return ConfigError(f"unknown config key {where + key!r}{hint} (known: {', '.join(sorted(known))})")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Coerce a YAML value to the annotated field type, raising ConfigError when impossible."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key {key!r}: value {value!r} matches none of {hint}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"config key {key!r}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            value = [value]
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r}: expected a mapping, got {value!r}")
        return from_dict(hint, value, prefix=key + ".")
    if hint is float and isinstance(value, str):  # YAML 1.1 reads "2e-3" as a string
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"config key {key!r}: expected a number, got {value!r}") from None
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):  # bool is an int subclass: steps=true is not 1
        raise ConfigError(f"config key {key!r}: expected {hint.__name__}, got {value!r}")
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"config key {key!r}: expected {hint.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a nested dict, strictly (unknown keys raise)."""
    return merge(cls(), data, prefix=prefix)


def merge(cfg: T, diff: dict[str, Any] | None, prefix: str = "") -> T:
    """Return a copy of ``cfg`` with the nested ``diff`` applied (a YAML preset is such a diff).

    Raises:
        ConfigError: on an unknown key or a value of the wrong type.
    """
    if not diff:
        return cfg
    if not isinstance(diff, dict):
        raise ConfigError(f"config section {prefix or '<root>'!r} must be a mapping, got {diff!r}")
    hints = typing.get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    for key, value in diff.items():
        if key not in fields:
            raise _unknown_key(key, fields, prefix)
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            changes[key] = merge(current, value, prefix=f"{prefix}{key}.")
        else:
            changes[key] = _coerce(value, hints[key], prefix + key)
    return dataclasses.replace(cfg, **changes)


def parse_overrides(overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Turn ``["a.b=1", "c=x"]`` into the nested dict ``{"a": {"b": 1}, "c": "x"}``."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key.sub=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier override of {part!r}")
        node[parts[-1]] = value
    return nested


def apply_overrides(cfg: T, overrides: typing.Iterable[str]) -> T:
    """Apply ``key.sub=value`` strings to ``cfg`` (strict)."""
    return merge(cfg, parse_overrides(overrides))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def save_yaml(cfg: Any, path: str | Path) -> Path:
    """Write the fully resolved config as YAML (atomically) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    tmp.replace(path)
    return path


def config_hash(cfg: Any) -> str:
    """Short stable hash of a config's resolved values (12 hex digits)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
