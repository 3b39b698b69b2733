"""The report in a real browser (headless Chromium): no broken image, console error, content wider than
the page or overlapping text in a figure; a screenshot is saved in the report folder.

Chromium is the Debian package (``make test`` installs it when missing); without it these tests skip
and say why.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from humanalign.report.browser import check_report, find_chromium
from humanalign.report.builder import build_report
from humanalign.report.figcheck import text_overlaps
from tests.report_store_helper import report_store

needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="chromium not installed (make test installs it: apt-get install -y chromium)")


def test_overlap_check_sees_overprinted_labels() -> None:
    fig, ax = plt.subplots(figsize=(3, 3.5))
    ax.set_xticks(range(6), [f"a long model name {k}" for k in range(6)])
    assert text_overlaps(fig)  # horizontal long labels overprint
    ax.set_xticks(range(6), [f"a long model name {k}" for k in range(6)], rotation=90)
    ax.set_xlabel("x")
    fig.tight_layout()
    assert text_overlaps(fig) == []  # rotated labels are checked as rotated boxes, not their hulls
    plt.close(fig)


@needs_chromium
def test_report_renders_cleanly_in_chromium(tmp_path: Path) -> None:
    store = report_store(tmp_path / "r.sqlite")
    out = tmp_path / "report"
    build_report(store, out, title="browser test", intro="A tiny synthetic store.")
    result = check_report(out)
    assert result.problems == []
    assert result.screenshot == out / "screenshot.png" and result.screenshot.stat().st_size > 10_000


@needs_chromium
def test_browser_check_fails_on_broken_pages(tmp_path: Path) -> None:
    out = tmp_path / "bad"
    out.mkdir()
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><body><p>x</p><img alt='missing' src='figures/none.png'>"
        "<div style='width:3000px'>wide</div><table style='table-layout:fixed;width:80px'><tr>"
        "<td style='white-space:nowrap;width:80px'>text running into the next column</td><td>x</td></tr></table>"
        "<script>undefinedFunction();</script></body></html>")
    (out / "figure_checks.json").write_text('{"f.png": ["axes 0 tick \'a\' overlaps axes 0 tick \'b\'"]}')
    problems = "\n".join(check_report(out, width=800, height=600).problems)
    assert "broken image" in problems and "scrolls sideways" in problems
    assert "console error" in problems and "undefinedFunction" in problems
    assert "figure f.png: axes 0 tick 'a' overlaps" in problems and "overflows its cell" in problems
    assert (out / "screenshot.png").is_file()
