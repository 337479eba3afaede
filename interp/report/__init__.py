"""The study report: ``REPORT.md`` and ``index.html`` with every table and figure.

:func:`build_report` reads only finished stage folders (JSON and figure files): re-rendering
a report never trains or evaluates anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from interp.core.fsutil import atomic_write_text
from interp.report import (  # noqa: F401  (register more sections)
    data_study,
    finetune,
    generalisation,
    sanity_section,
    shift,
    speed,
    techniques,
    tracking,
    weights,
)
from interp.report.html import report_html
from interp.report.markdown import report_md
from interp.report.provenance import collect, provenance_md
from interp.report.sections import SECTIONS, Section, SectionInput
from interp.report.summary import build_summary


def study_sections(
    study: Any, results: Mapping[str, Any], figure_dir: Path, png: bool
) -> list[Section]:
    """Renders a study's sections from its stage results (``kind -> StageResult``)."""
    bad = ("missing", "failed")
    done = {k: r.folder for k, r in results.items() if r.status not in bad}
    missing = {k: r.reason or "not run" for k, r in results.items() if r.status in bad}
    inp = SectionInput(study.name, done, missing, figure_dir, png)
    out = []
    for name in study.sections:
        fn = SECTIONS.get(name)
        if fn is None:
            out.append(Section(name, missing=[f"unknown report section {name!r}"]))
        else:
            out.append(fn(inp))
        out[-1].anchor = f"{study.name}-{name}"
    return out


def section_anchors(studies: Sequence[tuple[Any, list[Section]]]) -> dict[str, str]:
    """Section name -> anchor of its first rendering that has tables or figures."""
    anchors: dict[str, str] = {}
    for study, sections in studies:
        for name, sec in zip(study.sections, sections, strict=True):
            if (sec.tables or sec.figures) and name not in anchors:
                anchors[name] = sec.anchor
    return anchors


def build_report(
    runs: Sequence[tuple[Any, Mapping[str, Any]]],
    out_dir: Path,
    profile: str,
    command: str,
    wall_seconds: float,
    png: bool = False,
) -> dict[str, Path]:
    """Writes ``REPORT.md``, ``index.html`` and ``provenance.json`` into ``out_dir``.

    Args:
        runs: ``(study, {kind: StageResult})`` per study.
        out_dir: Report folder (created); the report's own figures go to ``out_dir/figures``.
        profile: Profile name.
        command: Command line for the provenance.
        wall_seconds: Wall time of this invocation.
        png: Also write PNG twins of the report's own figures.

    Returns:
        ``{"markdown", "html", "provenance"}`` paths. Failed stages (status ``failed``) are
        named at the top of both report files, then comes the summary
        (:mod:`interp.report.summary`: headline table, findings, key figures by question);
        every figure is listed under "All figures" at the end.
    """
    from interp.study.experiments import failed_stages

    out_dir.mkdir(parents=True, exist_ok=True)
    failures = failed_stages(runs)
    studies = [(s, study_sections(s, res, out_dir / "figures", png)) for s, res in runs]
    figures = [f for _, secs in studies for sec in secs for f in sec.figures]
    summary = build_summary(runs, section_anchors(studies), figures)
    stages = {
        f"{s.name}/{k}": {
            "folder": str(r.folder) if r.status not in ("missing", "failed") else "",
            "status": r.status,
            "seconds": r.seconds,
            "config": r.config,
            "reason": r.reason,
        }
        for s, res in runs
        for k, r in res.items()
    }
    prov = collect(command, profile, stages, wall_seconds)
    prov_md = provenance_md(prov)
    title = f"tpc-interp study report ({profile} profile)"
    paths = {
        "markdown": out_dir / "REPORT.md",
        "html": out_dir / "index.html",
        "provenance": out_dir / "provenance.json",
    }
    atomic_write_text(
        paths["markdown"], report_md(title, studies, prov_md, out_dir, failures, summary)
    )
    atomic_write_text(
        paths["html"], report_html(title, studies, prov_md, out_dir, failures, summary)
    )
    atomic_write_text(paths["provenance"], json.dumps(prov, indent=1, default=str))
    return paths


__all__ = ["build_report", "section_anchors", "study_sections"]
