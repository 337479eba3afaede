"""``REPORT.md``: every section's tables and figure links in Markdown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interp.report.sections import Section, Table


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown pipe table (header, separator, one line per row)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def table_md(table: Table) -> str:
    """A pipe table with its caption in bold above it."""
    return "\n".join([f"**{table.caption}**", "", *pipe_table(table.header, table.rows)])


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def section_md(sec: Section, out_dir: Path, level: int = 3) -> str:
    """One section: heading, text, tables, figures (PNG image if present, else a link)."""
    parts = [f"{'#' * level} {sec.title}", ""]
    if sec.text:
        parts += [sec.text, ""]
    for t in sec.tables:
        parts += [table_md(t), ""]
    for fig in sec.figures:
        png = fig.with_suffix(".png")
        if png.is_file():
            parts.append(f"[![{fig.stem}]({_rel(png, out_dir)})]({_rel(fig, out_dir)})")
        else:
            parts.append(f"- [{fig.stem}]({_rel(fig, out_dir)}) (interactive HTML)")
    if sec.figures:
        parts.append("")
    for m in sec.missing:
        parts += [f"> **Not produced:** {m}", ""]
    return "\n".join(parts)


def report_md(
    title: str,
    studies: Sequence[tuple[Any, list[Section]]],
    provenance_md: str,
    out_dir: Path,
    failures: Sequence[str] = (),
) -> str:
    """The whole ``REPORT.md``.

    Args:
        title: Top heading.
        studies: ``(study, sections)`` pairs; ``study`` has ``name``, ``title``,
            ``description``.
        provenance_md: Provenance section (Markdown).
        out_dir: Folder of ``REPORT.md`` (links are relative to it).
        failures: ``"<study>/<stage>: <reason>"`` of failed stages, named at the top.
    """
    parts = [f"# {title}", ""]
    if failures:
        parts += [f"> **FAILED STAGES ({len(failures)}):** this report is incomplete.", ">"]
        parts += [f"> - {f}" for f in failures]
        parts += [""]
    parts += ["Contents:", ""]
    parts += [f"- [{s.title}](#{s.name})" for s, _ in studies]
    parts += ["- [Provenance](#provenance)", ""]
    for study, sections in studies:
        parts += [f'<a id="{study.name}"></a>', "", f"## {study.title}", ""]
        if study.description:
            parts += [study.description, ""]
        parts += [section_md(sec, out_dir) for sec in sections]
    parts += ['<a id="provenance"></a>', "", provenance_md]
    return "\n".join(parts) + "\n"
