"""Transfer-learning figure: the new chamber's balanced accuracy versus its labelled clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

_CURVE_STYLE = {
    "all": ("#1f77b4", "solid", "fine-tuned, all layers"),
    "last": ("#ff7f0e", "dash", "fine-tuned, output layer"),
    "scratch": ("#2ca02c", "dot", "trained from scratch"),
}
_BANDS = {
    "in_domain": ("rgba(148, 103, 189, 0.18)", "#9467bd", "in-domain model"),
    "unchanged": ("rgba(127, 127, 127, 0.18)", "#7f7f7f", "source model unchanged"),
}


def finetune_figure(pairs: Sequence[Mapping[str, Any]], source: str, target: str) -> go.Figure:
    """One panel per model: the target's test balanced accuracy (%) versus the labelled target
    clusters ``n`` (log axis), 95 % intervals as error bars, for fine-tuning every layer, the
    output layer only and training from scratch; horizontal bands (95 % interval, line at the
    value) for the source model unchanged and for the target's in-domain model.

    Args:
        pairs: Entries of ``finetune.json`` (:func:`interp.study.finetune_stage.run_finetune`)
            of one direction ``source -> target``, one per model.
    """
    fig = make_subplots(
        rows=1, cols=max(len(pairs), 1), subplot_titles=[p["model"] for p in pairs],
        horizontal_spacing=0.06,
    )  # fmt: skip
    for col, p in enumerate(pairs, start=1):
        for kind, (colour, dash, label) in _CURVE_STYLE.items():
            rows = [r for r in p["curves"].get(kind, []) if r.get("available")]
            ba = [r["balanced_accuracy"] for r in rows]
            y = [100 * m["value"] for m in ba]
            hi = [100 * (m["hi"] - m["value"]) if m.get("hi") is not None else 0 for m in ba]
            lo = [100 * (m["value"] - m["lo"]) if m.get("lo") is not None else 0 for m in ba]
            fig.add_trace(
                go.Scatter(
                    x=[r["n"] for r in rows], y=y, mode="lines+markers", name=label,
                    line={"color": colour, "dash": dash}, legendgroup=kind, showlegend=col == 1,
                    error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                ),
                row=1, col=col,
            )  # fmt: skip
        ns = [r["n"] for kind in _CURVE_STYLE for r in p["curves"].get(kind, [])]
        x0, x1 = (min(ns), max(ns)) if ns else (1, 10)
        for key, (fill, line, label) in _BANDS.items():
            m = p[key]["balanced_accuracy"]
            if m.get("value") is None:
                continue
            if m.get("lo") is not None:  # traces, not layout shapes: the static export draws them
                lo, hi = 100 * m["lo"], 100 * m["hi"]
                fig.add_trace(
                    go.Scatter(
                        x=[x0, x1, x1, x0], y=[lo, lo, hi, hi], fill="toself", fillcolor=fill,
                        line={"width": 0}, mode="lines", hoverinfo="skip", showlegend=False,
                        legendgroup=key,
                    ),
                    row=1, col=col,
                )  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=[x0, x1], y=[100 * m["value"]] * 2, mode="lines", name=label,
                    line={"color": line, "dash": "dashdot", "width": 1.5}, legendgroup=key,
                    showlegend=col == 1,
                ),
                row=1, col=col,
            )  # fmt: skip
        fig.update_xaxes(type="log", title_text=f"labelled {target} clusters", row=1, col=col)
    fig.update_yaxes(title_text=f"{target} test balanced accuracy (%)", row=1, col=1)
    fig.update_layout(
        title=f"Transfer {source} -> {target}: fine-tuning on n labelled {target} clusters "
        "(95 % intervals over test events)",
        template="plotly_white",
    )
    return fig
