"""Build a paper-ready HTML report and its Markdown twin from the results store.

The page opens with the study's question and the findings table (:mod:`humanalign.report.findings`),
then one collapsible section of canonical figures per area, then the appendix: one table per area
(CSV, LaTeX and Parquet next to it), the glossary of every metric shown, and the provenance block.
Figures are saved as PDF (for papers) and PNG; the HTML embeds the PNGs inline (so the page is
self-contained) and links the files written next to it. Every figure's layout is checked (overlapping
text, width) when it is saved; the findings go to ``figure_checks.json``.

New analyses plug in with :func:`register_section`:

    >>> register_section(Section("ood", "Out-of-distribution", benchmarks=("ood",)))

Example:
    >>> build_report("results/humanalign.sqlite", "analysis/reports/main")
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from humanalign.io.results import ResultsStore
from humanalign.report import html as markup
from humanalign.report.findings import contrast_pairs, findings_display, findings_table
from humanalign.report.glossary import glossary_table
from humanalign.report.sections import (
    behaviour_figures,
    contrast_figures,
    contrast_tables,
    default_figures,
    default_tables,
    probe_figures,
    robustness_figures,
    rsa_figures,
    scaling_figures,
    scaling_tables,
)
from humanalign.report.style import FIGURE_PROBLEMS, reserved_colors, save_figure
from humanalign.report.tables import to_latex, to_markdown

__all__ = ["Section", "SECTIONS", "register_section", "build_report", "default_question"]

logger = logging.getLogger(__name__)

FigureFn = Callable[..., list[tuple[str, "Figure | Path"]]]
TableFn = Callable[[pd.DataFrame], list[tuple[str, pd.DataFrame]]]


@dataclass
class Section:
    """One report section.

    Attributes:
        key: Short identifier (file names, anchors).
        title: Heading.
        benchmarks: Benchmark names whose metric rows belong here.
        description: Paragraph under the heading (what the numbers mean, replication level).
        tables: Rows -> list of (caption, table); shown in the appendix.
        figures: Rows -> list of (caption, figure or PNG path).
        uses_artifacts: Call ``figures(rows, artifacts)`` with the folder of experiment outputs.
    """

    key: str
    title: str
    benchmarks: tuple[str, ...]
    description: str = ""
    tables: TableFn = field(default=default_tables)
    figures: FigureFn = field(default=default_figures)
    uses_artifacts: bool = False


SECTIONS: dict[str, Section] = {}


def register_section(section: Section, replace: bool = False) -> None:
    """Add a section to the default report (in registration order).

    Raises:
        ValueError: when the key exists and ``replace`` is False.
    """
    if section.key in SECTIONS and not replace:
        raise ValueError(f"report section {section.key!r} already registered")
    SECTIONS[section.key] = section


for _section in (
    Section("behaviour", "Trial-by-trial agreement with humans",
            ("behaviour", "behavior", "model-vs-human", "model_vs_human"),
            "Model-vs-human benchmark (Geirhos et al. 2021): each model is one more observer of the human "
            "experiments' images; intervals are 95% bootstrap CIs over images.",
            figures=behaviour_figures),
    Section("rsa", "Representational similarity", ("rsa",),
            "RDM correlations of each model with human IT and with human similarity judgements on the 92-image "
            "set (Kriegeskorte et al. 2008), with 95% bootstrap CIs and noise ceilings.",
            figures=rsa_figures, uses_artifacts=True),
    Section("robustness", "Robustness to corruptions and distribution shift", ("robustness",),
            "Readout accuracy under image corruptions and video perturbations per severity, and the summaries "
            "mCE, relative mCE, mPC and rPC; intervals are 95% bootstrap CIs over items.",
            figures=robustness_figures),
    Section("contrasts", "Controlled image-vs-video contrasts", ("contrasts",),
            "Each cell states the level of replication its claim rests on: 'items' (same stimuli, these "
            "trained networks), 'seeds' (training runs), 'items x runs' (crossed mixed model) or "
            "'seeds x family' (repeated-measures ANOVA). p-values are Holm-adjusted across the cells of a pair.",
            tables=contrast_tables, figures=contrast_figures),
    Section("probes", "Downstream probes on frozen features", ("eval_linear", "eval_attentive", "eval_fewshot", "eval_head"),
            "Top-1 accuracy of probes trained on frozen features (or of fine-tuning), with 95% Wilson intervals "
            "over validation items; the condition column records the protocol (shots, clips x crops, seed).",
            figures=probe_figures),
    Section("scaling", "Data-scaling trends", ("scaling",),
            "Log-linear fits of few-shot accuracy on log10(hours of pretraining video), from the published "
            "points of Orhan et al. 2024; released models are held out of the fits.",
            tables=scaling_tables, figures=scaling_figures),
):  # fmt: skip
    register_section(_section)


_CORE = ("model", "layer", "dataset", "condition", "metric", "value", "ci_low", "ci_high", "n")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:48] or "x"


def default_question(rows: pd.DataFrame) -> str:
    """The study's question, from its stored contrast pairs."""
    pairs = contrast_pairs(rows)
    if not pairs:
        return ("Which models behave and represent more like humans: in their errors, shape bias, "
                "representations and robustness?")
    listed = "; ".join(f"{b} vs {a}" for a, b in pairs)
    return (f"For each matched pair of models ({listed}), which one is more human-like: in trial-by-trial "
            f"errors, shape bias, representational similarity to human IT and behaviour, and robustness?")


