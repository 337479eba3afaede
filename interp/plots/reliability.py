"""Reliability diagram: observed signal fraction against mean predicted P(signal) per bin.

One curve per probability version (raw, Platt, isotonic; :mod:`interp.evaluation.calibration`),
each point at the mean predicted P(signal) of its bin with the observed signal fraction and
its Clopper-Pearson interval (68.3 % CL, as the physics breakdowns); the diagonal is perfect
calibration. The lower panel shows the clusters per bin (bars spanning their bins). The legend
gives each version's expected calibration error (ECE) and Brier score on the same clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.evaluation.calibration import (
    DEFAULT_BINS,
    brier_score,
    expected_calibration_error,
    reliability_bins,
)
from interp.plots.physics import CL, clopper_pearson

COLORS: dict[str, str] = {"raw": "#7f7f7f", "platt": "#1f77b4", "isotonic": "#d62728"}
"""Curve colours by probability version (others cycle through hues)."""


def reliability_data(
    scores: np.ndarray, labels: np.ndarray, n_bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """What the diagram draws for one probability version.

    Args:
        scores: float [N] P(signal) in [0, 1].
        labels: int [N] 0 noise / 1 signal.
        n_bins: Equal-width bins on [0, 1].

    Returns:
        :func:`~interp.evaluation.calibration.reliability_bins` (``edges`` [n_bins + 1],
        ``n``, ``k``, ``mean_p``, ``fraction`` [n_bins]) plus ``lo``/``hi`` [n_bins], the
        Clopper-Pearson interval of ``fraction`` (NaN in empty bins), and the scalars ``ece``
        and ``brier``.
    """
    b = reliability_bins(scores, labels, n_bins)
    lo, hi = clopper_pearson(b["k"], b["n"], CL)
    return {
        **b,
        "lo": lo,
        "hi": hi,
        "ece": expected_calibration_error(scores, labels, n_bins),
        "brier": brier_score(scores, labels),
    }


def legend_label(name: str, data: Mapping[str, Any]) -> str:
    """``"platt: ECE 0.012, Brier 0.083"``."""
    return f"{name}: ECE {data['ece']:.3f}, Brier {data['brier']:.3f}"


def reliability_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    title: str = "Reliability",
    n_bins: int = DEFAULT_BINS,
) -> tuple[go.Figure, dict[str, dict[str, Any]]]:
    """Reliability diagram (top) and clusters per bin (bottom) of several probability versions.

    Args:
        curves: Version name (``raw``, ``platt``, ``isotonic``) -> (P(signal) [N], labels [N]).
        title: Figure title.
        n_bins: Equal-width bins on [0, 1].

    Returns:
        ``(figure, data)``: ``data[name]`` is :func:`reliability_data`. The figure has the
        diagonal, then per version a marker trace (x ``mean_p``, y ``fraction`` of non-empty
        bins, asymmetric ``error_y`` to ``lo``/``hi``) in the top panel and a bar trace
        (x bin centres, y ``n``, width the bin width) in the bottom panel.
    """
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.72, 0.28],
        vertical_spacing=0.06,
    )
    fig.add_trace(
        go.Scatter(
            x=[0.0, 1.0],
            y=[0.0, 1.0],
            mode="lines",
            line={"color": "black", "dash": "dash", "width": 1},
            name="perfect calibration",
        ),
        row=1,
        col=1,
    )
    out: dict[str, dict[str, Any]] = {}
    for i, (name, (p, y)) in enumerate(curves.items()):
        d = reliability_data(p, y, n_bins)
        out[name] = d
        color = COLORS.get(name, f"hsl({(i * 67) % 360},65%,45%)")
        ok = d["n"] > 0
        frac = d["fraction"][ok]
        fig.add_trace(
            go.Scatter(
                x=d["mean_p"][ok],
                y=frac,
                mode="markers",
                marker={"color": color, "size": 8},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": d["hi"][ok] - frac,
                    "arrayminus": frac - d["lo"][ok],
                    "visible": True,
                },
                text=[f"{int(n)} clusters" for n in d["n"][ok]],
                name=legend_label(name, d),
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
        e = d["edges"]
        fig.add_trace(
            go.Bar(
                x=0.5 * (e[1:] + e[:-1]),
                y=d["n"],
                width=e[1] - e[0],
                marker={"color": color, "line": {"color": color, "width": 1}},
                opacity=0.45,
                name=f"{name}: clusters per bin",
                legendgroup=name,
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    fig.update_layout(
        title=f"{title}<br><sup>points at the mean predicted P(signal) of each bin; "
        f"{CL:.1%} Clopper-Pearson intervals</sup>",
        barmode="overlay",
        template="plotly_white",
    )
    fig.update_yaxes(title_text="observed signal fraction", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="clusters per bin", type="log", row=2, col=1)
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="predicted P(signal)", row=2, col=1)
    return fig, out


def reliability_caption(entry: Mapping[str, Any]) -> str:
    """Report caption of a ``reliability_<model>_<chamber>`` figure from its
    ``explain_summary.json`` entry (``{"model", "chamber", "signal_fraction", "n_val",
    "test": {"raw" | "platt" | "isotonic": {"ece", "brier"}}}``)."""
    t = entry["test"]
    parts = ", ".join(f"{m} {t[m]['ece']:.3f} ({t[m]['brier']:.3f})" for m in t)
    return (
        f"Reliability of p_signal, {entry['model']} trained on {entry['chamber']} (test split): "
        "observed signal fraction against predicted probability, raw and calibrated on the "
        f"validation split (signal fraction {100 * entry['signal_fraction']:.1f} % of "
        f"{entry['n_val']} clusters). Points on the diagonal are calibrated; read off how far "
        f"the raw score sits from it. ECE (Brier): {parts}."
    )
