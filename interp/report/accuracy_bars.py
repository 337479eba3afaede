"""The report's own accuracy figure: toolkit balanced accuracy with its 95 % interval beside
the published figure, per model and (train, test) chamber pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from interp.core.published import citation, published_accuracy


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
