"""``index.html``: the report as one offline page (summary with key figures inline, tables,
every figure linked at the end).

Figures are the toolkit's own offline HTML files (each folder has its plotly.js), so the
page works from a file system without a network. A PNG twin is shown inline where it exists;
otherwise the interactive figure is embedded in an ``<iframe>``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interp.report.sections import Section, Table, figure_index
from interp.report.summary import Summary

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:90%}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f2f2f2} caption{font-weight:bold;text-align:left;padding:4px 0}
.missing{background:#fff3cd;border-left:4px solid #e0a800;padding:6px 10px;margin:6px 0}
iframe{width:100%;height:560px;border:1px solid #ddd} img{max-width:100%}
figure{margin:1em 0 2em} figcaption{font-size:92%;color:#333;margin-top:4px}
.allfig li{margin:2px 0;font-size:90%}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:85%}
"""


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def table_html(t: Table) -> str:
    """An HTML table (escaped)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return (
        f"<table><caption>{html.escape(t.caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _inline_md(text: str) -> str:
    """Escapes text and turns `code` spans into <code> and **bold** into <b>."""
    parts = html.escape(text).split("`")
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(f"<code>{p}</code>")
        else:
            bits = p.split("**")
            out.append("".join(f"<b>{b}</b>" if j % 2 else b for j, b in enumerate(bits)))
    return "".join(out)


def section_html(sec: Section, out_dir: Path) -> str:
    """One section: text, tables and a pointer to its figures under "All figures"."""
    anchor = f' id="{html.escape(sec.anchor)}"' if sec.anchor else ""
    parts = [f"<h3{anchor}>{html.escape(sec.title)}</h3>"]
    if sec.text:
        parts.append(f"<p>{_inline_md(sec.text)}</p>")
    parts += [table_html(t) for t in sec.tables]
    if sec.figures:
        parts.append(
            f"<p>Figures: {len(sec.figures)}, listed under "
            "<a href='#all-figures'>All figures</a>.</p>"
        )
    parts += [
        f'<div class="missing"><b>Not produced:</b> {_inline_md(m)}</div>' for m in sec.missing
    ]
    return "\n".join(parts)


def figure_html(path: Path, caption: str, number: int, out_dir: Path) -> str:
    """An inline figure: ``<img>`` of the PNG linked to the interactive HTML (an ``<iframe>``
    where no PNG exists) with its caption."""
    href = html.escape(_rel(path, out_dir))
    png = path.with_suffix(".png")
    if png.is_file():
        src = html.escape(_rel(png, out_dir))
        body = f'<a href="{href}"><img src="{src}" alt="{html.escape(path.stem)}"></a>'
    else:
        body = f'<iframe src="{href}"></iframe>'
    return (
        f"<figure>{body}<figcaption><b>Figure {number}.</b> {_inline_md(caption)} "
        f'(<a href="{href}">interactive</a>)</figcaption></figure>'
    )


def summary_html(summary: Summary, out_dir: Path) -> str:
    """The summary section: missing stages first, headline table, findings, key figures."""
    parts = ['<h2 id="summary">Summary</h2>']
    parts += [
        f'<div class="missing"><b>Missing:</b> {_inline_md(m)}</div>' for m in summary.missing
    ]
    if summary.headline is not None:
        parts.append(table_html(summary.headline))
    if summary.findings:
        items = "".join(
            f"<li>{_inline_md(f.text)}"
            + (f' (<a href="#{html.escape(f.anchor)}">evidence</a>)' if f.anchor else "")
            + "</li>"
            for f in summary.findings
        )
        parts.append(f"<p><b>Findings</b></p><ol>{items}</ol>")
    n = 0
    for question, figs in summary.groups:
        parts.append(f"<h3>{html.escape(question)}</h3>")
        for kf in figs:
            n += 1
            parts.append(figure_html(kf.path, kf.caption, n, out_dir))
    return "\n".join(parts)


def all_figures_html(studies: Sequence[tuple[Any, list[Section]]], out_dir: Path) -> str:
    """Every figure of every section as a compact list of links (HTML, PNG where present)."""
    items = []
    for title, figs in figure_index(studies):
        links = []
        for f, png in figs:
            link = f'<a href="{html.escape(_rel(f, out_dir))}">{html.escape(f.stem)}</a>'
            if png is not None:
                link += f' (<a href="{html.escape(_rel(png, out_dir))}">png</a>)'
            links.append(link)
        items.append(f"<li><b>{html.escape(title)}:</b> " + " · ".join(links) + "</li>")
    return '<h2 id="all-figures">All figures</h2><ul class="allfig">' + "".join(items) + "</ul>"


def report_html(
    title: str,
    studies: Sequence[tuple[Any, list[Section]]],
    provenance_md: str,
    out_dir: Path,
    failures: Sequence[str] = (),
    summary: Summary | None = None,
) -> str:
    """The whole ``index.html`` (provenance shown as preformatted Markdown): failed stages
    at the top, then the summary, the sections, all figures and the provenance."""
    toc = "".join(
        f'<li><a href="#{html.escape(s.name)}">{html.escape(s.title)}</a></li>' for s, _ in studies
    )
    body = [
        f"<h1>{html.escape(title)}</h1>",
        *(
            [
                f"<div class='missing'><b>FAILED STAGES ({len(failures)}):</b> this report is "
                "incomplete.<ul>"
                + "".join(f"<li>{html.escape(f)}</li>" for f in failures)
                + "</ul></div>"
            ]
            if failures
            else []
        ),
        "<ul>"
        + ("<li><a href='#summary'>Summary</a></li>" if summary is not None else "")
        + f"{toc}<li><a href='#all-figures'>All figures</a></li>"
        "<li><a href='#provenance'>Provenance</a></li></ul>",
    ]
    if summary is not None:
        body.append(summary_html(summary, out_dir))
    for study, sections in studies:
        body.append(f'<h2 id="{html.escape(study.name)}">{html.escape(study.title)}</h2>')
        if study.description:
            body.append(f"<p>{_inline_md(study.description)}</p>")
        body += [section_html(sec, out_dir) for sec in sections]
    body.append(all_figures_html(studies, out_dir))
    body.append('<h2 id="provenance">Provenance</h2>')
    body.append(f"<pre>{html.escape(provenance_md)}</pre>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
