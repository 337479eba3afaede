"""Static images drawn by background worker processes (the explain stage's FigureWriter)."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest

from interp.plots.output import FigureWriter
from tests.test_figures_static import figures


@pytest.mark.slow  # ~15 s on 2 loaded cores: 13 figure kinds drawn twice
def test_worker_images_are_the_inline_images(tmp_path: Path) -> None:
    """Every figure kind drawn by a worker (from its ``to_dict()``) is byte-identical to the
    inline drawing; a figure the renderer cannot draw keeps its HTML and names itself."""
    figs = figures()
    bad = go.Figure(go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1]}))
    inline, pooled = tmp_path / "inline", tmp_path / "pooled"
    # PNG only, small: the drawing code is the same for PDF, and the test stays short
    with FigureWriter(inline, scale=0.5, formats=("png",)) as w:
        for kind, fig in figs.items():
            w.write(fig, kind, 500, 350)
    with FigureWriter(pooled, scale=0.5, formats=("png",), workers=2) as wp:
        for kind, fig in figs.items():
            wp.write(fig, kind, 500, 350)
        wp.write(bad, "sankey")
        wp.finish()
        names = sorted(p.name for p in wp.written)
    assert names == sorted([p.name for p in w.written] + ["sankey.html"])
    for kind in figs:
        assert (pooled / f"{kind}.png").read_bytes() == (inline / f"{kind}.png").read_bytes(), kind
    assert not (pooled / "sankey.png").exists()
    assert "sankey" in (wp.png_skipped_reason or "")
    assert w.png_skipped_reason is None
