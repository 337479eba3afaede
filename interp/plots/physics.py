"""Physics breakdowns: signal lost vs truth variables, noise removed per noise kind.

Fractions carry Clopper-Pearson (exact binomial) intervals at 68.3 % CL (one standard
deviation): asymmetric, never outside [0, 1]. Binned points are markers near the bin median
(offset a little per curve) with the bin's extent as horizontal error bar, not joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from interp.explain.breakdown import VARIABLES

CL = 0.683
"""Content of the fraction intervals (one standard deviation)."""
DODGE = 0.08
"""Horizontal offset between curves in a bin, as a fraction of the bin width."""


def clopper_pearson(
    k: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray, cl: float = CL
) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial interval of ``k / n``.

    Args:
        k: Successes [B] (integers).
        n: Trials [B]; bins with ``n == 0`` give NaN.
        cl: Central interval content.

    Returns:
        ``(lo, hi)`` float arrays [B] within [0, 1] (``lo = 0`` when ``k = 0``, ``hi = 1``
        when ``k = n``).
    """
    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    a = 0.5 * (1.0 - cl)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a, k + 1, n - k), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _counts(r: Mapping[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(r["n"], np.float64)
    k = r.get(key)
    k = np.rint(np.asarray(r["rate"], np.float64) * n) if k is None else np.asarray(k, float)
    return k, n


def signal_lost_figure(
    breakdowns: Mapping[str, Mapping[str, Any]], title: str = "Signal lost vs truth"
) -> go.Figure:
    """One panel per truth variable, one marker series per curve (model).

    Args:
        breakdowns: Curve name (e.g. model) -> ``physics_breakdown(...)["signal_lost"]``
            (per variable ``edges``, ``centres``, ``n``, ``lost``, ``rate``).
        title: Figure title.

    Returns:
        Figure with one ``mode="markers"`` scatter per curve and variable; ``error_y`` is
        the Clopper-Pearson interval, ``error_x`` the bin extent.
    """
    variables = [v for v in VARIABLES if any(v in b for b in breakdowns.values())]
    fig = make_subplots(
        rows=1, cols=max(len(variables), 1), subplot_titles=[VARIABLES[v][0] for v in variables]
    )
    symbols = ("circle", "square", "diamond", "triangle-up", "x")
    for i, (name, b) in enumerate(breakdowns.items()):
        color = f"hsl({(i * 67) % 360},65%,45%)"
        for j, v in enumerate(variables, start=1):
            if v not in b:
                continue
            r = b[v]
            k, n = _counts(r, "lost")
            rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
            lo, hi = clopper_pearson(k, n)
            edges = np.asarray(r["edges"], np.float64)
            # curves side by side within each bin (a fraction of its width) so they do not hide
            # one another; the horizontal bar still spans the whole bin
            dodge = (i - 0.5 * (len(breakdowns) - 1)) * DODGE * np.diff(edges)
            x = np.clip(np.asarray(r["centres"], np.float64) + dodge, edges[:-1], edges[1:])
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=rate,
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=(j == 1),
                    marker={"color": color, "symbol": symbols[i % len(symbols)], "size": 8},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": hi - rate,
                        "arrayminus": rate - lo,
                        "visible": True,
                    },
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": edges[1:] - x,
                        "arrayminus": x - edges[:-1],
                        "visible": True,
                        "width": 0,
                    },
                    customdata=np.asarray(r["n"]),
                    hovertemplate="%{x:.3g}: %{y:.3f} (n=%{customdata})",
                ),
                row=1,
                col=j,
            )
            fig.update_xaxes(title_text=f"{r['label']} ({r['unit']})", row=1, col=j)
    fig.update_yaxes(title_text="signal lost (fraction)", rangemode="tozero", col=1)
    fig.update_layout(
        title=f"{title}<br><sup>markers near the bin median, horizontal bars: bin extent, "
        f"vertical bars: {100 * CL:.1f} % Clopper-Pearson</sup>"
    )
    return fig


def noise_removed_figure(
    by_kind: Mapping[str, Mapping[str, Mapping[str, float]]],
    title: str = "Noise removed per noise kind",
) -> go.Figure:
    """Grouped bars: x = noise kind, one bar series per curve, Clopper-Pearson error bars.

    Args:
        by_kind: Curve name -> ``physics_breakdown(...)["noise_removed"]`` (per kind ``n``,
            ``removed``, ``rate``).
    """
    fig = go.Figure()
    for name, kinds in by_kind.items():
        if not kinds:
            continue
        ks = list(kinds)
        n = np.array([kinds[q]["n"] for q in ks], np.float64)
        k = np.array(
            [kinds[q].get("removed", round(kinds[q]["rate"] * kinds[q]["n"])) for q in ks],
            np.float64,
        )
        rate = k / np.maximum(n, 1)
        lo, hi = clopper_pearson(k, n)
        fig.add_trace(
            go.Bar(
                x=ks,
                y=rate,
                name=name,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": hi - rate,
                    "arrayminus": rate - lo,
                },
                customdata=n,
                hovertemplate="%{x}: %{y:.3f} (n=%{customdata})",
            )
        )
    fig.update_layout(
        title=f"{title}<br><sup>error bars: {100 * CL:.1f} % Clopper-Pearson</sup>",
        barmode="group",
        yaxis_title="noise removed (fraction)",
        yaxis_range=[0, 1.05],
        xaxis_title="simulator noise kind",
    )
    return fig
