"""Physics breakdowns: signal lost vs truth variables, noise removed per noise kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.explain.breakdown import VARIABLES


def signal_lost_figure(
    breakdowns: Mapping[str, Mapping[str, Any]], title: str = "Signal lost vs truth"
) -> go.Figure:
    """One panel per truth variable, one line (with errors) per curve.

    Args:
        breakdowns: Curve name (e.g. model) -> ``physics_breakdown(...)["signal_lost"]``.
        title: Figure title.
    """
    variables = [v for v in VARIABLES if any(v in b for b in breakdowns.values())]
    fig = make_subplots(
        rows=1, cols=max(len(variables), 1), subplot_titles=[VARIABLES[v][0] for v in variables]
    )
    for i, (name, b) in enumerate(breakdowns.items()):
        color = f"hsl({(i * 67) % 360},65%,45%)"
        for j, v in enumerate(variables, start=1):
            if v not in b:
                continue
            r = b[v]
            fig.add_trace(
                go.Scatter(
                    x=r["centres"],
                    y=r["rate"],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=(j == 1),
                    line={"color": color},
                    error_y={"type": "data", "array": r["error"], "visible": True},
                    customdata=r["n"],
                    hovertemplate="%{x:.3g}: %{y:.3f} (n=%{customdata})",
                ),
                row=1,
                col=j,
            )
            fig.update_xaxes(title_text=f"{r['label']} ({r['unit']})", row=1, col=j)
    fig.update_yaxes(title_text="signal lost", rangemode="tozero", col=1)
    fig.update_layout(title=title)
    return fig


def noise_removed_figure(
    by_kind: Mapping[str, Mapping[str, Mapping[str, float]]],
    title: str = "Noise removed per noise kind",
) -> go.Figure:
    """Grouped bars: x = noise kind, one bar series per curve, with binomial errors.

    Args:
        by_kind: Curve name -> ``physics_breakdown(...)["noise_removed"]``.
    """
    fig = go.Figure()
    for name, kinds in by_kind.items():
        if not kinds:
            continue
        ks = list(kinds)
        fig.add_trace(
            go.Bar(
                x=ks,
                y=[kinds[k]["rate"] for k in ks],
                name=name,
                error_y={"type": "data", "array": [kinds[k]["error"] for k in ks]},
                customdata=[kinds[k]["n"] for k in ks],
                hovertemplate="%{x}: %{y:.3f} (n=%{customdata})",
            )
        )
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis_title="noise removed",
        yaxis_range=[0, 1.05],
        xaxis_title="simulator noise kind",
    )
    return fig
