"""Plot style: stable model colours, humans black, PDF+PNG output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from humanalign.report.style import (
    HUMAN_COLOR,
    PALETTE,
    apply_style,
    model_color,
    model_marker,
    reserved_colors,
    save_figure,
)


def test_model_colors_are_stable_across_processes_and_orders() -> None:
    names = ["vit_b16_video", "vit_b16_image", "hvm1", "resnet50"]
    with reserved_colors([]):  # a clean assignment, as in a fresh process (other tests in this worker drew colours)
        here = [model_color(n) for n in names]
        assert [model_color(n) for n in reversed(names)] == here[::-1]
    code = "from humanalign.report.style import model_color; print(model_color('vit_b16_video'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == here[0]  # not dependent on PYTHONHASHSEED or plotting order
    assert set(here) <= set(PALETTE)
    assert model_color("human") == model_color("subject-07") == HUMAN_COLOR
    assert model_marker("vit_s16_video") != model_marker("vit_s16_image")
    assert len(set(PALETTE)) == len(PALETTE)


def test_save_figure_writes_pdf_and_png(tmp_path: Path) -> None:
    apply_style()
    assert plt.rcParams["pdf.fonttype"] == 42
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color=model_color("x"))
    paths = save_figure(fig, tmp_path / "sub" / "fig.png")
    plt.close(fig)
    assert [p.name for p in paths] == ["fig.pdf", "fig.png"]
    assert paths[0].read_bytes()[:4] == b"%PDF"
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
