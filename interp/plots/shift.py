"""Domain-shift figures: feature distributions of two chambers, recalibration curves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_COLOURS = {"train": "#1f77b4", "test": "#d62728"}
_DASH = {"signal": "solid", "noise": "dot"}
_MODEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def shift_figure(shift: Mapping[str, Any]) -> go.Figure:
    """Per-feature densities of the training and the test chamber, signal and noise.

    Args:
        shift: One :func:`interp.evaluation.shift.feature_shift` result (its ``histograms``).
    """
    names = list(shift["histograms"])
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    titles = []
    for n in names:
        f = shift["features"][n]
        ks = {c: v["ks"] for c, v in f["classes"].items()}
        titles.append(f"{f['label']}<br>KS signal {ks['signal']:.2f}, noise {ks['noise']:.2f}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.14)
    chambers = {"train": shift["train_chamber"], "test": shift["test_chamber"]}
    for i, name in enumerate(names):
        h = shift["histograms"][name]
        edges = np.asarray(h["edges"])
        centres = 0.5 * (edges[1:] + edges[:-1])
        for cls in ("signal", "noise"):
            for side in ("train", "test"):
                fig.add_trace(
                    go.Scatter(
                        x=centres,
                        y=h[cls][side],
                        mode="lines",
                        line={"shape": "hvh", "color": _COLOURS[side], "dash": _DASH[cls]},
                        name=f"{chambers[side]} ({side}) {cls}",
                        legendgroup=f"{side}{cls}",
                        showlegend=i == 0,
                    ),
                    row=i // cols + 1,
                    col=i % cols + 1,
                )
    fig.update_layout(
        title=f"Feature shift {chambers['train']} (train split) -> {chambers['test']} "
        "(test split); densities",
        template="plotly_white",
    )
    return fig


def recalibration_figure(
    curves: Mapping[str, Mapping[str, Any]], train_chamber: str, test_chamber: str
) -> go.Figure:
    """|Difference| to the target's own operating point versus labelled target clusters.

    One line per model: median |delta noise removed| (solid) and |delta signal lost| (dashed)
    in points, with 16-84 % bands of the noise-removed difference; the carried-over threshold
    is drawn at n = 0 (as the left-most point) for reference.

    Args:
        curves: Model -> :func:`interp.evaluation.recalibration.recalibration_curve` result.
    """
    fig = go.Figure()
    for i, (model, c) in enumerate(curves.items()):
        colour = _MODEL_COLOURS[i % len(_MODEL_COLOURS)]
        rows = [r for r in c["sizes"] if r["available"] and r.get("repeats")]
        n = [r["n"] for r in rows]
        for key, dash, label in (
            ("abs_delta_noise_removed", "solid", "noise removed"),
            ("abs_delta_signal_lost", "dash", "signal lost"),
        ):
            med = [100 * r[key]["median"] for r in rows]
            lo = [100 * (r[key]["median"] - r[key]["lo"]) for r in rows]
            hi = [100 * (r[key]["hi"] - r[key]["median"]) for r in rows]
            fig.add_trace(
                go.Scatter(
                    x=n,
                    y=med,
                    mode="lines+markers",
                    line={"color": colour, "dash": dash},
                    error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                    name=f"{model}: |delta {label}|",
                )
            )
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="1 point")
    fig.update_layout(
        title=f"Few-shot recalibration {train_chamber} -> {test_chamber}: difference to the "
        "target's own operating point (median, 16-84 %)",
        xaxis={"title": f"labelled {test_chamber} clusters", "type": "log"},
        yaxis={"title": "|difference| on the target test split (points)", "rangemode": "tozero"},
        template="plotly_white",
    )
    return fig
