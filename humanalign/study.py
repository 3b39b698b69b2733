"""A whole study as one config: make or point at data, pretrain a matched set, compare, report.

``experiments/demo.py --config experiments/configs/demo.yaml`` runs the embedded CPU default;
``experiments/configs/hvm1-study.yaml`` describes the same study at paper scale (GPUs, torchrun,
released checkpoints). :func:`validate_study` checks that every method, preset, model, stimulus set
and corruption a study names exists in the registries, so a typo fails before hours of compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from humanalign.config import ConfigError, from_dict, load_yaml
from humanalign.models.observers.spec import SpecError, parse_spec

__all__ = ["PretrainStep", "DataPlan", "ComparePlan", "StudyConfig", "load_study", "validate_study", "model_specs"]


def model_specs(study: StudyConfig) -> list[str]:
    """The study's extra models as ``--models`` items: ``name=spec`` for named ones, else the spec."""
    models = study.compare.models
    if isinstance(models, dict):
        return [f"{name}={spec}" for name, spec in models.items()]
    return [str(m) for m in models]


def _parses(text: str) -> bool:
    try:
        parse_spec(text)
    except SpecError:
        return False
    return True


@dataclass
class PretrainStep:
    """One pretraining run of the study (``python -m humanalign.pretrain METHOD ...``)."""

    name: str = ""
    method: str = ""
    preset: str = ""
    steps: int = 0
    stage: int = 0
    overrides: list[str] = field(default_factory=list)
    launcher: str = ""


@dataclass
class DataPlan:
    """Where the study's data comes from; empty paths mean "generate the demo data"."""

    egocentric: str = ""
    demo_videos: int = 200
    demo_seconds: float = 4.0
    demo_size: int = 128
    motion: str = ""
    motion_train_per_class: int = 24
    motion_val_per_class: int = 12
    motion_frames: int = 8
    motion_size: int = 64
    synthetic_sample_stages: list[int] = field(default_factory=lambda: [1, 2, 5])
    synthetic_sample_count: int = 4
    stimuli_root: str = ""


@dataclass
class ComparePlan:
    """Which comparisons to run and at what size."""

    models: dict[str, str] | list[str] = field(default_factory=list)  # {user name: spec} or specs
    robustness_corruptions: list[str] = field(default_factory=lambda: ["gaussian_noise", "fog"])
    robustness_severities: list[int] = field(default_factory=lambda: [1, 3, 5])
    robustness_sets: list[str] = field(default_factory=lambda: ["motion", "edge"])
    rsa_set: str = "rsa92"
    rsa_layers: str = "all"
    rsa_bootstrap: int = 200
    alignment_sets: list[str] = field(default_factory=lambda: ["cue-conflict", "edge", "silhouette"])
    alignment_max_stimuli: int = 0
    alignment_bootstrap: int = 200
    probe: str = "linear"
    contrasts: list[list[str]] = field(default_factory=list)
    scaling: bool = True


@dataclass
class StudyConfig:
    """A study: data, pretraining runs, comparisons and the report."""

    name: str = "study"
    device: str = "cpu"
    data: DataPlan = field(default_factory=DataPlan)
    pretrain: list[PretrainStep] = field(default_factory=list)
    compare: ComparePlan = field(default_factory=ComparePlan)
    report_title: str = "humanalign study"
    report_intro: str = ""


