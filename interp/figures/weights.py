"""Weight maps: perceptron neurons as 3D surfaces (pads x time bins x weight) and heatmaps,
chamber comparisons, and the split convolution's kernels and branch contributions.

Shared style (also used by the attribution figures): x = time bin, y = pad, z = value;
diverging colour scale centred on zero (red positive = pushes towards *good*/signal).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLORSCALE = "RdBu_r"
SCENE = {
    "xaxis": {"title": {"text": "time bin"}},
    "yaxis": {"title": {"text": "pad"}},
    "camera": {"eye": {"x": 1.5, "y": -1.7, "z": 1.1}},
    "aspectmode": "manual",
    "aspectratio": {"x": 1.5, "y": 1.0, "z": 0.7},
}


def _cmax(*maps: np.ndarray) -> float:
    m = max(float(np.nanmax(np.abs(z))) if np.size(z) else 0.0 for z in maps)
    return m if m > 0 else 1.0


def surface_trace(
    z: np.ndarray, cmax: float | None = None, showscale: bool = True, name: str = ""
) -> go.Surface:
    """3D surface of a [P, T] map (x = time bin, y = pad), colours symmetric around 0."""
    z = np.asarray(z, np.float64)
    c = _cmax(z) if cmax is None else cmax
    return go.Surface(
        z=z,
        x=np.arange(z.shape[1]),
        y=np.arange(z.shape[0]),
        colorscale=COLORSCALE,
        cmin=-c,
        cmax=c,
        showscale=showscale,
        colorbar={"x": 1.0, "len": 0.8},
        name=name,
        hovertemplate="pad %{y}<br>time bin %{x}<br>value %{z:.3g}<extra>" + name + "</extra>",
    )


def heatmap_trace(
    z: np.ndarray, cmax: float | None = None, showscale: bool = True, name: str = ""
) -> go.Heatmap:
    """2D heatmap twin of :func:`surface_trace` (pads vertical, time bins horizontal)."""
    z = np.asarray(z, np.float64)
    c = _cmax(z) if cmax is None else cmax
    return go.Heatmap(
        z=z,
        colorscale=COLORSCALE,
        zmin=-c,
        zmax=c,
        showscale=showscale,
        name=name,
        hovertemplate="pad %{y}<br>time bin %{x}<br>value %{z:.3g}<extra>" + name + "</extra>",
    )


def surfaces_figure(
    maps: Mapping[str, np.ndarray],
    title: str,
    zlabel: str = "weight",
    cols: int | None = None,
    shared_scale: bool = True,
) -> go.Figure:
    """Grid of 3D surfaces, one per named [P, T] map.

    Args:
        maps: Panel title -> [P, T] map.
        title: Figure title.
        zlabel: z-axis title (e.g. ``"weight"``, ``"IG (log-odds)"``).
        cols: Panels per row (default: all in one row up to 3).
        shared_scale: One symmetric colour range for all panels.

    Returns:
        Figure with one ``go.Surface`` per map.
    """
    names = list(maps)
    cols = cols or min(len(names), 3)
    rows = -(-len(names) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=[[{"type": "surface"}] * cols for _ in range(rows)],
        subplot_titles=names,
        horizontal_spacing=0.02,
        vertical_spacing=0.06,
    )
    c = _cmax(*maps.values()) if shared_scale else None
    for i, name in enumerate(names):
        fig.add_trace(
            surface_trace(maps[name], c, showscale=(i == 0), name=name),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    scene = {**SCENE, "zaxis": {"title": {"text": zlabel}}}
    fig.update_scenes(**scene)
    fig.update_layout(title=title, margin={"l": 0, "r": 70, "t": 60, "b": 0})
    return fig


def heatmaps_figure(
    maps: Mapping[str, np.ndarray],
    title: str,
    cols: int | None = None,
    shared_scale: bool = True,
) -> go.Figure:
    """2D twin of :func:`surfaces_figure`: one ``go.Heatmap`` per map, values printed."""
    names = list(maps)
    cols = cols or min(len(names), 3)
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.05)
    c = _cmax(*maps.values()) if shared_scale else None
    for i, name in enumerate(names):
        fig.add_trace(
            heatmap_trace(maps[name], c, showscale=(i == 0), name=name),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(title_text="time bin")
    fig.update_yaxes(title_text="pad")
    fig.update_layout(title=title)
    return fig


def perceptron_maps(kernel: np.ndarray, window: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-neuron weight maps of a perceptron dense kernel.

    Args:
        kernel: float [P*T, 2] (column 0 noise/"bad", 1 signal/"good").
        window: (P, T).

    Returns:
        ``{"noise neuron", "signal neuron", "signal - noise"}`` -> [P, T].
    """
    k = np.asarray(kernel, np.float64)
    w0, w1 = k[:, 0].reshape(window), k[:, 1].reshape(window)
    return {"noise neuron": w0, "signal neuron": w1, "signal - noise": w1 - w0}


def perceptron_weights_figure(
    kernel: np.ndarray, window: tuple[int, int], title: str = "Perceptron weights"
) -> go.Figure:
    """3D surfaces of each output neuron's weights and their difference (3 surfaces)."""
    return surfaces_figure(perceptron_maps(kernel, window), title, zlabel="weight")


def perceptron_heatmap_figure(
    kernel: np.ndarray, window: tuple[int, int], title: str = "Perceptron weights (2D)"
) -> go.Figure:
    """2D heatmap twin of :func:`perceptron_weights_figure` (3 heatmaps)."""
    return heatmaps_figure(perceptron_maps(kernel, window), title)


def chamber_comparison_figure(
    maps: Mapping[str, np.ndarray], title: str = "Signal - noise weights per training chamber"
) -> go.Figure:
    """The same map trained on each chamber side by side, plus their difference.

    Args:
        maps: Chamber -> [P, T] (two chambers give a third panel ``A - B``).

    Returns:
        Figure with ``len(maps)`` (+1) surfaces.
    """
    panels = dict(maps)
    names = list(maps)
    if len(names) == 2:
        panels[f"{names[0]} - {names[1]}"] = maps[names[0]] - maps[names[1]]
    return surfaces_figure(panels, title, zlabel="weight")


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
    for i in range(F):
        fig.add_trace(heatmap_trace(pk[..., i], c, showscale=(i == 0)), row=1, col=i + 1)
        fig.add_trace(heatmap_trace(tk[..., i], c, showscale=False), row=2, col=i + 1)
    fig.update_yaxes(title_text="pad offset", col=1)
    fig.update_xaxes(title_text="time offset", row=2)
    fig.update_layout(title=title)
    return fig


def branch_contributions_figure(
    maps: Mapping[str, np.ndarray], title: str = "Split convolution: branch contributions"
) -> go.Figure:
    """3D surfaces of each branch's mean contribution to the logit difference (+ their sum)."""
    panels = dict(maps)
    if len(panels) == 2:
        panels["sum"] = sum(panels.values())
    return surfaces_figure(panels, title, zlabel="contribution (log-odds)")
