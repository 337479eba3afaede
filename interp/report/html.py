"""``index.html``: the report as one offline page (tables inline, figures linked/embedded).

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

from interp.report.sections import Section, Table

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:90%}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f2f2f2} caption{font-weight:bold;text-align:left;padding:4px 0}
.missing{background:#fff3cd;border-left:4px solid #e0a800;padding:6px 10px;margin:6px 0}
iframe{width:100%;height:560px;border:1px solid #ddd} img{max-width:100%}
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
    """Escapes text and turns `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def section_html(sec: Section, out_dir: Path, max_embed: int = 4) -> str:
    """One section; the first ``max_embed`` figures are embedded, the rest linked."""
    parts = [f"<h3>{html.escape(sec.title)}</h3>"]
    if sec.text:
        parts.append(f"<p>{_inline_md(sec.text)}</p>")
    parts += [table_html(t) for t in sec.tables]
    links = []
    for i, fig in enumerate(sec.figures):
        href = html.escape(_rel(fig, out_dir))
        png = fig.with_suffix(".png")
        if i >= max_embed:
            links.append(f'<li><a href="{href}">{html.escape(fig.stem)}</a></li>')
        elif png.is_file():
            src = html.escape(_rel(png, out_dir))
            parts.append(f'<p><a href="{href}"><img src="{src}" alt="{fig.stem}"></a></p>')
        else:
            parts.append(f'<p><a href="{href}">{fig.stem}</a></p><iframe src="{href}"></iframe>')
    if links:
        parts.append(f"<details><summary>{len(links)} more figures</summary><ul>")
        parts += links
        parts.append("</ul></details>")
    parts += [
        f'<div class="missing"><b>Not produced:</b> {_inline_md(m)}</div>' for m in sec.missing
    ]
    return "\n".join(parts)


def report_html(
    title: str,
    studies: Sequence[tuple[Any, list[Section]]],
    provenance_md: str,
    out_dir: Path,
    failures: Sequence[str] = (),
) -> str:
    """The whole ``index.html`` (provenance shown as preformatted Markdown); failed stages
    are named at the top."""
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
        f"<ul>{toc}<li><a href='#provenance'>Provenance</a></li></ul>",
    ]
    for study, sections in studies:
        body.append(f'<h2 id="{html.escape(study.name)}">{html.escape(study.title)}</h2>')
        if study.description:
            body.append(f"<p>{_inline_md(study.description)}</p>")
        body += [section_html(sec, out_dir) for sec in sections]
    body.append('<h2 id="provenance">Provenance</h2>')
    body.append(f"<pre>{html.escape(provenance_md)}</pre>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