def _chance(store: ResultsStore) -> dict[str, float]:
    """Chance accuracy per data set: 1 / number of categories in its stored trials."""
    trials = store.trials()
    if trials.empty or "category" not in trials:
        return {}
    counts = trials.dropna(subset=["dataset"]).groupby("dataset")["category"].nunique()
    return {str(d): 1.0 / n for d, n in counts.items() if n > 1}


def build_report(
    results: ResultsStore | str | Path,
    out_dir: str | Path,
    sections: Sequence[str] | None = None,
    title: str = "humanalign report",
    intro: str = "",
    question: str | None = None,
    artifacts: str | Path | None = None,
) -> dict[str, Path]:
    """Write ``index.html`` (self-contained), ``report.md``, figures (PDF+PNG), tables (CSV, LaTeX, Parquet).

    Args:
        results: A :class:`ResultsStore` or the path of its database (must exist).
        out_dir: Output folder (created).
        sections: Section keys in order (default: all registered sections).
        title: Report title.
        intro: Paragraphs (blank-line separated plain text): the first is shown under the question, the
            rest in a collapsed "About these numbers" box.
        question: The study's question (default: generated from the stored contrast pairs).
        artifacts: Folder with experiment outputs that are not metric rows (RDM panels, pairwise RSA
            tests); default: the store's folder.

    Returns:
        Paths: ``html``, ``markdown``, ``findings`` (CSV) and ``checks`` (figure layout JSON).

    Raises:
        FileNotFoundError: when a database path does not exist.
        KeyError: for an unknown section key.
    """
    if not isinstance(results, ResultsStore):
        path = Path(results)
        if not path.is_file():
            raise FileNotFoundError(f"results database not found: {path}")
        results = ResultsStore(path)
    keys = list(sections) if sections is not None else list(SECTIONS)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        raise KeyError(f"unknown report section(s) {unknown}; known: {list(SECTIONS)}")
    rows = results.metrics()
    others = sorted({str(m) for m in rows.get("model", []) if not re.search(r" - |\||:", str(m))
                     and str(m) not in ("humans", "noise_ceiling")})
    with reserved_colors([m for pair in contrast_pairs(rows) for m in pair] + others):  # contrasted models first
        return _build(results, rows, keys, Path(out_dir), title, intro, question, artifacts)


