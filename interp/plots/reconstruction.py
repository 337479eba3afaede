"""Mean input vs mean reconstruction per noise kind (an autoencoder), as 2D heatmaps styled
like the weight and attribution maps (x = time bin, y = pad, one titled colour bar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from interp.plots.weights import maps_figure

COLORBAR_TITLE = "mean preprocessed charge"
"""Colour-bar title: inputs and reconstructions are in the model's (preprocessed) units."""


def reconstruction_figure(groups: Mapping[str, Mapping[str, Any]], title: str) -> go.Figure:
    """Two panels per group: its mean input and its mean reconstruction, on one colour scale.

    Args:
        groups: From :func:`interp.explain.reconstruction.mean_reconstructions` (group ->
            ``{"n", "input" [P, T], "reconstruction" [P, T], "mean_error"}``).
        title: Figure title.

    Returns:
        Figure with ``2 * len(groups)`` heatmaps, two groups per row.
    """
    panels = {}
    for name, g in groups.items():
        panels[f"{name}: input mean (n={g['n']:,})"] = g["input"]
        panels[f"{name}: reconstruction (MSE {g['mean_error']:.2g})"] = g["reconstruction"]
    return maps_figure(panels, title, COLORBAR_TITLE, cols=4, shared_scale=True)
