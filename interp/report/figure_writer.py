"""Writing the report's figures (HTML, optionally PNG/PDF) once: a figure newer than the JSON it
is drawn from is kept."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go

from interp.plots.static import FORMATS


def _fresh(folder: Path, name: str, png: bool, source: Path | None) -> bool:
    html = folder / f"{name}.html"
    if source is None or not html.is_file() or html.stat().st_mtime < source.stat().st_mtime:
        return False
    return not png or all(html.with_suffix(f".{f}").is_file() for f in FORMATS)


def write_figures(
    figs: Mapping[str, go.Figure], folder: Path, png: bool, source: Path | None = None
) -> list[Path]:
    """Writes figures with :class:`~interp.plots.output.FigureWriter`; returns HTML paths.

    Figures newer than ``source`` (the JSON they are drawn from) that have their static
    images are kept as they are; a figure missing its PNG or PDF is written again.
    """
    from interp.plots.output import FigureWriter

    todo = {n: f for n, f in figs.items() if not _fresh(folder, n, png, source)}
    if todo:
        with FigureWriter(folder, png=png) as w:
            for name, fig in todo.items():
                w.write(fig, name, width=1100, height=550)
    elif figs:  # kept figures still need an intact shared plotly.js beside them
        FigureWriter(folder, png=False).ensure_plotly_js()
    return [folder / f"{n}.html" for n in figs]
