"""Example cluster windows per class and per simulator noise kind (plotly heatmaps)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from interp.core.schema import NOISE_KINDS, ClusterSet


def cluster_groups(cs: ClusterSet) -> dict[str, np.ndarray]:
    """Indices of the clusters in each display group.

    Groups are ``signal`` plus one per noise kind when the ``noise_kind`` truth column exists,
    otherwise ``signal`` and ``noise``.

    Returns:
        Group name -> int64 indices into ``cs``.
    """
    if "noise_kind" in cs.truth:
        kinds = cs.truth["noise_kind"]
        return {
            ("signal" if code == 0 else f"noise: {name}"): np.flatnonzero(kinds == code)
            for code, name in enumerate(NOISE_KINDS)
            if (kinds == code).any()
        }
    return {
        "signal": np.flatnonzero(cs.label == 1),
        "noise": np.flatnonzero(cs.label == 0),
    }


def example_clusters_figure(
    cs: ClusterSet, n_examples: int = 4, seed: int = 0, title: str | None = None
) -> go.Figure:
    """Grid of example windows: one row per group, ``n_examples`` random clusters per row.

    Each panel is a heatmap of ADC counts with pads vertical and time bins horizontal; the
    panel title gives the cluster's index and peak ADC. The last column shows the group's
    mean window. Each row shares one colour scale from 0 to its largest charge, with a
    colour bar in ADC right of the row.

    Args:
        cs: Clusters (any size; only the drawn examples are read).
        n_examples: Random examples per group.
        seed: Seed for picking the examples.
        title: Figure title (default: chamber name and counts).

    Returns:
        The plotly figure.
    """
    groups = cluster_groups(cs)
    rng = np.random.default_rng(seed)
    n_cols = n_examples + 1
    titles: list[str] = []
    picks: dict[str, np.ndarray] = {}
    for name, idx in groups.items():
        chosen = np.sort(rng.choice(idx, size=min(n_examples, idx.size), replace=False))
        picks[name] = chosen
        for j in range(n_examples):
            if j < chosen.size:
                peak = float(cs.charge[chosen[j]].max())
                titles.append(f"{name} #{chosen[j]} ({peak:.0f} ADC)")
            else:
                titles.append("")
        titles.append(f"{name}: mean of {idx.size:,}")
    fig = make_subplots(
        rows=len(groups),
        cols=n_cols,
        subplot_titles=titles,
        horizontal_spacing=0.02,
        vertical_spacing=0.25 / max(len(groups), 1),
    )
    pads, times = cs.window_shape
    for r, (name, chosen) in enumerate(picks.items(), start=1):
        panels = [cs.charge[i] for i in chosen]
        panels += [None] * (n_examples - len(panels))
        panels.append(cs.charge[groups[name]].mean(axis=0))
        zmax = max(float(np.max(z)) for z in panels if z is not None) or 1.0
        for c, z in enumerate(panels, start=1):
            if z is None:
                continue
            trace = go.Heatmap(
                z=z,
                x=np.arange(times),
                y=np.arange(pads),
                colorscale="Viridis",
                zmin=0.0,
                zmax=zmax,
                showscale=(c == n_cols),
                hovertemplate="pad %{y}, time bin %{x}: %{z:.1f} ADC<extra></extra>",
            )
            fig.add_trace(trace, row=r, col=c)
            if c == n_cols:  # one colour scale per row, its bar right of the row
                dom = fig.get_subplot(r, c).yaxis.domain
                fig.data[-1].update(
                    colorbar={
                        "title": {"text": "charge (ADC)", "side": "right"},
                        "x": 1.0,
                        "y": 0.5 * (dom[0] + dom[1]),
                        "len": dom[1] - dom[0],
                        "thickness": 10,
                    }
                )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    for r in range(1, len(groups) + 1):
        fig.update_yaxes(title_text="pad", row=r, col=1, title_standoff=0)
    for c in range(1, n_cols + 1):
        fig.update_xaxes(title_text="time bin", row=len(groups), col=c, title_standoff=0)
    fig.update_annotations(font_size=10)
    fig.update_layout(
        title=title
        or f"{cs.chamber}: example clusters ({len(cs):,} clusters, "
        f"{100 * cs.noise_fraction:.1f} % noise); pads vertical, time bins horizontal",
        height=170 * len(groups) + 120,
        width=200 * n_cols + 80,
        margin={"l": 40, "r": 20, "t": 80, "b": 40},
    )
    return fig
