"""Confusion matrices as in the 2020 talk: true label vertical, predicted horizontal,
classes "noise" and "signal", cells with row percentages (to the precision the row's count
supports) and counts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

CLASS_NAMES: tuple[str, str] = ("noise", "signal")


def confusion_table(counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Counts and row percentages.

    Args:
        counts: ``{"tn", "fp", "fn", "tp"}`` (signal positive).

    Returns:
        ``(matrix [2, 2] int, row_pct [2, 2] float)``; row = true (noise, signal), column =
        predicted (noise, signal); each non-empty row of ``row_pct`` sums to 100.
    """
    m = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]], np.int64)
    rows = m.sum(axis=1, keepdims=True)
    pct = np.where(rows > 0, 100.0 * m / np.maximum(rows, 1), 0.0)
    return m, pct


def percent_decimals(n: int) -> int:
    """Decimals of a percentage of ``n`` counts: one count must move the last digit.

    One count is ``100 / n`` percent: below 1000 counts whole percents (300 clusters:
    0.33 % per count), below 10,000 one decimal, from 10,000 two.
    """
    return 0 if n < 1_000 else (1 if n < 10_000 else 2)


def confusion_figure(counts: Mapping[str, int], title: str) -> go.Figure:
    """One confusion matrix heatmap (colour = row percentage, text = percentage and count).

    Rows (y) are the true label with "noise" on top, columns (x) the prediction.
    """
    m, pct = confusion_table(counts)
    dec = [percent_decimals(int(m[i].sum())) for i in range(2)]
    text = [[f"{pct[i, j]:.{dec[i]}f} %<br>{m[i, j]:,}" for j in range(2)] for i in range(2)]
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
            colorbar={"title": {"text": "row percentage (%)", "side": "right"}},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted", side="bottom")
    fig.update_yaxes(title_text="true label", autorange="reversed")
    fig.update_layout(
        title=f"{title}<br><sup>{int(m.sum()):,} clusters; row percentages</sup>",
        width=520,
        height=460,
    )
    return fig
