"""Attribution and SHAP maps as 2D heatmaps (3D surfaces on request), styled like the weights."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from interp.plots.weights import maps_figure

METHOD_LABELS: dict[str, str] = {
    "saliency": "saliency d(log-odds)/dx",
    "integrated_gradients": "integrated gradients (log-odds)",
    "occlusion": "occlusion drop (log-odds)",
    "shap": "SHAP (log-odds)",
}
"""Method -> colour-bar (and 3D z-axis) title: the quantity and its unit."""


def attribution_figure(
    group_maps: Mapping[str, np.ndarray],
    method: str,
    title: str,
    counts: Mapping[str, int] | None = None,
    three_d: bool = False,
) -> go.Figure:
    """Mean attribution per group (confusion cell or noise kind), one panel per group.

    Args:
        group_maps: Group name -> mean map [P, T].
        method: Key of :data:`METHOD_LABELS` (sets the colour-bar title).
        title: Figure title.
        counts: Optional group sizes, shown in panel titles.
        three_d: 3D surfaces instead of heatmaps.

    Returns:
        Figure with one ``go.Heatmap`` (or ``go.Surface``) per group; one colour scale for
        all groups while their ranges are comparable, else one per group.
    """
    panels = {
        (f"{k} (n={counts[k]:,})" if counts and k in counts else k): v
        for k, v in group_maps.items()
    }
    cols = 2 if len(panels) in (3, 4) else None  # confusion cells: a 2 x 2 grid
    label = METHOD_LABELS.get(method, method)
    return maps_figure(panels, title, label, cols=cols, three_d=three_d)


def shap_figure(
    contribs: np.ndarray,
    window: tuple[int, int],
    title: str = "XGBoost SHAP",
    three_d: bool = False,
) -> go.Figure:
    """Signed mean (diverging scale) and mean absolute (sequential scale) per-pixel SHAP.

    Args:
        contribs: float [N, P*T + 1] from ``pred_contribs`` (bias column last, ignored).
        window: (P, T).
        title: Figure title.
        three_d: 3D surfaces instead of heatmaps.
    """
    c = np.asarray(contribs, np.float64)[:, :-1].reshape(len(contribs), *window)
    panels = {"signed mean": c.mean(axis=0), "mean |SHAP|": np.abs(c).mean(axis=0)}
    return maps_figure(
        panels,
        title,
        METHOD_LABELS["shap"],
        shared_scale=False,
        three_d=three_d,
        sequential={"mean |SHAP|": True},
    )
