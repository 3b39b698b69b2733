"""The study configs (demo and paper-scale) resolve, and the demo runs end to end at its smallest size."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from humanalign.config import ConfigError, apply_overrides
from humanalign.study import load_study, validate_study

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "experiments" / "configs"


@pytest.mark.parametrize("name", ["demo.yaml", "hvm1-study.yaml"])
def test_study_configs_name_only_things_that_exist(name: str) -> None:
    study = load_study(CONFIGS / name)
    assert validate_study(study) == []
    assert study.pretrain and study.compare.contrasts


def test_hvm1_study_is_paper_scale() -> None:
    study = load_study(CONFIGS / "hvm1-study.yaml")
    presets = {s.name: s.preset for s in study.pretrain}
    assert presets["stmae-h14-224"] == "hvm1-224" and "torchrun" in study.pretrain[0].launcher
    assert {"hvm1", "kinetics"} <= set(study.compare.models)
    assert len(study.compare.robustness_corruptions) == 19


def test_validation_catches_typos() -> None:
    study = apply_overrides(load_study(CONFIGS / "demo.yaml"),
                            ["compare.models=[hvm2]", "compare.robustness_corruptions=[fogg]",
                             "compare.alignment_sets=[edges]", "compare.contrasts=[[stmae, nobody]]"])
    problems = "\n".join(validate_study(study))
    for needle in ("hvm2", "fogg", "edges", "nobody"):
        assert needle in problems
    with pytest.raises(ConfigError, match="pretrian"):
        apply_overrides(study, ["pretrian=[]"])


def _study_file(tmp_path: Path, old: str, new: str) -> Path:
    text = (CONFIGS / "demo.yaml").read_text()
    assert old in text
    path = tmp_path / "study.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_validation_checks_steps_sizes_and_pretrain_overrides(tmp_path: Path) -> None:
    study = load_study(_study_file(tmp_path, "preset: tiny, steps: 300}", "preset: tiny, steps: -300}"))
    assert any("stmae: steps must be >= 0" in p and "-300" in p for p in validate_study(study))
    study = load_study(_study_file(tmp_path, "steps: 300}", "steps: 300, overrides: [mae.mask_ration=0.5]}"))
    assert any("stmae" in p and "mask_ration" in p for p in validate_study(study))
    bad = apply_overrides(load_study(CONFIGS / "demo.yaml"), ["data.demo_videos=-5",
                                                              "compare.robustness_severities=[0, 3]"])
    problems = "\n".join(validate_study(bad))
    assert "data.demo_videos must be >= 0, got -5" in problems and "severities must be 1..5, got [0]" in problems


def _demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "experiments/demo.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("  demo_seconds: 4", "  demo_secnds: 4", "demo_secnds"),                    # a typo
    ("  demo_size: 128", "  demo_size: large", "demo_size"),                     # a wrong type
    ("preset: tiny, steps: 300}", "preset: tiny, steps: -300}", "steps must be >= 0"),  # a negative count
])
def test_bad_study_file_fails_in_one_line_before_any_work(tmp_path: Path, old: str, new: str, needle: str) -> None:
    config = _study_file(tmp_path, old, new)
    out = tmp_path / "out"
    proc = _demo("--config", str(config), "--out", str(out))
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert str(config) in errors[0] and needle in errors[0]
    assert not out.exists() and proc.stdout == ""  # no step started
    if needle == "demo_secnds":
        verbose = _demo("--config", str(config), "--out", str(out), "-v")
        assert verbose.returncode != 0 and "Traceback" in verbose.stderr


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    assert match, f"report has no section {title!r}"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(900)  # many subprocesses; generous for a loaded 2-core machine
def test_demo_smoke_end_to_end(tmp_path: Path) -> None:
    """The demo at its smallest size; with ../shared/data every section has finite numbers, without it
    the human-data steps say they are skipped and the rest still runs."""
    from tests.conftest import _shared_data_root

    root = _shared_data_root()
    have_shared = root.is_dir()
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "experiments/demo.py", "--smoke", "--out", str(tmp_path / "demo"),
                           "--stimuli-root", str(root if have_shared else tmp_path / "absent")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = tmp_path / "demo" / "report" / "index.html"
    assert proc.stdout.strip().splitlines()[-1] == f"report: {index}"
    markdown = (tmp_path / "demo" / "report" / "report.md").read_text()
    titles = ["Robustness to corruptions and distribution shift", "Controlled image-vs-video contrasts",
              "Downstream probes on frozen features", "Data-scaling trends"]
    human = ["Representational similarity", "Trial-by-trial agreement with humans"]
    if have_shared:
        titles += human
    else:
        assert proc.stdout.count("--- skipped: shared data not found") == 2
        for title in human:
            assert "No rows for this section" in _section(markdown, title)
    for title in titles:
        body = _section(markdown, title)
        assert "No rows for this section" not in body, title
        numbers = [float(x) for x in re.findall(r"(?<![\w.])-?\d+\.\d+(?![\w.])", body)]
        assert numbers and all(math.isfinite(x) for x in numbers), title
        assert not re.search(r"\|\s*(nan|inf)\s*\|", body, flags=re.I), title
    assert "tiny models" in markdown
