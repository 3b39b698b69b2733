"""Findings table: rows from stored contrasts and per-model rows, the direction rule, and the page's numbers
checked against the results store."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from humanalign.report.builder import build_report
from humanalign.report.findings import findings_table
from humanalign.report.glossary import more_human_like, readable_test
from humanalign.report.tables import format_p, format_value
from tests.report_store_helper import MODELS, report_store

A, B = MODELS


def test_direction_rule_per_metric() -> None:
    assert more_human_like("error_consistency", 0.1) == "B" and more_human_like("error_consistency", -0.1) == "A"
    assert more_human_like("accuracy_difference", 0.1) == "A"  # a distance to humans: lower is better
    assert more_human_like("mCE", -0.2) == "B"
    assert more_human_like("shape_bias", 0.1, value_a=0.3, value_b=0.4) == "B"  # closer to humans' 0.96
    assert more_human_like("shape_bias", 0.1, value_a=0.95, value_b=1.0) == "A"  # 0.01 vs 0.04 away
    assert more_human_like("top1", 0.3) is None and more_human_like("accuracy", 0.0) == "tie"


def test_findings_rows_come_from_the_store(tmp_path: Path) -> None:
    store = report_store(tmp_path / "r.sqlite")
    table = findings_table(store.metrics())
    assert set(table["contrast"]) == {f"{B} vs {A}"}
    assert list(dict.fromkeys(table["area"])) == ["human consistency", "shape bias", "RSA to human IT",
                                                  "RSA to behaviour", "OOD accuracy", "robustness"]
    rob = table[table["area"] == "robustness"]
    assert list(rob["condition"]) == ["clean", "corrupted (pooled)"]  # per-corruption cells stay in the appendix
    ec = table[table["metric"] == "error_consistency"].iloc[0]
    assert ec["difference"] == pytest.approx(0.04) and ec["test"] == "none stored"
    assert ec["more_human_like"] == f"{B} (untested)" and "descriptive only" in ec["sentence"]
    ood = table[table["area"] == "OOD accuracy"].iloc[0]
    assert ood["p_holm"] == pytest.approx(0.012) and ood["more_human_like"] == f"{B} (significant)"
    assert "Holm-adjusted p = 0.012, significant" in ood["sentence"] and "[0.010, 0.110]" in ood["sentence"]
    clean = rob.iloc[0]
    assert clean["more_human_like"] == f"{A} (n.s.)" and "not significant" in clean["sentence"]
    rsa = table[table["area"] == "RSA to human IT"].iloc[0]
    assert rsa["difference"] == pytest.approx(0.02) and "best layer" in rsa["measure"]


def _page_rows(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr class='numbers'>(.*?)</tr>", page, flags=re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in rows]


def test_numbers_on_the_page_match_the_store(tmp_path: Path) -> None:
    store = report_store(tmp_path / "r.sqlite")
    page = build_report(store, tmp_path / "rep", sections=["contrasts"])["html"].read_text()
    rows = _page_rows(page)
    assert len(rows) == 7
    metrics = store.metrics()
    con = metrics[(metrics["benchmark"] == "contrasts") & (metrics["model"] == f"{B} - {A}")]
    checked = 0
    for contrast, area, measure, diff, test, p, unit, who in rows:
        assert contrast == f"{B} vs {A}"
        if area.startswith("RSA"):
            ref = "hIT" if "IT" in area else "behaviour"
            sub = metrics[(metrics["metric"] == "rsa_spearman") & (metrics["condition"] == ref)]
            best = sub.groupby("model")["value"].max()
            assert diff == format_value(best[B] - best[A]) and p == "-"  # no pairwise test file next to this store
        elif test == "none stored":
            metric, dataset = ("error_consistency", "all") if area == "human consistency" else ("shape_bias",
                                                                                                  "cue-conflict")
            sub = metrics[(metrics["metric"] == metric) & (metrics["dataset"] == dataset)].set_index("model")["value"]
            assert diff == format_value(sub[B] - sub[A]) and p == "-"
        else:
            dataset = "cue-conflict" if area == "OOD accuracy" else "motion-direction"
            cond = {"cue-conflict": "0"}.get(dataset) or ("clean" if "clean" in measure else "corrupted (pooled)")
            cell = con[(con["dataset"] == dataset) & (con["condition"] == cond)].set_index("metric")
            d = cell.loc["difference"]
            assert diff == f"{format_value(d['value'])} [{format_value(d['ci_low'])}, {format_value(d['ci_high'])}]"
            assert p == format_p(cell.loc["p_adjusted", "value"]) and unit == f"{int(d['n'])} items"
            assert test == readable_test(d["test"])
            checked += 1
        assert who.split(" (")[0] in (A, B, "neither (equal)")
    assert checked == 3
    csv = pd.read_csv(tmp_path / "rep" / "tables" / "findings.csv")
    assert len(csv) == 7 and csv["sentence"].notna().all()
