"""HTML pieces of the report page: style sheet, contents, collapsible sections, figures, tables.

Only markup; the builder decides what goes where. Tables sit in a scrolling box, so a wide table
never widens the page; figures are shown at their print size (capped at the column width).
"""

from __future__ import annotations

import base64
import html
import logging
import struct
from pathlib import Path

import pandas as pd

from humanalign.report.tables import to_html

__all__ = ["CSS", "page", "toc", "details", "figure_html", "table_html", "findings_html", "png_size"]

logger = logging.getLogger(__name__)

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.4}h1{font-size:1.6em;margin:0.2em 0}h2{font-size:1.25em;display:inline}
h3{font-size:1.05em}h1,h2,h3{font-weight:600}.question{font-size:1.08em;background:#f3f6fa;border-left:4px solid #4477AA;
padding:0.5em 0.8em;margin:0.6em 0}nav.toc{font-size:0.85em;color:#555;margin:0.4em 0 0.8em}nav.toc a{margin-right:0.9em}
.scroll{overflow-x:auto;max-width:100%}table.tbl{border-collapse:collapse;font-size:0.82em;margin:0.4em 0 0.6em}
.tbl th,.tbl td{border-bottom:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}.tbl th{background:#f4f4f4}
.tbl td{max-width:26em}.tbl td.num{white-space:nowrap}tr.sentence td{color:#444;font-size:0.95em;border-bottom:2px solid #ccc;padding-bottom:6px}
details{margin:0.8em 0}details>summary{cursor:pointer;padding:0.2em 0}figure{margin:1em 0}
figure img{max-width:100%;height:auto;display:block}figcaption{font-size:0.85em;color:#444;max-width:820px}
.empty{color:#888}.links{font-size:0.8em}.prov{font-size:0.85em;color:#444}code{font-size:0.9em}"""


def page(title: str, body: list[str]) -> str:
    """A complete HTML document."""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def toc(entries: list[tuple[str, str]]) -> str:
    """A one-line table of contents: ``[(anchor, title)]``."""
    links = "".join(f"<a href='#{html.escape(a)}'>{html.escape(t)}</a>" for a, t in entries)
    return f"<nav class='toc'><strong>Contents:</strong> {links}</nav>"


def details(anchor: str, title: str, body: str, open_: bool = True) -> str:
    """A collapsible section whose summary is an ``h2`` heading."""
    flag = " open" if open_ else ""
    return (f"<details id='{html.escape(anchor)}'{flag}><summary><h2>{html.escape(title)}</h2></summary>"
            f"{body}</details>")


def png_size(path: Path) -> tuple[int, int]:
    """Pixel width and height from a PNG header."""
    head = path.read_bytes()[:24]
    return struct.unpack(">II", head[16:24])


def figure_html(png: Path, caption: str, links: list[tuple[str, str]], dpi: int = 300,
                css_px_per_in: int = 150) -> str:
    """An inline (base64) figure shown at its print width, with caption and file links."""
    width, _ = png_size(png)
    shown = int(width / dpi * css_px_per_in)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    link = " · ".join(f"<a href='{html.escape(h)}'>{html.escape(t)}</a>" for t, h in links)
    return (f"<figure><img alt='{html.escape(caption[:120])}' width='{shown}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)} <span class='links'>{link}</span></figcaption></figure>")


def table_html(table: pd.DataFrame, caption: str, links: list[tuple[str, str]]) -> str:
    """A captioned table in a horizontally scrolling box, with export links."""
    link = " · ".join(f"<a href='{html.escape(h)}'>{html.escape(t)}</a>" for t, h in links)
    return (f"<h3>{html.escape(caption)}</h3><div class='scroll'>{to_html(table)}</div>"
            f"<p class='links'>{link}</p>")


def findings_html(display: pd.DataFrame) -> str:
    """The findings table: one row of numbers per finding, its sentence in a full-width row beneath."""
    if display.empty:
        return "<p class='empty'>No contrast rows are stored, so there are no findings to state.</p>"
    cols = [c for c in display.columns if c != "finding"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for rec in display.to_dict(orient="records"):
        cells = "".join(f"<td class='num'>{html.escape(str(rec[c]))}</td>" if c in ("B - A [95% CI]", "Holm p")
                        else f"<td>{html.escape(str(rec[c]))}</td>" for c in cols)
        body.append(f"<tr class='numbers'>{cells}</tr>"
                    f"<tr class='sentence'><td colspan='{len(cols)}'>{html.escape(str(rec['finding']))}</td></tr>")
    return (f"<div class='scroll'><table class='tbl findings'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")