def _build(results: ResultsStore, all_rows: pd.DataFrame, keys: list[str], out: Path, title: str, intro: str,
           question: str | None, artifacts: str | Path | None) -> dict[str, Path]:
    """The body of :func:`build_report` (arguments checked, model colours reserved)."""
    for sub in ("figures", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    artifacts = Path(artifacts) if artifacts is not None else results.path.parent
    chance = _chance(results)
    all_rows["chance"] = all_rows["dataset"].map(chance) if "dataset" in all_rows else None
    paragraphs = [p.strip() for p in intro.split("\n\n") if p.strip()]
    question = question or default_question(all_rows)
    checks: dict[str, list[str]] = {}

    findings = findings_table(all_rows, artifacts)
    display = findings_display(findings)
    findings.to_csv(out / "tables" / "findings.csv", index=False)
    _exports(display, out, "findings", "Findings", csv=False)  # the CSV keeps the numbers unformatted
    head_html = [f"<h1>{html.escape(title)}</h1>", f"<p class='question'><strong>Question.</strong> "
                 f"{html.escape(question)}</p>"]
    head_md = [f"# {title}\n", f"**Question.** {question}\n"]
    if paragraphs:
        head_html.append(f"<p>{html.escape(paragraphs[0])}</p>")
        head_md += [p + "\n" for p in paragraphs]
        if paragraphs[1:]:
            head_html.append("<details><summary>About these numbers</summary>"
                             + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[1:]) + "</details>")
    rule = ("Direction rule: error consistency, RSA and accuracy under distortion are more human-like when "
            "higher, accuracy difference to humans and errors (mCE, flip rate) when lower, shape bias when closer "
            "to the human value (0.96); see the glossary.")
    findings_body = (f"<p class='links'>{html.escape(rule)} Numbers: <a href='tables/findings.csv'>CSV</a> · "
                     f"<a href='tables/findings.tex'>LaTeX</a> · <a href='tables/findings.parquet'>Parquet</a></p>"
                     + markup.findings_html(display))
    body_html = [markup.details("findings", "Findings", findings_body)]
    body_md = ["## Findings\n", rule + "\n", to_markdown(display.drop(columns="finding"))
               if not display.empty else "_No contrast rows are stored._\n",
               *(f"- {s}" for s in display.get("finding", [])), ""]
    appendix_html: list[str] = []
    shown_metrics: list[str] = []
    for number, key in enumerate(keys, start=1):
        section = SECTIONS[key]
        rows = all_rows[all_rows["benchmark"].isin(section.benchmarks)].dropna(axis=1, how="all")
        for column in _CORE:  # renderers may rely on the core columns even when a section leaves them empty
            if column not in rows:
                rows[column] = pd.Series(index=rows.index, dtype=object if column in ("layer", "condition") else float)
        shown_metrics += list(rows["metric"].dropna().astype(str)) if "metric" in rows else []
        fig_html, fig_md, tab_html, tab_md = _render_section(section, rows, out, artifacts, checks, number)
        body_html.append(markup.details(section.key, section.title, fig_html))
        body_md.append(f"## {section.title}\n\n{fig_md}\n{tab_md}")
        if tab_html:
            appendix_html.append(f"<h3 id='tab-{section.key}'>{html.escape(section.title)}</h3>{tab_html}")
    glossary = glossary_table(shown_metrics + list(findings.get("metric", [])))
    _exports(glossary, out, "glossary", "Glossary of metrics")
    body_html.append(markup.details("appendix", "Appendix: tables", "".join(appendix_html)
                                    or "<p class='empty'>No tables.</p>", open_=False))
    body_html.append(markup.details("glossary", "Glossary", markup.table_html(
        glossary, "Every metric shown, its definition, which direction is more human-like, and its source",
        [("CSV", "tables/glossary.csv"), ("LaTeX", "tables/glossary.tex"), ("Parquet", "tables/glossary.parquet")])))
    body_html.append(markup.details("provenance", "Provenance", _provenance_html(all_rows, results, artifacts)))
    body_md += ["## Glossary\n", to_markdown(glossary), "## Provenance\n", _provenance_md(all_rows, results)]
    contents = [("findings", "Findings")] + [(k, SECTIONS[k].title) for k in keys] + [
        ("appendix", "Appendix"), ("glossary", "Glossary"), ("provenance", "Provenance")]
    page = markup.page(title, [*head_html, markup.toc(contents), *body_html])
    html_path, md_path = out / "index.html", out / "report.md"
    html_path.write_text(page, encoding="utf-8")
    md_path.write_text("\n".join([*head_md, *body_md]), encoding="utf-8")
    checks_path = out / "figure_checks.json"
    checks_path.write_text(json.dumps(checks, indent=1))
    logger.info("report written to %s", html_path)
    return {"html": html_path, "markdown": md_path, "findings": out / "tables" / "findings.csv",
            "checks": checks_path}


