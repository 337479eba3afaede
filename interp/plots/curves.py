"""Curves: ROC, noise removed vs signal lost, training curves, score distributions + KS test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats


def roc_points(scores: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """ROC at every distinct threshold (signal when ``score >= thr``).

    Returns:
        ``{"thresholds", "tpr", "fpr"}`` float arrays [K + 1], from (0, 0) to (1, 1);
        ``noise_removed = 1 - fpr`` and ``signal_lost = 1 - tpr``.
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]  # end of each tied group
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return {
        "thresholds": np.r_[np.inf, s[last]],
        "tpr": np.r_[0.0, tp / n_pos],
        "fpr": np.r_[0.0, fp / n_neg],
    }


def roc_bootstrap(
    scores: np.ndarray,
    labels: np.ndarray,
    n_boot: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    n_grid: int = 201,
) -> dict[str, Any]:
    """AUC with a bootstrap interval and a pointwise bootstrap band of the ROC.

    Clusters are resampled with replacement ``n_boot`` times (fixed ``seed``: the same
    inputs give the same band). The band is the central ``ci`` interval of the true
    positive rate at each false positive rate of a regular grid.

    Args:
        scores: float [N] P(signal).
        labels: int [N] 0/1.
        n_boot: Bootstrap resamples.
        ci: Interval content.
        seed: Resampling seed.
        n_grid: False-positive-rate grid points in [0, 1].

    Returns:
        ``{"auc", "auc_lo", "auc_hi"}`` floats (AUC from :func:`interp.evaluation.metrics.roc_auc`)
        and
        ``{"fpr", "tpr_lo", "tpr_hi"}`` float arrays [n_grid].
    """
    from interp.evaluation.metrics import roc_auc

    s = np.asarray(scores, np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[s[1:] != s[:-1], True]
    grid = np.linspace(0.0, 1.0, n_grid)
    rng = np.random.default_rng(seed)
    aucs = np.empty(n_boot)
    tprs = np.empty((n_boot, n_grid))
    n = s.size
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        tp = np.cumsum(w * y)[last]
        fp = np.cumsum(w * ~y)[last]
        if tp[-1] <= 0 or fp[-1] <= 0:
            aucs[b], tprs[b] = np.nan, np.nan
            continue
        tpr, fpr = np.r_[0.0, tp / tp[-1]], np.r_[0.0, fp / fp[-1]]
        aucs[b] = float(np.sum(np.diff(fpr) * 0.5 * (tpr[1:] + tpr[:-1])))
        tprs[b] = np.interp(grid, fpr, tpr)
    alpha = 0.5 * (1.0 - ci)
    ok = np.isfinite(aucs)
    if not ok.any():
        nan = np.full(n_grid, np.nan)
        return {
            "auc": float("nan"),
            "auc_lo": float("nan"),
            "auc_hi": float("nan"),
            "fpr": grid,
            "tpr_lo": nan,
            "tpr_hi": nan,
        }
    lo, hi = np.quantile(aucs[ok], [alpha, 1.0 - alpha])
    band = np.quantile(tprs[ok], [alpha, 1.0 - alpha], axis=0)
    return {
        "auc": roc_auc(scores, np.asarray(labels).astype(np.int64)),
        "auc_lo": float(lo),
        "auc_hi": float(hi),
        "fpr": grid,
        "tpr_lo": band[0],
        "tpr_hi": band[1],
    }


def auc_label(name: str, boot: Mapping[str, Any]) -> str:
    """Legend entry ``"<name>: AUC = 0.912 [0.905, 0.919]"`` (interval from the bootstrap)."""
    return f"{name}: AUC = {boot['auc']:.3f} [{boot['auc_lo']:.3f}, {boot['auc_hi']:.3f}]"


def _rates_at(scores: np.ndarray, labels: np.ndarray, thr: float) -> tuple[float, float]:
    """(noise removed, signal lost) at one threshold."""
    s, y = np.asarray(scores), np.asarray(labels).astype(bool)
    return float(np.mean(s[~y] < thr)), float(np.mean(s[y] < thr))


def roc_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    operating_points: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    title: str = "ROC",
    n_boot: int = 200,
) -> go.Figure:
    """ROC (left) and noise removed vs signal lost (right), operating points marked.

    Each curve's legend entry gives its AUC with the 95 % bootstrap interval
    (:func:`roc_bootstrap`); a shaded band in both panels is the pointwise 95 % bootstrap
    interval of the curve.

    Args:
        curves: Curve name -> (scores [N], labels [N]).
        operating_points: Curve name -> [(label, threshold), ...] drawn as markers.
        title: Figure title.
        n_boot: Bootstrap resamples per curve.

    Returns:
        Figure with, per curve, a band (``fill="toself"``) and a line in each panel and, per
        operating point, one marker trace in each panel.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("ROC (band: 95 % bootstrap)", "noise removed vs signal lost"),
    )
    for i, (name, (s, y)) in enumerate(curves.items()):
        r = roc_points(s, y)
        boot = roc_bootstrap(s, y, n_boot=n_boot, seed=i)
        color = f"hsl({(i * 67) % 360},65%,45%)"
        fill = f"hsla({(i * 67) % 360},65%,45%,0.2)"
        g, lo, hi = boot["fpr"], boot["tpr_lo"], boot["tpr_hi"]
        for col, (bx, by) in (
            (1, (np.r_[g, g[::-1]], np.r_[lo, hi[::-1]])),
            (2, (np.r_[1 - lo, (1 - hi)[::-1]], np.r_[1 - g, (1 - g)[::-1]])),
        ):
            fig.add_trace(
                go.Scatter(
                    x=bx,
                    y=by,
                    mode="lines",
                    fill="toself",
                    fillcolor=fill,
                    line={"width": 0, "color": color},
                    name=f"{name}: 95 % band",
                    legendgroup=name,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=r["fpr"],
                y=r["tpr"],
                mode="lines",
                name=auc_label(name, boot),
                line={"color": color},
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=1 - r["tpr"],
                y=1 - r["fpr"],
                mode="lines",
                name=name,
                line={"color": color},
                legendgroup=name,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
        symbols = ("circle", "diamond", "square", "x", "triangle-up")
        for k, (lab, thr) in enumerate((operating_points or {}).get(name, ())):
            nr, sl = _rates_at(s, y, thr)
            text = f"{name}, {lab} (thr {thr:.3g}): noise removed {nr:.3f}, signal lost {sl:.3f}"
            marker = {
                "color": color,
                "size": 11,
                "symbol": symbols[k % len(symbols)],
                "line": {"color": "black", "width": 1},
            }
            for col, (px, py) in ((1, (1 - nr, 1 - sl)), (2, (sl, nr))):
                fig.add_trace(
                    go.Scatter(
                        x=[px],
                        y=[py],
                        mode="markers",
                        marker=marker,
                        text=[text],
                        hovertemplate="%{text}<extra></extra>",
                        name=f"{name}: {lab}",
                        legendgroup=name,
                        showlegend=(col == 1),
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="false positive rate (noise kept)", row=1, col=1)
    fig.update_yaxes(title_text="true positive rate (signal kept)", row=1, col=1)
    fig.update_xaxes(title_text="signal lost", range=[0, 0.3], row=1, col=2)
    fig.update_yaxes(title_text="noise removed", range=[0.5, 1.0], row=1, col=2)
    fig.update_layout(title=title)
    return fig


def training_curves_figure(history: Mapping[str, Sequence[float]], title: str) -> go.Figure:
    """One line per recorded quantity against epoch (or boosting round).

    Args:
        history: Name -> values per epoch, e.g. ``train_loss``, ``val_loss``,
            ``val_accuracy`` (accuracy-like series go to the right axis).
        title: Figure title.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for name, values in history.items():
        v = np.asarray(values, np.float64)
        fig.add_trace(
            go.Scatter(x=np.arange(1, v.size + 1), y=v, mode="lines+markers", name=name),
            secondary_y="acc" in name,
        )
    fig.update_xaxes(title_text="epoch / round")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="accuracy", secondary_y=True)
    fig.update_layout(title=title)
    return fig


