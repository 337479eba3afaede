"""Figures the report draws itself (the explanation figures come from the explain stage)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from interp.core.published import citation, published_accuracy
from interp.plots.static import FORMATS


def accuracy_bars(matrix: Mapping[str, Any], diagonal: bool) -> go.Figure:
    """Toolkit balanced accuracy (95 % CI error bars) beside the published value (also a
    balanced accuracy) per matrix cell.

    Args:
        matrix: ``matrix.json`` content.
        diagonal: Within-chamber cells (``True``) or cross-chamber cells.
    """
    labels, mine, lo, hi, pub = [], [], [], [], []
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        for t, ev in cell["evaluations"].items():
            if (t == c) != diagonal:
                continue
            m = ev["at_0.5"]["metrics"]["balanced_accuracy"]
            labels.append(f"{cell['model']}<br>{c}->{t}")
            v = 100 * (m["value"] or 0.0)
            mine.append(v)
            lo.append(v - 100 * m["lo"] if m.get("lo") is not None else 0.0)
            hi.append(100 * m["hi"] - v if m.get("hi") is not None else 0.0)
            p = published_accuracy(cell["model"], c, t)
            pub.append(None if p is None else 100 * p)
    fig = go.Figure(
        [
            go.Bar(name="published", x=labels, y=pub, marker_color="#999999"),
            go.Bar(
                name="toolkit (95 % CI)",
                x=labels,
                y=mine,
                error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                marker_color="#1f77b4",
            ),
        ]
    )
    kind = "within-chamber" if diagonal else "cross-chamber"
    fig.update_layout(
        title=f"Balanced accuracy, {kind} (published: {citation()})",
        barmode="group",
        yaxis={"title": "balanced accuracy (%)", "range": [50, 100]},
        template="plotly_white",
    )
    return fig


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
