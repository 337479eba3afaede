"""Weight maps: perceptron neurons as 2D heatmaps (default) and 3D surfaces (interactive
extra), chamber comparisons, and the split convolution's kernels and branch contributions.

Shared style (also used by the attribution figures): x = time bin, y = pad, colour = value
with a titled colour bar (quantity and unit); diverging colour scale centred on zero (red
positive = pushes towards signal), sequential for non-negative maps; one colour scale per
panel where the panels' ranges differ.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORSCALE = "RdBu_r"
SEQUENTIAL = "Viridis"
"""Colour scale of non-negative maps (mean |SHAP|, |attribution|)."""
WEIGHT_UNIT = "weight per unit of normalised charge"
"""Colour-bar title of the perceptron weight maps (inputs are the preprocessed charge)."""
SCENE = {
    "xaxis": {"title": {"text": "time bin"}},
    "yaxis": {"title": {"text": "pad"}},
    "camera": {"eye": {"x": 1.6, "y": -1.9, "z": 1.2}},
    "aspectmode": "manual",
    "aspectratio": {"x": 1.4, "y": 0.9, "z": 0.6},
}
SHARED_RANGE_RATIO = 1.5
"""Panels share one colour scale only while their largest |value| differ by less than this."""


def _cmax(*maps: np.ndarray) -> float:
    m = max(float(np.nanmax(np.abs(z))) if np.size(z) else 0.0 for z in maps)
    return m if m > 0 else 1.0


def _colorbar(title: str, x: float, y: tuple[float, float]) -> dict:
    """A titled colour bar just right of a panel whose x domain ends at ``x``."""
    return {
        "title": {"text": title, "side": "right"},
        "x": x + 0.004,
        "xanchor": "left",
        "y": 0.5 * (y[0] + y[1]),
        "yanchor": "middle",
        "len": y[1] - y[0],
        "lenmode": "fraction",
        "thickness": 12,
        "tickfont": {"size": 10},
    }


def surface_trace(
    z: np.ndarray,
    cmax: float | None = None,
    showscale: bool = True,
    name: str = "",
    colorbar_title: str = "",
    sequential: bool = False,
) -> go.Surface:
    """3D surface of a [P, T] map (x = time bin, y = pad), colours symmetric around 0.

    ``sequential`` maps ``[0, max]`` on :data:`SEQUENTIAL` instead (non-negative maps).
    """
    z = np.asarray(z, np.float64)
    c = _cmax(z) if cmax is None else cmax
    return go.Surface(
        z=z,
        x=np.arange(z.shape[1]),
        y=np.arange(z.shape[0]),
        colorscale=SEQUENTIAL if sequential else COLORSCALE,
        cmin=0.0 if sequential else -c,
        cmax=c,
        showscale=showscale,
        colorbar={"title": {"text": colorbar_title, "side": "right"}, "len": 0.8},
        name=name,
        hovertemplate="pad %{y}<br>time bin %{x}<br>value %{z:.3g}<extra>" + name + "</extra>",
    )


def heatmap_trace(
    z: np.ndarray,
    cmax: float | None = None,
    showscale: bool = True,
    name: str = "",
    colorbar_title: str = "",
    sequential: bool = False,
) -> go.Heatmap:
    """2D heatmap twin of :func:`surface_trace` (pads vertical, time bins horizontal)."""
    z = np.asarray(z, np.float64)
    c = _cmax(z) if cmax is None else cmax
    return go.Heatmap(
        z=z,
        colorscale=SEQUENTIAL if sequential else COLORSCALE,
        zmin=0.0 if sequential else -c,
        zmax=c,
        showscale=showscale,
        colorbar={"title": {"text": colorbar_title, "side": "right"}},
        name=name,
        hovertemplate="pad %{y}<br>time bin %{x}<br>value %{z:.3g}<extra>" + name + "</extra>",
    )


def _share(maps: Mapping[str, np.ndarray], shared_scale: bool | None) -> bool:
    if shared_scale is not None:
        return shared_scale
    peaks = [_cmax(z) for z in maps.values()]
    return max(peaks) / min(peaks) < SHARED_RANGE_RATIO


def maps_figure(
    maps: Mapping[str, np.ndarray],
    title: str,
    colorbar_title: str,
    cols: int | None = None,
    shared_scale: bool | None = None,
    three_d: bool = False,
    sequential: Mapping[str, bool] | None = None,
) -> go.Figure:
    """Grid of [P, T] maps: 2D heatmaps (default) or 3D surfaces, each with a titled colour bar.

    Args:
        maps: Panel title -> [P, T] map (pads vertical, time bins horizontal).
        title: Figure title.
        colorbar_title: Quantity and unit (e.g. :data:`WEIGHT_UNIT`, ``"IG (log-odds)"``);
            also the z-axis title of the 3D form.
        cols: Panels per row (default: all in one row up to 3).
        shared_scale: One symmetric colour range for all panels (one colour bar); ``None``
            shares it only while the panels' ranges are within :data:`SHARED_RANGE_RATIO`,
            otherwise every panel gets its own scale and colour bar.
        three_d: ``go.Surface`` panels (the interactive extra) instead of ``go.Heatmap``.
        sequential: Panel title -> ``True`` for non-negative maps drawn on :data:`SEQUENTIAL`.

    Returns:
        Figure with one trace per map.
    """
    names = list(maps)
    cols = cols or min(len(names), 3)
    rows = -(-len(names) // cols)
    shared = _share(maps, shared_scale)
    kind = "surface" if three_d else "xy"
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=[[{"type": kind}] * cols for _ in range(rows)],
        subplot_titles=names,
        horizontal_spacing=0.04 if three_d else (0.06 if shared else 0.11),
        vertical_spacing=0.08 if three_d else 0.14,
    )
    c = _cmax(*maps.values()) if shared else None
    seq = sequential or {}
    for i, name in enumerate(names):
        r, col = i // cols + 1, i % cols + 1
        make = surface_trace if three_d else heatmap_trace
        trace = make(
            maps[name],
            c,
            showscale=(i == 0) or not shared,
            name=name,
            colorbar_title=colorbar_title,
            sequential=seq.get(name, False),
        )
        fig.add_trace(trace, row=r, col=col)
        if not shared or len(names) == 1:
            sub = fig.get_subplot(r, col)
            dom_x = sub.domain.x if three_d else sub.xaxis.domain
            dom_y = sub.domain.y if three_d else sub.yaxis.domain
            fig.data[-1].update(colorbar=_colorbar(colorbar_title, dom_x[1], tuple(dom_y)))
    if three_d:
        scene = {**SCENE, "zaxis": {"title": {"text": colorbar_title}}}
        fig.update_scenes(**scene)
        fig.update_layout(title=title, margin={"l": 10, "r": 60, "t": 70, "b": 10})
    else:
        fig.update_xaxes(title_text="time bin")
        fig.update_yaxes(title_text="pad")
        fig.update_layout(title=title, margin={"l": 60, "r": 90, "t": 80, "b": 50})
    return fig


def surfaces_figure(
    maps: Mapping[str, np.ndarray],
    title: str,
    zlabel: str = WEIGHT_UNIT,
    cols: int | None = None,
    shared_scale: bool | None = None,
) -> go.Figure:
    """3D form of :func:`maps_figure` (one ``go.Surface`` per map, z title ``zlabel``)."""
    return maps_figure(maps, title, zlabel, cols, shared_scale, three_d=True)


def heatmaps_figure(
    maps: Mapping[str, np.ndarray],
    title: str,
    cols: int | None = None,
    shared_scale: bool | None = None,
    colorbar_title: str = WEIGHT_UNIT,
) -> go.Figure:
    """2D form of :func:`maps_figure` (one ``go.Heatmap`` per map)."""
    return maps_figure(maps, title, colorbar_title, cols, shared_scale)


def perceptron_maps(kernel: np.ndarray, window: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-neuron weight maps of a perceptron dense kernel.

    Args:
        kernel: float [P*T, 2] (column 0 the noise neuron, 1 the signal neuron).
        window: (P, T).

    Returns:
        ``{"noise neuron", "signal neuron", "signal - noise"}`` -> [P, T].
    """
    k = np.asarray(kernel, np.float64)
    w0, w1 = k[:, 0].reshape(window), k[:, 1].reshape(window)
    return {"noise neuron": w0, "signal neuron": w1, "signal - noise": w1 - w0}