def ks_tests(
    train_scores: np.ndarray,
    train_labels: np.ndarray,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Two-sample Kolmogorov-Smirnov test train vs test, per class (TMVA overtraining check).

    Returns:
        ``{"signal": {"statistic", "pvalue"}, "noise": {...}}``.
    """
    out = {}
    for name, cls in (("noise", 0), ("signal", 1)):
        a = np.asarray(train_scores)[np.asarray(train_labels) == cls]
        b = np.asarray(test_scores)[np.asarray(test_labels) == cls]
        if a.size and b.size:
            r = stats.ks_2samp(a, b)
            out[name] = {"statistic": float(r.statistic), "pvalue": float(r.pvalue)}
        else:
            out[name] = {"statistic": float("nan"), "pvalue": float("nan")}
    return out


def score_distribution_figure(
    train_scores: np.ndarray,
    train_labels: np.ndarray,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
    title: str,
    bins: int = 40,
) -> tuple[go.Figure, dict[str, Any]]:
    """Score histograms (density) train as filled bars, test as points, per class, + KS.

    Bars span their bins exactly (width = bin width, outlined: the bin edges show); test
    points carry Poisson errors.

    Returns:
        ``(figure, ks)``; the figure has 4 traces (train/test x noise/signal), the KS
        p-values are in the title and in ``ks`` (see :func:`ks_tests`).
    """
    ks = ks_tests(train_scores, train_labels, test_scores, test_labels)
    edges = np.linspace(0, 1, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig = go.Figure()
    colors = {"noise": "#d62728", "signal": "#1f77b4"}
    for name, cls in (("noise", 0), ("signal", 1)):
        tr = np.asarray(train_scores)[np.asarray(train_labels) == cls]
        te = np.asarray(test_scores)[np.asarray(test_labels) == cls]
        h_tr, _ = np.histogram(tr, edges, density=True)
        h_te, _ = np.histogram(te, edges, density=True)
        fig.add_trace(
            go.Bar(
                x=centres,
                y=h_tr,
                name=f"{name} (train)",
                opacity=0.4,
                marker={"color": colors[name], "line": {"color": colors[name], "width": 1}},
                width=edges[1] - edges[0],
            )
        )
        err = np.sqrt(np.histogram(te, edges)[0]) / max(te.size, 1) / (edges[1] - edges[0])
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=h_te,
                mode="markers",
                name=f"{name} (test)",
                marker={"color": colors[name]},
                error_y={"type": "data", "array": err, "visible": True},
            )
        )
    fig.update_layout(
        barmode="overlay",
        title=f"{title}<br><sup>KS p-value train vs test: noise "
        f"{ks['noise']['pvalue']:.3g}, signal {ks['signal']['pvalue']:.3g}</sup>",
        xaxis_title="P(signal)",
        yaxis_title="density (normalised per class)",
    )
    return fig, ks
