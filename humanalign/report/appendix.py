"""Appendix tables: one table per area with metrics as columns, readable condition names, fixed digits.

Every cell is ``value [ci_low, ci_high]`` (or the value alone), formatted by
:func:`humanalign.report.tables.format_ci`. Column headers are metric labels from the glossary, so
no raw metric name is shown without its definition (the glossary table lists them all).

Example:
    >>> area_table(store.metrics(benchmark="model-vs-human"))
"""

from __future__ import annotations

import logging

import pandas as pd

from humanalign.report.glossary import condition_label, metric_label, readable_test
from humanalign.report.tables import format_ci, format_p

__all__ = ["area_table", "contrast_table", "INTERNAL_METRICS"]

logger = logging.getLogger(__name__)

#: Rows that are figure material, not table cells (curve points, per-category values, pairwise p-values).
INTERNAL_METRICS = ("fit_mean", "shape_bias_category", "mcnemar_p_holm")


def _cells(frame: pd.DataFrame, digits: int) -> list[str]:
    lo = frame["ci_low"] if "ci_low" in frame else [None] * len(frame)
    hi = frame["ci_high"] if "ci_high" in frame else [None] * len(frame)
    return [format_ci(v, a, b, digits) for v, a, b in zip(frame["value"], lo, hi, strict=True)]


def area_table(rows: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Rows of one area as a table: model (layer), data set, condition by metric.

    Index fields that never vary are dropped; duplicate cells keep the most recent row.

    Args:
        rows: Metric rows of one report section.
        digits: Digits of :func:`format_value`.

    Returns:
        A DataFrame of strings; empty when nothing is left after dropping internal rows.
    """
    frame = rows[~rows["metric"].isin(INTERNAL_METRICS) & ~rows["metric"].astype(str).str.startswith("fit_mean@")]
    frame = frame.copy()
    if "role" in frame:
        frame = frame[frame["role"].isna() | frame["role"].isin(["param", "prediction", "test", "fit", "heldout",
                                                                   "reference"])]
    if frame.empty:
        return pd.DataFrame()
    frame["cell"] = _cells(frame, digits)
    frame["data set"] = frame["dataset"].fillna("").astype(str) if "dataset" in frame else ""
    frame["condition "] = [condition_label(c, d) for c, d in zip(frame.get("condition", ""), frame["data set"],
                                                                  strict=True)]
    frame["model "] = frame["model"].astype(str)
    index = ["model "]
    if "layer" in frame and frame["layer"].notna().any() and frame["layer"].astype(str).nunique() > 1:
        frame["layer "] = frame["layer"].fillna("").astype(str)
        index.append("layer ")
    index += [c for c in ("data set", "condition ") if frame[c].nunique() > 1]
    frame["metric "] = frame["metric"].map(metric_label)
    order = list(dict.fromkeys(frame["metric "]))
    table = frame.pivot_table(index=index, columns="metric ", values="cell", aggfunc="last")
    table = table[[c for c in order if c in table.columns]]
    table.columns = [str(c) for c in table.columns]
    out = table.reset_index().fillna("")
    out.columns = [c.strip() for c in out.columns]
    return out


def contrast_table(rows: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Contrast cells: pair, data set, condition, measure, B - A [CI], p, Holm p, test, level, n."""
    frame = rows.copy()
    for col in ("model", "dataset", "condition", "test", "level"):
        frame[col] = frame[col].fillna("").astype(str) if col in frame else ""
    keys = ["model", "dataset", "condition"]
    diff = frame[frame["metric"] == "difference"]
    if diff.empty:
        return pd.DataFrame()
    lookups = {m: frame[frame["metric"] == m].drop_duplicates(keys, keep="last").set_index(keys)["value"]
               for m in ("p_value", "p_adjusted")}
    measure = diff["contrast_metric"].fillna("accuracy") if "contrast_metric" in diff else pd.Series("accuracy",
                                                                                                     index=diff.index)
    return pd.DataFrame({
        "contrast (B - A)": diff["model"], "data set": diff["dataset"],
        "condition": [condition_label(c, d) for c, d in zip(diff["condition"], diff["dataset"], strict=True)],
        "measure": measure.map(metric_label),
        "B - A [95% CI]": _cells(diff, digits),
        "p": [format_p(lookups["p_value"].get(tuple(k))) for k in diff[keys].itertuples(index=False)],
        "Holm p": [format_p(lookups["p_adjusted"].get(tuple(k))) for k in diff[keys].itertuples(index=False)],
        "test": diff["test"].map(readable_test), "level": diff["level"],
        "n": pd.to_numeric(diff["n"], errors="coerce").astype("Int64").astype(str).replace("<NA>", ""),
    }).reset_index(drop=True)
