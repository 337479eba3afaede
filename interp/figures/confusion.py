"""Confusion matrices as in the 2020 talk: true label vertical, predicted horizontal,
classes "bad" (noise) and "good" (signal), cells with counts and row percentages."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

CLASS_NAMES: tuple[str, str] = ("bad", "good")


def confusion_table(counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Counts and row percentages.

    Args:
        counts: ``{"tn", "fp", "fn", "tp"}`` (signal positive).

    Returns:
        ``(matrix [2, 2] int, row_pct [2, 2] float)``; row = true (bad, good), column =
        predicted (bad, good); each non-empty row of ``row_pct`` sums to 100.
    """
    m = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]], np.int64)
    rows = m.sum(axis=1, keepdims=True)
    pct = np.where(rows > 0, 100.0 * m / np.maximum(rows, 1), 0.0)
    return m, pct


def confusion_figure(counts: Mapping[str, int], title: str) -> go.Figure:
    """One confusion matrix heatmap (colour = row percentage, text = percentage and count).

    Rows (y) are the true label with "bad" on top, columns (x) the prediction.
    """
    m, pct = confusion_table(counts)
    text = [[f"{pct[i, j]:.2f}%<br>{m[i, j]:,}" for j in range(2)] for i in range(2)]
    fig = go.Figure(
        go.Heatmap(
            z=pct,
            x=list(CLASS_NAMES),
            y=list(CLASS_NAMES),
            text=text,
            texttemplate="%{text}",
            textfont={"size": 18},
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "row %"}},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted", side="bottom")
    fig.update_yaxes(title_text="true label", autorange="reversed")
    fig.update_layout(title=title, width=520, height=460)
    return fig
