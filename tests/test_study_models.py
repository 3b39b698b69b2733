"""User names for models: ``name=spec`` on a command line and ``{name: spec}`` in a study YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from humanalign.models.observers.spec import SpecError, parse_spec, parse_specs
from humanalign.study import load_study, model_specs, validate_study

REPO = Path(__file__).resolve().parents[1]


def test_named_spec_keeps_the_users_name_and_the_spec() -> None:
    spec = parse_spec("mynet=timm:resnet50@/w/r50.pth")
    assert (spec.name, spec.source, spec.target, spec.weights) == ("mynet", "timm", "resnet50", "/w/r50.pth")
    assert spec.default_name == "mynet"
    assert parse_spec("timm:resnet50|size=64").name is None  # an override's '=' is not a name
    names = [s.default_name for s in parse_specs("a=vit_test_image, b=vit_test_image")]
    assert names == ["a", "b"]  # the same model twice under two names is two observers
    with pytest.raises(SpecError, match="both named 'a'"):
        parse_specs(["a=vit_test_image", "a=vit_test_video"])


def test_study_yaml_takes_a_name_to_spec_mapping(tmp_path: Path) -> None:
    text = (REPO / "experiments" / "configs" / "demo.yaml").read_text()
    text = text.replace("compare:\n", 'compare:\n  models: {mynet: "timm:resnet10t", tiny: vit_test_image}\n', 1)
    (tmp_path / "s.yaml").write_text(text)
    study = load_study(tmp_path / "s.yaml")
    assert model_specs(study) == ["mynet=timm:resnet10t", "tiny=vit_test_image"]
    assert not validate_study(study)
    bad = text.replace('tiny: vit_test_image', 'tiny: vit_tset_image')
    (tmp_path / "bad.yaml").write_text(bad)
    problems = validate_study(load_study(tmp_path / "bad.yaml"))
    assert any("unknown model 'vit_tset_image'" in p for p in problems)
