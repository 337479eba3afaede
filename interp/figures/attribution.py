"""Attribution and SHAP maps as 3D surfaces, in the style of the weight maps."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from interp.figures.weights import surfaces_figure

METHOD_LABELS: dict[str, str] = {
    "saliency": "saliency d(log-odds)/dx",
    "integrated_gradients": "integrated gradients (log-odds)",
    "occlusion": "occlusion drop (log-odds)",
    "shap": "SHAP (log-odds)",
}


def attribution_figure(
    group_maps: Mapping[str, np.ndarray],
    method: str,
    title: str,
    counts: Mapping[str, int] | None = None,
) -> go.Figure:
    """Mean attribution per group (confusion cell or noise kind) as a grid of 3D surfaces.

    Args:
        group_maps: Group name -> mean map [P, T].
        method: Key of :data:`METHOD_LABELS` (sets the z-axis title).
        title: Figure title.
        counts: Optional group sizes, shown in panel titles.

    Returns:
        Figure with one ``go.Surface`` per group (shared colour scale).
    """
    panels = {
        (f"{k} (n={counts[k]:,})" if counts and k in counts else k): v
        for k, v in group_maps.items()
    }
    cols = 2 if len(panels) == 4 else None
    return surfaces_figure(panels, title, zlabel=METHOD_LABELS.get(method, method), cols=cols)


def shap_figure(
    contribs: np.ndarray, window: tuple[int, int], title: str = "XGBoost SHAP"
) -> go.Figure:
    """Signed mean and mean absolute per-pixel SHAP values as two 3D surfaces.

    Args:
        contribs: float [N, P*T + 1] from ``pred_contribs`` (bias column last, ignored).
        window: (P, T).
        title: Figure title.
    """
    c = np.asarray(contribs, np.float64)[:, :-1].reshape(len(contribs), *window)
    panels = {"signed mean": c.mean(axis=0), "mean |SHAP|": np.abs(c).mean(axis=0)}
    return surfaces_figure(panels, title, zlabel=METHOD_LABELS["shap"], shared_scale=False)