def load_study(path: str | Path) -> StudyConfig:
    """Read a study YAML strictly (unknown keys raise, naming the file)."""
    try:
        return from_dict(StudyConfig, load_yaml(path))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def validate_study(study: StudyConfig) -> list[str]:
    """Problems with a study's names (empty list = every name resolves)."""
    from humanalign.pretrain.cli import preset_names
    from humanalign.registry import CORRUPTIONS, MODELS, PRETRAIN_METHODS, STIMULUS_SETS

    problems: list[str] = []
    names = []
    for step in study.pretrain:
        names.append(step.name)
        if not step.name:
            problems.append(f"pretrain step of method {step.method!r} has no name")
        if step.method not in PRETRAIN_METHODS:
            problems.append(f"pretrain {step.name}: unknown method {step.method!r}")
        elif step.preset and step.preset not in preset_names(step.method):
            problems.append(f"pretrain {step.name}: unknown preset {step.preset!r} for {step.method}")
        if step.method == "synthetic" and not 1 <= step.stage <= 8:
            problems.append(f"pretrain {step.name}: synthetic needs stage 1..8, got {step.stage}")
        if step.steps < 0:
            problems.append(f"pretrain {step.name}: steps must be >= 0 (0: the preset's), got {step.steps}")
        elif step.method in PRETRAIN_METHODS and not any(p.startswith(f"pretrain {step.name}:") for p in problems):
            problems += _pretrain_config_problems(step)
    if len(set(names)) != len(names):
        problems.append(f"pretrain names repeat: {names}")
    for model in model_specs(study):
        try:
            spec = parse_spec(model)
        except SpecError as err:
            problems.append(f"compare.models: {err}")
            continue
        if spec.source == "suite" and spec.target not in MODELS and not Path(spec.target).exists():
            problems.append(f"compare.models: unknown model {spec.target!r}")
    for corruption in study.compare.robustness_corruptions:
        if corruption not in CORRUPTIONS:
            problems.append(f"compare.robustness_corruptions: unknown corruption {corruption!r}")
    for name in study.compare.robustness_sets:
        if name != "motion" and name not in STIMULUS_SETS:
            problems.append(f"compare.robustness_sets: unknown stimulus set {name!r}")
    for name in [study.compare.rsa_set, *study.compare.alignment_sets]:
        if name and name not in STIMULUS_SETS:
            problems.append(f"unknown stimulus set {name!r}")
    known = set(names) | {parse_spec(m).default_name for m in model_specs(study) if _parses(m)}
    for pair in study.compare.contrasts:
        if len(pair) != 2 or not set(pair) <= known:
            problems.append(f"compare.contrasts: {pair} must name two of {sorted(known)}")
    if study.compare.probe not in ("linear", "attentive", "fewshot"):
        problems.append(f"compare.probe must be linear, attentive or fewshot, got {study.compare.probe!r}")
    problems += _count_problems(study)
    return problems


def _pretrain_config_problems(step: PretrainStep) -> list[str]:
    """Resolve a pretrain step's config as the pretrain command will, so override typos fail now."""
    from humanalign.pretrain.cli import resolve_config

    overrides = list(step.overrides)
    if step.stage:
        overrides.append(f"data.synthetic_stage={step.stage}")
    if step.steps:
        overrides.append(f"steps={step.steps}")
    try:
        resolve_config(step.method, step.preset or None, overrides)
    except ConfigError as err:
        return [f"pretrain {step.name}: {err}"]
    return []


#: Study sizes that must be at least 0 or at least 1 (a negative count would start the wrong work).
_AT_LEAST = {
    "data.demo_videos": 0, "data.demo_size": 1, "data.motion_train_per_class": 1, "data.motion_val_per_class": 1,
    "data.motion_frames": 1, "data.motion_size": 1, "data.synthetic_sample_count": 0,
    "compare.rsa_bootstrap": 0, "compare.alignment_max_stimuli": 0, "compare.alignment_bootstrap": 0,
}


def _count_problems(study: StudyConfig) -> list[str]:
    problems = []
    for key, low in _AT_LEAST.items():
        section, name = key.split(".")
        value = getattr(getattr(study, section), name)
        if value < low:
            problems.append(f"{key} must be >= {low}, got {value}")
    if study.data.demo_seconds <= 0:
        problems.append(f"data.demo_seconds must be > 0, got {study.data.demo_seconds}")
    bad = [s for s in study.compare.robustness_severities if not 1 <= s <= 5]
    if bad:
        problems.append(f"compare.robustness_severities must be 1..5, got {bad}")
    bad = [s for s in study.data.synthetic_sample_stages if not 1 <= s <= 8]
    if bad:
        problems.append(f"data.synthetic_sample_stages must be 1..8, got {bad}")
    return problems
