"""Classification metrics with event-bootstrap confidence intervals.

Scores are P(signal) per cluster; a cluster is called *signal* when ``score >= threshold``.
The physics-facing names used throughout the toolkit:

=============== ==========================================================================
metric          definition
=============== ==========================================================================
accuracy        (tn + tp) / N
balanced_acc    (TNR + TPR) / 2
noise_removed   tn / (tn + fp): noise clusters the classifier would drop (true-negative rate)
signal_lost     fn / (fn + tp): signal clusters wrongly dropped (false-negative rate)
precision       tp / (tp + fp): purity of the clusters kept as signal
roc_auc         area under the ROC curve (threshold-free), ties counted as one half
=============== ==========================================================================

Confidence intervals resample whole *events* with replacement (clusters of one event share
run conditions, so they are not independent). The bootstrap is vectorised: every replicate is a
vector of event multiplicities ``W[b, e]``; confusion counts are ``W @ per_event_counts`` and the
AUC weights each cluster by its event's multiplicity. Intervals are percentile intervals.

With fewer than :data:`MIN_RELIABLE_EVENTS` test events the intervals are still computed (with
one event they collapse to the point value) but are flagged ``"ci_reliable": false``: a handful
of events cannot describe event-to-event variation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interp.errors import ClusterDataError

MIN_RELIABLE_EVENTS: int = 3
"""Below this many events, bootstrap intervals are flagged as unreliable."""

METRIC_NAMES: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "noise_removed",
    "signal_lost",
    "precision",
    "roc_auc",
)

_BOOT_CHUNK_ELEMENTS = 4_000_000  # replicate x cluster elements per AUC chunk (~32 MB float64)


def _check_inputs(
    scores: np.ndarray, labels: np.ndarray, event_ids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if event_ids is None:
        event_ids = np.zeros(scores.shape[0], dtype=np.int64)
    event_ids = np.asarray(event_ids).ravel()
    if not (scores.shape == labels.shape == event_ids.shape):
        raise ClusterDataError(
            None,
            None,
            f"scores {scores.shape}, labels {labels.shape} and event ids {event_ids.shape} "
            "must have the same length",
        )
    if scores.size == 0:
        raise ClusterDataError(None, "label", "no clusters to evaluate")
    if not np.isin(labels, (0, 1)).all():
        raise ClusterDataError(None, "label", "labels must be 0 (noise) or 1 (signal)")
    if not np.isfinite(scores).all():
        raise ClusterDataError(None, None, "scores contain NaN or infinite values")
    return scores, labels.astype(np.int64), event_ids


def confusion_counts(
    scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5
) -> dict[str, int]:
    """Confusion counts with signal as the positive class.

    Args:
        scores: float [N], P(signal).
        labels: int [N], 0 noise / 1 signal.
        threshold: A cluster is called signal when ``score >= threshold``.

    Returns:
        ``{"tn", "fp", "fn", "tp"}`` as ints.
    """
    scores, labels, _ = _check_inputs(scores, labels, None)
    pred = scores >= threshold
    pos = labels == 1
    return {
        "tn": int(np.sum(~pred & ~pos)),
        "fp": int(np.sum(pred & ~pos)),
        "fn": int(np.sum(~pred & pos)),
        "tp": int(np.sum(pred & pos)),
    }


def _rates(c: np.ndarray) -> dict[str, np.ndarray]:
    """Threshold metrics from confusion counts ``c[..., (tn, fp, fn, tp)]`` (NaN if undefined)."""
    tn, fp, fn, tp = (c[..., i].astype(np.float64) for i in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = tn + fp + fn + tp
        tnr = tn / (tn + fp)
        tpr = tp / (tp + fn)
        return {
            "accuracy": (tn + tp) / n,
            "balanced_accuracy": 0.5 * (tnr + tpr),
            "noise_removed": tnr,
            "signal_lost": fn / (fn + tp),
            "precision": tp / (tp + fp),
        }


def _weighted_auc(pos_w: np.ndarray, neg_w: np.ndarray, group_starts: np.ndarray) -> np.ndarray:
    """AUC for weights laid out in ascending-score order.

    Args:
        pos_w: float [B, N], weight of each cluster if it is signal, else 0 (sorted by score).
        neg_w: float [B, N], same for noise.
        group_starts: int [U], start index of each run of tied scores.

    Returns:
        float [B] AUC; NaN where a replicate has no signal or no noise weight.
    """
    pos_g = np.add.reduceat(pos_w, group_starts, axis=1)
    neg_g = np.add.reduceat(neg_w, group_starts, axis=1)
    neg_below = np.cumsum(neg_g, axis=1) - neg_g
    num = np.sum(pos_g * (neg_below + 0.5 * neg_g), axis=1)
    den = pos_g.sum(axis=1) * neg_g.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def roc_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (ties count one half); equals sklearn's ``roc_auc_score``.

    Args:
        scores: float [N], P(signal).
        labels: int [N], 0/1.
        weights: Optional float [N] cluster weights.

    Returns:
        The AUC, or NaN if only one class is present.
    """
    scores, labels, _ = _check_inputs(scores, labels, None)
    w = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    y = labels[order]
    ws = w[order]
    return float(_weighted_auc((ws * y)[None], (ws * (1 - y))[None], starts)[0])


