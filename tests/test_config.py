"""Config resolution: strict keys, type coercion, YAML errors naming the file, stable hashes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from humanalign.config import ConfigError, apply_overrides, config_hash, from_dict, load_yaml, save_yaml


@dataclass
class Inner:
    rate: float = 0.1
    name: str | None = None


@dataclass
class Outer:
    steps: int = 10
    sizes: tuple[int, int] = (1, 2)
    inner: Inner = field(default_factory=Inner)


def test_overrides_coerce_and_nest() -> None:
    cfg = apply_overrides(Outer(), ["steps=20", "inner.rate=2e-3", "sizes=[3, 4]", "inner.name=null"])
    assert cfg == Outer(steps=20, sizes=(3, 4), inner=Inner(rate=0.002, name=None))
    assert Outer().inner.rate == 0.1  # defaults are never mutated


def test_wrong_types_and_unknown_keys_are_named() -> None:
    with pytest.raises(ConfigError, match="'steps'.*int"):
        apply_overrides(Outer(), ["steps=many"])
    with pytest.raises(ConfigError, match="'inner.rate'.*number"):
        apply_overrides(Outer(), ["inner.rate=fast"])
    with pytest.raises(ConfigError, match="'inner.name'.*matches none"):
        apply_overrides(Outer(), ["inner.name=[1, 2]"])
    with pytest.raises(ConfigError, match="inner.rat.*did you mean inner.rate"):
        from_dict(Outer, {"inner": {"rat": 1}})
    with pytest.raises(ConfigError, match="not of the form"):
        apply_overrides(Outer(), ["steps"])


def test_yaml_round_trip_and_errors_name_the_file(tmp_path: Path) -> None:
    cfg = apply_overrides(Outer(), ["inner.name=run"])
    path = save_yaml(cfg, tmp_path / "c.yaml")
    assert from_dict(Outer, load_yaml(path)) == cfg
    assert config_hash(cfg) == config_hash(from_dict(Outer, load_yaml(path))) != config_hash(Outer())
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_yaml(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="list.yaml.*mapping"):
        load_yaml(tmp_path / "list.yaml")
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        load_yaml(tmp_path / "absent.yaml")


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ConfigError, match="'steps'.*expected int.*True"):
        apply_overrides(Outer(), ["steps=true"])
    with pytest.raises(ConfigError, match="'inner.rate'.*expected float.*False"):
        apply_overrides(Outer(), ["inner.rate=false"])
    with pytest.raises(ConfigError, match="'sizes'"):
        apply_overrides(Outer(), ["sizes=[true, 2]"])
    assert apply_overrides(Outer(), ["steps=3.0"]).steps == 3
