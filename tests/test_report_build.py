"""Report builder: HTML/Markdown from a tiny store, every referenced file exists, empty sections say so."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from humanalign.io.results import ResultsStore
from humanalign.report.__main__ import main
from humanalign.report.builder import SECTIONS, Section, build_report, register_section
from humanalign.report.glossary import condition_label
from humanalign.report.tables import format_ci, format_p, format_value, metric_table, to_latex, to_markdown


def _tiny_store(path: Path) -> ResultsStore:
    store = ResultsStore(path)
    rows = []
    for model, base in (("vit_s16_video", 0.7), ("vit_s16_image", 0.6)):
        for k, cond in enumerate(["0", "1", "2"]):
            v = base - 0.1 * k
            rows.append({"model": model, "checkpoint_hash": model[-5:], "benchmark": "robustness", "dataset": "noise",
                         "condition": cond, "metric": "accuracy", "value": v, "ci_low": v - 0.03, "ci_high": v + 0.03,
                         "n": 160})
    rows += [
        {"model": "vit_s16_video - vit_s16_image", "benchmark": "contrasts", "dataset": "noise", "condition": "1",
         "metric": "difference", "value": 0.1, "ci_low": 0.02, "ci_high": 0.18, "n": 160,
         "test": "mcnemar_exact", "level": "items"},
        {"model": "vit_s16_video - vit_s16_image", "benchmark": "contrasts", "dataset": "noise", "condition": "1",
         "metric": "p_adjusted", "value": 0.012, "test": "mcnemar_exact", "level": "items"},
    ]
    for h in (1.0, 10.0, 100.0):
        rows.append({"model": f"series:m{h}", "benchmark": "scaling", "dataset": "ssv2", "condition": "10-shot",
                     "metric": "top1_acc", "value": 2 + 3 * np.log10(h), "hours": h, "role": "fit"})
    for h in np.geomspace(1, 1000, 5):
        m = 2 + 3 * np.log10(h)
        rows.append({"model": "series:m", "benchmark": "scaling", "dataset": "ssv2", "condition": "10-shot",
                     "metric": f"fit_mean@{h:.4g}h", "value": m, "ci_low": m - 1, "ci_high": m + 1, "pi_low": m - 2,
                     "pi_high": m + 2, "hours": h, "role": "curve"})
    rows.append({"model": "series:m", "benchmark": "scaling", "dataset": "ssv2", "condition": "10-shot",
                 "metric": "slope_per_decade", "value": 3.0, "ci_low": 2.5, "ci_high": 3.5, "role": "param"})
    store.append_metrics(rows)
    return store


def _referenced(text: str, pattern: str) -> list[str]:
    return [r for r in re.findall(pattern, text) if not r.startswith(("data:", "http", "#"))]


def test_report_builds_and_references_only_existing_files(tmp_path: Path) -> None:
    _tiny_store(tmp_path / "r.sqlite")
    out = tmp_path / "report"
    assert main(["--results", str(tmp_path / "r.sqlite"), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    refs = _referenced(page, r"""(?:src|href)=['"]([^'"]+)['"]""")
    assert refs and all((out / r).is_file() for r in refs), refs
    assert page.count("data:image/png;base64,") >= 3  # robustness, contrasts, scaling figures embedded
    md = (out / "report.md").read_text()
    md_refs = _referenced(md, r"\]\(([^)]+)\)")
    assert md_refs and all((out / r).is_file() for r in md_refs)
    # Sections without rows say so; present sections show CIs and the replication level.
    assert page.count("No rows for this section") == 3  # rsa, behaviour and probes
    assert "0.700 [0.670, 0.730]" in page and "items" in page and "McNemar (exact)" in page
    assert "slope per decade of data" in md and "3.00 [2.50, 3.50]" in md
    assert "slope_per_decade" in md  # the glossary names the stored metric next to its label
    assert not re.search(r"summary:[0-9a-f]{6}", page)  # internal hashes never reach the page
    assert "fit_mean@" not in page and "fit mean@" not in page  # curve points are figure material only
    assert all(f.suffix in {".pdf", ".png"} for f in (out / "figures").iterdir())
    for suffix in (".csv", ".tex", ".parquet"):
        assert {p.stem for p in (out / "tables").glob(f"*{suffix}")} >= {"findings", "glossary"}
    # findings come first: question, then the findings table, before any section
    assert page.index("Question.") < page.index("id='findings'") < page.index("id='robustness'")
    assert page.index("id='appendix'") < page.index("id='glossary'") < page.index("id='provenance'")


def test_cli_errors_and_extensible_sections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--results", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    _tiny_store(tmp_path / "r.sqlite")
    register_section(Section("extra_test", "Extra analysis", ("robustness",)), replace=True)
    try:
        paths = build_report(tmp_path / "r.sqlite", tmp_path / "o", sections=["extra_test", "scaling"])
        page = paths["html"].read_text()
        assert "Extra analysis" in page and page.index("Extra analysis") < page.index("Data-scaling")
        with pytest.raises(KeyError, match="unknown report section"):
            build_report(tmp_path / "r.sqlite", tmp_path / "o", sections=["nope"])
        with pytest.raises(ValueError, match="already registered"):
            register_section(Section("scaling", "dup", ("x",)))
    finally:
        SECTIONS.pop("extra_test", None)


def test_tables_format_and_export() -> None:
    assert format_ci(0.61234, 0.5811, 0.64) == "0.612 [0.581, 0.640]"
    assert format_ci(12.345, None, None) == "12.3"
    assert format_ci(-9.25e-18, -0.118, 0.104) == "0.000 [-0.118, 0.104]" and format_value(8.14e-04) == "0.001"
    assert format_value(4971.0) == "4971" and format_value(12.345) == "12.3"
    assert format_p(0.0004) == "< 0.001" and format_p(0.0123, prefix=True) == "= 0.012"
    assert condition_label("gaussian_noise/3") == "gaussian noise, severity 3"
    assert condition_label("summary:81d6e9138319") == "all corruptions and severities" and condition_label("0") == "all images"
    rows = pd.DataFrame({"model": ["a", "a", "b", "b"], "condition": ["x", "y", "x", "y"], "metric": "acc",
                         "value": [0.1, 0.2, 0.3, 0.4], "ci_low": np.nan, "ci_high": np.nan})
    table = metric_table(rows)
    assert list(table.columns) == ["model", "x", "y"] and table.loc[1, "y"] == "0.400"
    md = to_markdown(table)
    assert md.splitlines()[0] == "| model | x | y |" and md.count("\n") == 4
    tex = to_latex(pd.DataFrame({"a_b": ["50%"]}), caption="x & y")
    assert r"a\_b" in tex and r"50\%" in tex and r"x \& y" in tex and r"\toprule" in tex


def test_rsa_and_behaviour_sections_use_area_plots(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    rows = []
    for model in ("vit_b16_video", "vit_b16_image"):
        for layer in range(3):
            v = 0.1 + 0.05 * layer
            rows.append({"model": model, "checkpoint_hash": model, "layer": layer, "benchmark": "rsa", "dataset": "rsa92", "condition": "hIT",
                         "metric": "rsa_spearman", "value": v, "ci_low": v - 0.02, "ci_high": v + 0.02})
        for metric, v in (("accuracy_difference", 0.05), ("error_consistency", 0.2)):
            rows.append({"model": model, "checkpoint_hash": model, "benchmark": "behaviour", "dataset": "mvh",
                         "metric": metric, "value": v,
                         "ci_low": v - 0.01, "ci_high": v + 0.01})
    for name, v in (("lower", 0.3), ("upper", 0.4)):
        rows.append({"model": "noise_ceiling", "benchmark": "rsa", "dataset": "rsa92", "condition": "hIT",
                     "metric": f"rsa_spearman_noise_ceiling_{name}", "value": v})
    store.append_metrics(rows)
    paths = build_report(store, tmp_path / "rep", sections=["rsa", "behaviour"])
    figures = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert figures[0].startswith("behaviour_00_error_consistency") and any(f.startswith("rsa_00") for f in figures)
    assert "No rows" not in paths["html"].read_text()
