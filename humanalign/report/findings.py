"""The findings table: one row per contrast and area, each with a sentence generated from its numbers.

A contrast is a pair of models that differ in one factor, found from the stored contrast rows
(``benchmark == "contrasts"``, ``model == "B - A"``, written by ``analysis/contrasts.py``). For each
pair the table gathers, per area:

* OOD accuracy and robustness - the stored paired contrasts (McNemar on items, bootstrap CI, Holm
  across cells): the whole-set cell of single-condition sets, and the clean and pooled-corrupted
  cells of corruption sets (every other cell is in the appendix and the forest plot);
* human consistency (error consistency over all sets) and shape bias - B - A of the stored per-model
  values; the item-level shape-bias contrast when ``analysis/contrasts.py`` stored one;
* RSA to human IT and to behaviour - B - A at each model's best layer, with the pairwise bootstrap
  test of ``experiments/rsa.py`` (``rsa_pairwise_<reference>.csv`` next to the store) when present,
  Holm-corrected here across that file's pairs.

"More human-like" follows :func:`humanalign.report.glossary.more_human_like` (documented per metric
in :data:`humanalign.report.glossary.METRICS`). Nothing is hard-coded: a row exists only when its
numbers are stored, and its sentence is built from them.

Example:
    >>> table = findings_table(store.metrics(), artifacts=Path("demo_out"))
    >>> print(table["sentence"].iloc[0])
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from humanalign.report.glossary import (
    condition_label,
    dataset_label,
    metric_info,
    more_human_like,
    readable_test,
)
from humanalign.report.tables import format_p, format_value

__all__ = ["FINDINGS_COLUMNS", "contrast_pairs", "findings_table", "findings_display"]

logger = logging.getLogger(__name__)

FINDINGS_COLUMNS = ("contrast", "area", "measure", "metric", "dataset", "condition", "value_a", "value_b",
                    "difference", "ci_low", "ci_high", "test", "p_holm", "n", "unit", "more_human_like", "sentence")
_CLEAN = {"", "0", "clean", "nan", "None"}
_POOLED = "corrupted (pooled)"


def contrast_pairs(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """``(A, B)`` for every stored contrast ``"B - A"``, in first-stored order."""
    if rows.empty or "benchmark" not in rows:
        return []
    names = rows.loc[rows["benchmark"] == "contrasts", "model"].dropna().astype(str)
    pairs = []
    for name in dict.fromkeys(names):
        if " - " in name:
            b, a = name.split(" - ", 1)
            pairs.append((a, b))
    return pairs


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


def _value(rows: pd.DataFrame, model: str, **where: str) -> tuple[float | None, pd.Series | None]:
    sub = rows[rows["model"].astype(str) == model]
    for key, wanted in where.items():
        sub = sub[sub[key].fillna("").astype(str) == wanted]
    if sub.empty:
        return None, None
    rec = sub.iloc[-1]
    return _num(rec["value"]), rec


def _stored_contrasts(rows: pd.DataFrame, a: str, b: str) -> list[dict[str, Any]]:
    """Findings from the stored contrast cells of one pair."""
    con = rows[(rows["benchmark"] == "contrasts") & (rows["model"].astype(str) == f"{b} - {a}")].copy()
    if con.empty:
        return []
    for col in ("dataset", "condition"):
        con[col] = con[col].fillna("").astype(str)
    mvh = set(rows.loc[rows["benchmark"].isin(["model-vs-human", "behaviour"]), "dataset"].dropna().astype(str))
    out = []
    for (dataset, condition), cell in con.groupby(["dataset", "condition"], sort=True):
        metric_of_cell = str(cell["contrast_metric"].dropna().iloc[0]) if "contrast_metric" in cell and \
            cell["contrast_metric"].notna().any() else "accuracy"
        conditions = set(con.loc[con["dataset"] == dataset, "condition"])
        single = len(conditions) == 1
        pooled = _POOLED in conditions
        if metric_of_cell == "accuracy" and pooled and condition not in _CLEAN and condition != _POOLED:
            continue  # per-corruption cells of a pooled set: appendix and forest plot
        diff = cell[cell["metric"] == "difference"]
        if diff.empty:
            continue
        d = diff.iloc[-1]
        p = cell.loc[cell["metric"] == "p_adjusted", "value"]
        p_raw = cell.loc[cell["metric"] == "p_value", "value"]
        if metric_of_cell == "shape_bias":
            area = "shape bias"
        elif dataset in mvh:
            area = "OOD accuracy"
        else:
            area = "robustness"
        measure = f"{metric_info(metric_of_cell).label}, {dataset}"
        label = condition_label(condition, dataset)
        if (not single or condition not in _CLEAN) and label != metric_info(metric_of_cell).label:
            measure += f", {label}"
        out.append({
            "area": area, "measure": measure, "metric": metric_of_cell, "dataset": dataset, "condition": condition,
            "value_a": _num(d.get("value_a")), "value_b": _num(d.get("value_b")),
            "difference": _num(d["value"]), "ci_low": _num(d.get("ci_low")), "ci_high": _num(d.get("ci_high")),
            "test": readable_test(d.get("test") or "paired test"),
            "p_holm": _num(p.iloc[-1]) if len(p) else (_num(p_raw.iloc[-1]) if len(p_raw) else None),
            "n": _num(d.get("n")), "unit": str(d.get("level") or "items"),
        })
    return out


def _model_level(rows: pd.DataFrame, a: str, b: str) -> list[dict[str, Any]]:
    """Differences of stored per-model values (no paired test stored for these)."""
    out = []
    mvh = rows[rows["benchmark"].isin(["model-vs-human", "behaviour"])]
    specs = [("human consistency", "error_consistency", "all"), ("shape bias", "shape_bias", "cue-conflict")]
    for area, metric, dataset in specs:
        va, ra = _value(mvh, a, metric=metric, dataset=dataset)
        vb, rb = _value(mvh, b, metric=metric, dataset=dataset)
        if va is None or vb is None:
            continue
        out.append({"area": area, "measure": f"{metric_info(metric).label}, {dataset_label(dataset)}", "metric": metric,
                    "dataset": dataset, "condition": "", "value_a": va, "value_b": vb, "difference": vb - va,
                    "ci_low": None, "ci_high": None, "test": "none stored", "p_holm": None,
                    "n": None, "unit": "one value per model",
                    "ci_a": (_num(ra.get("ci_low")), _num(ra.get("ci_high"))),
                    "ci_b": (_num(rb.get("ci_low")), _num(rb.get("ci_high")))})
    return out


def _best_layer(rsa: pd.DataFrame, model: str) -> tuple[float | None, str]:
    sub = rsa[rsa["model"].astype(str) == model]
    if sub.empty:
        return None, ""
    rec = sub.loc[sub["value"].astype(float).idxmax()]
    return float(rec["value"]), str(rec.get("layer") or "")


def _pairwise(artifacts: Path | None, reference: str) -> pd.DataFrame | None:
    if artifacts is None or not artifacts.is_dir():
        return None
    files = sorted(artifacts.rglob(f"rsa_pairwise_{reference}.csv"))
    if not files:
        return None
    table = pd.read_csv(files[-1])
    if not {"model_a", "model_b", "p"} <= set(table.columns) or table.empty:
        return None
    from humanalign.compare.contrasts import adjust_pvalues

    table["p_holm"] = adjust_pvalues(table["p"].clip(0, 1).to_numpy(), "holm")
    return table


def _rsa(rows: pd.DataFrame, a: str, b: str, artifacts: Path | None) -> list[dict[str, Any]]:
    out = []
    rsa = rows[(rows["benchmark"] == "rsa") & (rows["metric"] == "rsa_spearman")]
    for reference in dict.fromkeys(rsa["condition"].dropna().astype(str)):
        ref = rsa[rsa["condition"].astype(str) == reference]
        (va, la), (vb, lb) = _best_layer(ref, a), _best_layer(ref, b)
        if va is None or vb is None:
            continue
        rec = {"area": f"RSA to {condition_label(reference)}", "metric": "rsa_spearman", "dataset": "rsa92",
               "measure": f"RSA (Spearman) to {condition_label(reference)}, best layer ({a}: {la}, {b}: {lb})",
               "condition": reference, "value_a": va, "value_b": vb, "difference": vb - va, "ci_low": None,
               "ci_high": None, "test": "none stored", "p_holm": None, "n": None, "unit": "stimuli"}
        pairs = _pairwise(artifacts, reference)
        if pairs is not None:
            keys = {f"{a}:{la}", f"{b}:{lb}"}
            hit = pairs[[{str(x), str(y)} == keys for x, y in zip(pairs["model_a"], pairs["model_b"], strict=True)]]
            if not hit.empty:
                kind = str(hit["test"].iloc[0]) if "test" in hit else "bootstrap"
                rec["unit"] = "subjects" if kind.startswith("t") else "stimuli"  # t-test over subjects, else bootstrap
                rec.update(test=f"{readable_test(hit['test'].iloc[0]) if 'test' in hit else 'bootstrap'} (pairwise)",
                           p_holm=float(hit["p_holm"].iloc[0]))
        out.append(rec)
    return out


def _direction(rec: dict[str, Any], a: str, b: str) -> str:
    """The more human-like model by the metric's rule, qualified by the test: '(significant)',
    '(n.s.)' or '(untested)'."""
    who = more_human_like(rec["metric"], rec["difference"], rec.get("value_a"), rec.get("value_b"))
    name = {"A": a, "B": b, "tie": "neither (equal)"}.get(who or "", "no human reference")
    if who not in ("A", "B"):
        return name
    p = rec.get("p_holm")
    return f"{name} ({'untested' if p is None else 'significant' if p < 0.05 else 'n.s.'})"


def _sentence(rec: dict[str, Any], a: str, b: str) -> str:
    d = rec["difference"]
    what = rec["measure"]
    if d == 0:
        head = f"On {what}, {b} and {a} do not differ (difference 0)"
    else:
        size = format_value(abs(d)) if abs(d) >= 0.0005 else "less than 0.001"
        head = f"On {what}, {b} is {size} {'higher' if d > 0 else 'lower'} than {a}"
        head += f" ({format_value(rec['value_b'])} vs {format_value(rec['value_a'])})" \
            if rec.get("value_a") is not None and rec.get("value_b") is not None else ""
    if rec.get("ci_low") is not None and rec.get("ci_high") is not None:
        head += f"; 95% CI [{format_value(rec['ci_low'])}, {format_value(rec['ci_high'])}]"
    if rec.get("p_holm") is not None:
        sig = "significant" if rec["p_holm"] < 0.05 else "not significant"
        n = f", n = {int(rec['n'])} {rec['unit']}" if rec.get("n") is not None else f", over {rec['unit']}"
        tail = f"{rec['test']}{n}: Holm-adjusted p {format_p(rec['p_holm'], prefix=True)}, {sig} at 0.05."
    else:
        tail = "no paired test is stored for this measure, so the difference is descriptive only."
    who = str(rec["more_human_like"]).split(" (")[0]
    if who in (a, b):
        verdict = f" By the rule for this measure ({_rule(rec['metric'])}), {who} is the more human-like."
    elif who.startswith("neither"):
        verdict = " Neither model is more human-like on this measure."
    else:
        verdict = " This measure has no human reference, so no direction is claimed."
    return f"{head} ({tail}){verdict}".replace(" (no paired", "; no paired").replace("only.)", "only.")


def _rule(metric: str) -> str:
    info = metric_info(metric)
    return {"higher": "higher is more human-like", "lower": "lower is more human-like",
            "closer": f"closer to the human value {info.human_value} is more human-like"}.get(info.human_like or "", "")


def findings_table(rows: pd.DataFrame, artifacts: str | Path | None = None) -> pd.DataFrame:
    """One row per (contrast, area measure) with difference, CI, test, Holm p, unit, direction, sentence.

    Args:
        rows: All metric rows of the store.
        artifacts: Folder searched for ``rsa_pairwise_<reference>.csv`` (the RSA experiment's output).

    Returns:
        A DataFrame with :data:`FINDINGS_COLUMNS` (numeric columns are floats; missing is NaN).
    """
    folder = Path(artifacts) if artifacts is not None else None
    records = []
    for a, b in contrast_pairs(rows):
        found = _model_level(rows, a, b) + _rsa(rows, a, b, folder) + _stored_contrasts(rows, a, b)
        stored_areas = {(r["area"], r["metric"]) for r in found if r["test"] != "none stored"}
        for rec in found:
            if rec["test"] == "none stored" and (rec["area"], rec["metric"]) in stored_areas:
                continue  # an item-level test of the same measure is stored: keep that row only
            rec["contrast"] = f"{b} vs {a}"
            rec["more_human_like"] = _direction(rec, a, b)
            rec["sentence"] = _sentence(rec, a, b)
            records.append(rec)
    order = {"human consistency": 0, "shape bias": 1, "OOD accuracy": 3, "robustness": 4}
    table = pd.DataFrame(records, columns=list(FINDINGS_COLUMNS))
    if not table.empty:
        table["_k"] = [order.get(x, 2) for x in table["area"]]
        table = table.sort_values(["contrast", "_k"], kind="stable").drop(columns="_k").reset_index(drop=True)
    return table


def findings_display(table: pd.DataFrame) -> pd.DataFrame:
    """The findings table formatted for the page (strings; fixed significant digits)."""
    if table.empty:
        return pd.DataFrame()
    ci = [f"{format_value(d)} [{format_value(lo)}, {format_value(hi)}]" if _num(lo) is not None else format_value(d)
          for d, lo, hi in zip(table["difference"], table["ci_low"], table["ci_high"], strict=True)]
    return pd.DataFrame({
        "contrast (B vs A)": table["contrast"], "area": table["area"], "measure": table["measure"],
        "B - A [95% CI]": ci, "paired test": table["test"],
        "Holm p": [format_p(p) if _num(p) is not None else "-" for p in table["p_holm"]],
        "replication unit": [f"{int(n)} {u}" if _num(n) is not None else str(u)
                             for n, u in zip(table["n"], table["unit"], strict=True)],
        "more human-like": table["more_human_like"], "finding": table["sentence"],
    })