def perceptron_weights_figure(
    kernel: np.ndarray, window: tuple[int, int], title: str = "Perceptron weights (3D)"
) -> go.Figure:
    """3D surfaces of each output neuron's weights and their difference (the 3D extra)."""
    return surfaces_figure(perceptron_maps(kernel, window), title, zlabel=WEIGHT_UNIT)


def perceptron_heatmap_figure(
    kernel: np.ndarray, window: tuple[int, int], title: str = "Perceptron weights"
) -> go.Figure:
    """The default weight figure: 3 heatmaps, one colour bar each where ranges differ."""
    return heatmaps_figure(perceptron_maps(kernel, window), title)


def chamber_comparison_figure(
    maps: Mapping[str, np.ndarray],
    title: str = "Signal - noise weights per training chamber",
    three_d: bool = False,
) -> go.Figure:
    """The same map trained on each chamber side by side, plus their difference.

    Args:
        maps: Chamber -> [P, T] (two chambers give a third panel ``A - B``).

    Returns:
        Figure with ``len(maps)`` (+1) heatmaps (surfaces with ``three_d``).
    """
    panels = dict(maps)
    names = list(maps)
    if len(names) == 2:
        panels[f"{names[0]} - {names[1]}"] = maps[names[0]] - maps[names[1]]
    return maps_figure(panels, title, WEIGHT_UNIT, three_d=three_d)


