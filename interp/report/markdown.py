"""``REPORT.md``: the summary with its key figures inline, every section's tables, and every
figure in a compact list at the end."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interp.core.formatting import pipe_table
from interp.report.sections import Section, Table, figure_index
from interp.report.summary import Summary


def table_md(table: Table) -> str:
    """A pipe table with its caption in bold above it."""
    return "\n".join([f"**{table.caption}**", "", *pipe_table(table.header, table.rows)])


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def section_md(sec: Section, out_dir: Path, level: int = 3) -> str:
    """One section: anchor, heading, text, tables, and a pointer to its figures (listed under
    "All figures"; the key ones are inline in the summary)."""
    parts = [f'<a id="{sec.anchor}"></a>', ""] if sec.anchor else []
    parts += [f"{'#' * level} {sec.title}", ""]
    if sec.text:
        parts += [sec.text, ""]
    for t in sec.tables:
        parts += [table_md(t), ""]
    if sec.figures:
        parts += [f"Figures: {len(sec.figures)}, listed under [All figures](#all-figures).", ""]
    for m in sec.missing:
        parts += [f"> **Not produced:** {m}", ""]
    return "\n".join(parts)


def figure_md(path: Path, caption: str, number: int, out_dir: Path) -> str:
    """An inline figure: the PNG (linked to the interactive HTML) and its caption below;
    a plain link where no PNG exists."""
    html_ref = _rel(path, out_dir)
    png = path.with_suffix(".png")
    cap = f"*Figure {number}.* {caption} ([interactive]({html_ref}))"
    if png.is_file():
        return f"[![{path.stem}]({_rel(png, out_dir)})]({html_ref})\n\n{cap}"
    return f"[{path.stem}]({html_ref}) (no static image)\n\n{cap}"


def summary_md(summary: Summary, out_dir: Path) -> str:
    """The summary section: missing stages first, headline table, findings, key figures."""
    parts = ['<a id="summary"></a>', "", "## Summary", ""]
    for m in summary.missing:
        parts += [f"> **Missing:** {m}", ""]
    if summary.headline is not None:
        parts += [table_md(summary.headline), ""]
    if summary.findings:
        parts += ["**Findings**", ""]
        parts += [
            f"{i}. {f.text}" + (f" ([evidence](#{f.anchor}))" if f.anchor else "")
            for i, f in enumerate(summary.findings, 1)
        ]
        parts.append("")
    n = 0
    for question, figs in summary.groups:
        parts += [f"### {question}", ""]
        for kf in figs:
            n += 1
            parts += [figure_md(kf.path, kf.caption, n, out_dir), ""]
    return "\n".join(parts)


def all_figures_md(studies: Sequence[tuple[Any, list[Section]]], out_dir: Path) -> str:
    """Every figure of every section as a compact list of links (HTML, PNG where present)."""
    parts = ['<a id="all-figures"></a>', "", "## All figures", ""]
    for title, figs in figure_index(studies):
        links = [
            f"[{f.stem}]({_rel(f, out_dir)})" + (f" ([png]({_rel(png, out_dir)}))" if png else "")
            for f, png in figs
        ]
        parts += [f"- **{title}:** " + " · ".join(links)]
    return "\n".join([*parts, ""])


def report_md(
    title: str,
    studies: Sequence[tuple[Any, list[Section]]],
    provenance_md: str,
    out_dir: Path,
    failures: Sequence[str] = (),
    summary: Summary | None = None,
) -> str:
    """The whole ``REPORT.md``: failed stages, summary, sections, all figures, provenance.

    Args:
        title: Top heading.
        studies: ``(study, sections)`` pairs; ``study`` has ``name``, ``title``,
            ``description``.
        provenance_md: Provenance section (Markdown).
        out_dir: Folder of ``REPORT.md`` (links are relative to it).
        failures: ``"<study>/<stage>: <reason>"`` of failed stages, named at the top.
        summary: The first section (:func:`interp.report.summary.build_summary`).
    """
    parts = [f"# {title}", ""]
    if failures:
        parts += [f"> **FAILED STAGES ({len(failures)}):** this report is incomplete.", ">"]
        parts += [f"> - {f}" for f in failures]
        parts += [""]
    parts += ["Contents:", ""]
    parts += ["- [Summary](#summary)"] if summary is not None else []
    parts += [f"- [{s.title}](#{s.name})" for s, _ in studies]
    parts += ["- [All figures](#all-figures)", "- [Provenance](#provenance)", ""]
    if summary is not None:
        parts += [summary_md(summary, out_dir)]
    for study, sections in studies:
        parts += [f'<a id="{study.name}"></a>', "", f"## {study.title}", ""]
        if study.description:
            parts += [study.description, ""]
        parts += [section_md(sec, out_dir) for sec in sections]
    parts += [all_figures_md(studies, out_dir)]
    parts += ['<a id="provenance"></a>', "", provenance_md]
    return "\n".join(parts) + "\n"