def _bootstrap_weights(n_events: int, n_boot: int, seed: int) -> np.ndarray:
    """Event multiplicities [n_boot, n_events] of resampling events with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_events, size=(n_boot, n_events))
    w = np.zeros((n_boot, n_events), dtype=np.float64)
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def _interval(samples: np.ndarray, ci: float) -> tuple[float | None, float | None]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None, None
    alpha = 0.5 * (1.0 - ci)
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def evaluate_scores(
    scores: np.ndarray,
    labels: np.ndarray,
    event_ids: np.ndarray | None = None,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, Any]:
    """All metrics at one threshold, with event-bootstrap confidence intervals.

    Args:
        scores: float [N], P(signal).
        labels: int [N], 0 noise / 1 signal.
        event_ids: int [N] event numbers (the bootstrap unit); ``None`` treats all clusters as
            one event (intervals then collapse and are flagged unreliable).
        threshold: Signal when ``score >= threshold``.
        n_boot: Bootstrap replicates; 0 skips the intervals (``lo``/``hi`` are ``None``).
        seed: Seed of the resampling.
        ci: Central interval probability.

    Returns:
        JSON-serialisable dict::

            {"threshold", "n_clusters", "n_events", "n_boot", "ci", "ci_reliable",
             "confusion": {"tn", "fp", "fn", "tp"},
             "metrics": {name: {"value", "lo", "hi"}}}

        Undefined values (e.g. precision with no predicted signal) are ``None``.

    Raises:
        ClusterDataError: On mismatched lengths, empty input or non-0/1 labels.
    """
    scores, labels, event_ids = _check_inputs(scores, labels, event_ids)
    events, ev_index = np.unique(event_ids, return_inverse=True)
    n_events = int(events.size)
    pred = (scores >= threshold).astype(np.int64)
    cell = 2 * labels + pred  # 0 tn, 1 fp, 2 fn, 3 tp
    per_event = np.zeros((n_events, 4), dtype=np.float64)
    np.add.at(per_event, (ev_index, cell), 1.0)
    total = per_event.sum(axis=0)
    point = {k: float(v) for k, v in _rates(total).items()}
    point["roc_auc"] = roc_auc(scores, labels)

    intervals: dict[str, tuple[float | None, float | None]] = dict.fromkeys(
        METRIC_NAMES, (None, None)
    )
    if n_boot > 0:
        w = _bootstrap_weights(n_events, n_boot, seed)  # [B, E]
        boot = _rates(w @ per_event)  # each [B]
        order = np.argsort(scores, kind="stable")
        s = scores[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        y = labels[order].astype(np.float64)
        ev_sorted = ev_index[order]
        chunk = max(1, _BOOT_CHUNK_ELEMENTS // scores.size)
        aucs = []
        for b0 in range(0, n_boot, chunk):
            wc = w[b0 : b0 + chunk][:, ev_sorted]  # [b, N] cluster weights
            aucs.append(_weighted_auc(wc * y, wc * (1.0 - y), starts))
        boot["roc_auc"] = np.concatenate(aucs)
        intervals = {k: _interval(boot[k], ci) for k in METRIC_NAMES}

    metrics = {
        k: {"value": _num(point[k]), "lo": intervals[k][0], "hi": intervals[k][1]}
        for k in METRIC_NAMES
    }
    return {
        "threshold": float(threshold),
        "n_clusters": int(scores.size),
        "n_events": n_events,
        "n_boot": int(n_boot),
        "ci": float(ci),
        "ci_reliable": bool(n_boot > 0 and n_events >= MIN_RELIABLE_EVENTS),
        "confusion": {k: int(v) for k, v in zip(("tn", "fp", "fn", "tp"), total, strict=True)},
        "metrics": metrics,
    }


def choose_threshold(
    val_scores: np.ndarray, val_labels: np.ndarray, max_signal_loss: float = 0.05
) -> float:
    """Highest threshold whose validation signal loss stays within a bound.

    Raising the threshold removes more noise and loses more signal, so the highest threshold
    that satisfies ``signal_lost <= max_signal_loss`` on validation data is the operating
    point with the most noise removed under that constraint. With the signal scores sorted
    ascending as ``s[0] <= s[1] <= ...`` and ``k = floor(max_signal_loss * n_signal)``, the
    answer is ``s[k]``: exactly the clusters scoring strictly below it are lost (at most k).

    Args:
        val_scores: float [N] validation P(signal).
        val_labels: int [N] validation labels.
        max_signal_loss: Allowed fraction of signal clusters lost, in [0, 1).

    Returns:
        The threshold (call signal when ``score >= threshold``).

    Raises:
        ClusterDataError: If the validation set holds no signal clusters.
        ValueError: If ``max_signal_loss`` is outside [0, 1).
    """
    if not 0.0 <= max_signal_loss < 1.0:
        raise ValueError(f"max_signal_loss must lie in [0, 1), got {max_signal_loss}")
    scores, labels, _ = _check_inputs(val_scores, val_labels, None)
    sig = np.sort(scores[labels == 1])
    if sig.size == 0:
        raise ClusterDataError(
            None, "label", "validation set has no signal clusters: cannot choose a threshold"
        )
    k = int(np.floor(max_signal_loss * sig.size + 1e-9))
    return float(sig[min(k, sig.size - 1)])