def split_conv_kernels_figure(
    pad_kernel: np.ndarray, time_kernel: np.ndarray, title: str = "Split convolution kernels"
) -> go.Figure:
    """Heatmaps of every filter of both branches (row 1 pad branch, row 2 time branch).

    Args:
        pad_kernel: float [kh, kw, 1, F] (elongated along pads).
        time_kernel: float [kh, kw, 1, F] (elongated along time).
    """
    pk, tk = np.asarray(pad_kernel)[:, :, 0], np.asarray(time_kernel)[:, :, 0]
    F = pk.shape[-1]
    titles = [f"pad filter {i}" for i in range(F)] + [f"time filter {i}" for i in range(F)]
    fig = make_subplots(
        rows=2, cols=F, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.15
    )
    c = _cmax(pk, tk)
    unit = "kernel weight (per unit of normalised charge)"
    for i in range(F):
        fig.add_trace(heatmap_trace(pk[..., i], c, showscale=(i == 0)), row=1, col=i + 1)
        fig.add_trace(heatmap_trace(tk[..., i], c, showscale=False), row=2, col=i + 1)
    fig.data[0].update(colorbar=_colorbar(unit, 1.0, (0.0, 1.0)))
    fig.update_yaxes(title_text="pad offset", col=1)
    fig.update_xaxes(title_text="time offset", row=2)
    fig.update_layout(title=title)
    return fig


def branch_contributions_figure(
    maps: Mapping[str, np.ndarray], title: str = "Split convolution: branch contributions"
) -> go.Figure:
    """Heatmaps of each branch's mean contribution to the logit difference (+ their sum)."""
    panels = dict(maps)
    if len(panels) == 2:
        panels["sum"] = sum(panels.values())
    return maps_figure(panels, title, "contribution (log-odds)")
