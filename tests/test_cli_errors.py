"""One error rule for every command: bad input gives exit code 2 and one ``error:`` line naming it; -v a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MISSING = "/nonexistent/humanalign-test-input"

#: (command id, argv before the verbose flag's place, argv after it, what the error line must name).
CASES = [
    ("humanalign", ["-m", "humanalign"], ["list", "models", "--family", "nope"], "'nope'"),
    ("pretrain", ["-m", "humanalign.pretrain", "egocentric", "--data", MISSING, "--out", f"{MISSING}/run"], [],
     MISSING),
    ("data", ["-m", "humanalign.data", "scan", f"{MISSING}.csv"], [], f"{MISSING}.csv"),
    ("synthetic", ["-m", "humanalign.synthetic", "stats", "--stage", "1", "--count", "1", "--frames", "2",
                   "--size", "16", "--encoder", "none", "--store", "none", "--reference", MISSING], [], MISSING),
    ("compare", ["-m", "humanalign.compare"], ["behaviour", "--raw-data", MISSING], MISSING),
    ("report", ["-m", "humanalign.report", "--results", f"{MISSING}.sqlite", "--out", f"{MISSING}/report"], [],
     f"{MISSING}.sqlite"),
    ("eval", ["-m", "humanalign.eval", "linear", "--model", MISSING, "--train", MISSING, "--val", MISSING], [],
     MISSING),
    ("demo", ["experiments/demo.py", "--config", f"{MISSING}.yaml", "--out", f"{MISSING}/demo"], [],
     f"{MISSING}.yaml"),
    ("scaling", ["experiments/scaling.py", "--out", f"{MISSING}/scaling", "--table", f"{MISSING}.csv"], [],
     f"{MISSING}.csv"),
]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("before", "after", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_error_line_and_exit_2(before: list[str], after: list[str], needle: str) -> None:
    plain = _run(before + after)
    errors = [line for line in plain.stderr.splitlines() if line.startswith("error:")]
    assert plain.returncode == 2, plain.stderr[-2000:]
    assert len(errors) == 1 and needle in errors[0], plain.stderr[-2000:]
    assert "Traceback" not in plain.stderr
    verbose = _run(before + ["-v"] + after)
    assert verbose.returncode != 0 and "Traceback (most recent call last)" in verbose.stderr, verbose.stderr[-2000:]
    assert needle in verbose.stderr
