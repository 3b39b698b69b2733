"""Result tables: value-with-CI cells, per-benchmark pivots, and Markdown / HTML / LaTeX export.

Tables only reshape and format metric rows; they never compute metrics.

Example:
    >>> table = metric_table(store.metrics(benchmark="robustness", dataset="sketch"))
    >>> print(to_markdown(table)); Path("t.tex").write_text(to_latex(table, caption="Sketch"))
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["format_value", "format_p", "format_ci", "metric_table", "to_markdown", "to_html", "to_latex"]

logger = logging.getLogger(__name__)


def format_value(value: Any, digits: int = 3) -> str:
    """Fixed-precision number: ``digits`` decimals below 1 (so ``-9e-18`` reads ``0.000``), else ``digits``
    significant digits; only values of 1e5 and above use scientific form."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, str):
        return value
    x = float(value)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) >= 1e5:
        return f"{x:.{max(digits - 1, 1)}e}"
    if abs(x) < 1:
        text = f"{x:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"  # 1234.5 -> "1234", not "1.23e+03"
    return f"{x:#.{digits}g}".rstrip(".")


def format_p(p: Any, prefix: bool = False) -> str:
    """A p-value as ``0.012``, ``< 0.001`` or ``1.000``; with ``prefix`` as ``= 0.012`` / ``< 0.001``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    x = float(p)
    if x < 0.001:
        return "< 0.001"
    return f"= {x:.3f}" if prefix else f"{x:.3f}"


def format_ci(value: Any, low: Any = None, high: Any = None, digits: int = 3) -> str:
    """``"0.612 [0.581, 0.640]"``, or just the value when the CI is missing."""
    text = format_value(value, digits)
    lo, hi = format_value(low, digits), format_value(high, digits)
    return f"{text} [{lo}, {hi}]" if lo and hi else text


def metric_table(
    rows: pd.DataFrame,
    index: Sequence[str] = ("model", "layer"),
    columns: Sequence[str] = ("condition",),
    digits: int = 3,
) -> pd.DataFrame:
    """Pivot metric rows into a table of ``value [ci_low, ci_high]`` strings.

    Index/column fields that are constant or entirely empty are dropped; duplicate cells keep the
    most recent row (the store returns rows in insertion order).

    Args:
        rows: Long-format metric rows (one benchmark/dataset/metric is typical).
        index: Row fields.
        columns: Column fields.
        digits: Significant digits.

    Returns:
        A DataFrame of strings with a flat index and flat string column names.
    """
    if rows.empty:
        return pd.DataFrame()
    frame = rows.copy()
    frame["_cell"] = [
        format_ci(v, lo, hi, digits)
        for v, lo, hi in zip(frame["value"], frame.get("ci_low", [None] * len(frame)),
                             frame.get("ci_high", [None] * len(frame)), strict=True)
    ]  # fmt: skip
    keep_idx = [c for c in index if c in frame and frame[c].notna().any() and frame[c].astype(str).nunique() > 1]
    keep_idx = keep_idx or [c for c in index if c in frame][:1]
    keep_col = [c for c in columns if c in frame and frame[c].notna().any() and frame[c].astype(str).nunique() > 1]
    for col in keep_idx + keep_col:
        frame[col] = frame[col].fillna("").astype(str)
    if not keep_col:
        metric_name = str(frame["metric"].iloc[0]) if "metric" in frame else "value"
        out = frame.drop_duplicates(keep_idx, keep="last").set_index(keep_idx)[["_cell"]]
        out.columns = [metric_name]
    else:
        out = frame.pivot_table(index=keep_idx, columns=keep_col, values="_cell", aggfunc="last")
        out.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in out.columns]
    return out.reset_index().fillna("")


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else format_value(value)


def to_markdown(table: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table (pipes escaped)."""
    if table.empty:
        return "_(no rows)_\n"
    header = [str(c).replace("|", "\\|") for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for rec in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in rec) + " |")
    return "\n".join(lines) + "\n"


_NUMBER = re.compile(r"^(< )?-?\d[\d.]*(e[+-]?\d+)?( \[-?\d[\d.e+-]*, -?\d[\d.e+-]*\])?$")


def to_html(table: pd.DataFrame) -> str:
    """HTML ``<table>`` with escaped cells."""
    if table.empty:
        return "<p><em>(no rows)</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    def td(value: Any) -> str:
        text = _cell(value)
        numeric = bool(_NUMBER.match(text))
        return f"<td class='num'>{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>"

    body = "".join("<tr>" + "".join(td(v) for v in rec) + "</tr>" for rec in table.itertuples(index=False))
    return f'<table class="tbl"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame, caption: str = "", label: str = "") -> str:
    """A ``booktabs`` LaTeX table (needs ``\\usepackage{booktabs}``), cells escaped."""
    cols = "l" * len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule"]
    lines.append(" & ".join(_latex_escape(str(c)) for c in table.columns) + r" \\")
    lines.append(r"\midrule")
    for rec in table.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(_cell(v)) for v in rec) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