def _exports(table: pd.DataFrame, out: Path, stem: str, caption: str, csv: bool = True) -> list[tuple[str, str]]:
    """Write ``tables/<stem>.csv/.tex/.parquet`` (CSV unless ``csv`` is False); return (label, href) links."""
    if csv:
        table.to_csv(out / "tables" / f"{stem}.csv", index=False)
    (out / "tables" / f"{stem}.tex").write_text(to_latex(table, caption=caption, label=f"tab:{stem}"))
    table.astype(str).to_parquet(out / "tables" / f"{stem}.parquet", index=False)
    return [("CSV", f"tables/{stem}.csv"), ("LaTeX", f"tables/{stem}.tex"), ("Parquet", f"tables/{stem}.parquet")]


def _versions(rows: pd.DataFrame, column: str) -> str:
    """Comma-joined distinct values of a provenance column ("none" when empty)."""
    if column not in rows:
        return "none"
    return ", ".join(sorted(rows[column].dropna().astype(str).unique())) or "none"


def _provenance_html(rows: pd.DataFrame, store: ResultsStore, artifacts: Path) -> str:
    items = [("results store", f"{store.path} ({len(rows)} metric rows)"),
             ("git revisions", _versions(rows, "git_revision")), ("package versions", _versions(rows, "package_version")),
             ("config hashes", _versions(rows, "config_hash")), ("experiment outputs searched", str(artifacts))]
    return "<ul class='prov'>" + "".join(f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>"
                                         for k, v in items) + "</ul>"


def _provenance_md(rows: pd.DataFrame, store: ResultsStore) -> str:
    return (f"Source: `{store.path}` ({len(rows)} metric rows); git revisions: {_versions(rows, 'git_revision')}; "
            f"package versions: {_versions(rows, 'package_version')}; config hashes: "
            f"{_versions(rows, 'config_hash')}.\n")


def _render_section(section: Section, rows: pd.DataFrame, out: Path, artifacts: Path,
                    checks: dict[str, list[str]], number: int = 1) -> tuple[str, str, str, str]:
    """(figures HTML, figures Markdown, tables HTML, tables Markdown) of one section (figures ``number.k``)."""
    h, m, th, tm = [], [], [], []
    if section.description:
        h.append(f"<p>{html.escape(section.description)}</p>")
        m.append(section.description + "\n")
    if rows.empty:
        note = f"No rows for this section (benchmarks: {', '.join(section.benchmarks)})."
        h.append(f"<p class='empty'>{html.escape(note)}</p>")
        m.append(f"_{note}_\n")
        return "".join(h), "\n".join(m), "", ""
    made = section.figures(rows, artifacts) if section.uses_artifacts else section.figures(rows)
    for k, (caption, fig) in enumerate(made):
        stem = f"{section.key}_{k:02d}_{_slug(caption)}"
        if isinstance(fig, Path):  # drawn by an experiment: copied in, so the report folder stands alone
            png = out / "figures" / f"{stem}.png"
            shutil.copyfile(fig, png)
            links = [("PNG", f"figures/{png.name}")]
        else:
            pdf, png = save_figure(fig, out / "figures" / stem)
            plt.close(fig)
            checks[png.name] = FIGURE_PROBLEMS.get(str(out / "figures" / stem), [])
            links = [("PDF", f"figures/{pdf.name}"), ("PNG", f"figures/{png.name}")]
        h.append(markup.figure_html(png, f"Figure {number}.{k + 1}. {caption}", links))
        m.append(f"![{caption}](figures/{png.name})\n\n*Figure {number}.{k + 1}.* {caption}\n")
    for k, (caption, table) in enumerate(section.tables(rows)):
        stem = f"{section.key}_{k:02d}_{_slug(caption)}"
        links = _exports(table, out, stem, f"{section.title}: {caption}")
        th.append(markup.table_html(table, caption, links))
        tm.append(f"### {section.title}: {caption}\n\n{to_markdown(table)}\n"
                  + " · ".join(f"[{t}]({href})" for t, href in links) + "\n")
    return "".join(h), "\n".join(m), "".join(th), "\n".join(tm)
