"""Few-shot recalibration: how many labelled target clusters recover the target's own
operating point.

A classifier moved to another chamber keeps its scores but loses its threshold: the one
chosen on the training chamber's validation split gives another signal loss on the target.
Given ``n`` labelled target clusters, the threshold is chosen again on them (highest threshold
with signal loss <= the bound, :func:`interp.evaluation.metrics.choose_threshold`) and applied to
the
target's test split. The *target's own operating point* is the threshold chosen on the whole
target validation split. A size ``n`` recovers it when the median (over repeated random draws)
absolute difference in noise removed and in signal lost on the target test split are both
within ``tolerance`` (1 point).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError
from interp.evaluation.metrics import choose_threshold

DEFAULT_SIZES: tuple[int, ...] = (100, 300, 1000, 3000, 10_000)


def rates(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """``(noise_removed, signal_lost)`` fractions at a threshold (signal: score >= it)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    below = scores < threshold
    noise, signal = labels == 0, labels == 1
    nr = float(below[noise].mean()) if noise.any() else float("nan")
    sl = float(below[signal].mean()) if signal.any() else float("nan")
    return nr, sl


def _spread(x: Sequence[float]) -> dict[str, float | None]:
    if len(x) == 0:
        return {"median": None, "lo": None, "hi": None}
    q = np.percentile(np.asarray(x, float), [50, 16, 84])
    return {"median": float(q[0]), "lo": float(q[1]), "hi": float(q[2])}


def recalibration_curve(
    pool_scores: np.ndarray,
    pool_labels: np.ndarray,
    reference_scores: np.ndarray,
    reference_labels: np.ndarray,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int = 20,
    max_signal_loss: float = 0.05,
    tolerance: float = 0.01,
    seed: int = 0,
    source_threshold: float | None = None,
) -> dict[str, Any]:
    """Recovery of the target's operating point versus the number of labelled clusters.

    Args:
        pool_scores, pool_labels: float [M] P(signal) and 0/1 labels of the labelled target
            clusters the ``n`` are drawn from (not the test split).
        reference_scores, reference_labels: The target validation split, [R]; its threshold is
            the target's own operating point.
        test_scores, test_labels: The target test split, [K]; rates are measured here.
        sizes: Numbers of labelled clusters tried; sizes above ``M`` are marked unavailable.
        repeats: Random draws per size.
        max_signal_loss: Signal-loss bound of the operating point.
        tolerance: Allowed |difference| in noise removed and signal lost (fractions).
        seed: Seed of the draws.
        source_threshold: The threshold carried over from the training chamber, for the
            "no recalibration" row.

    Returns:
        ``{"reference": {"threshold", "noise_removed", "signal_lost"}, "source": {...} or
        None, "sizes": [{"n", "available", "repeats", "threshold", "delta_noise_removed",
        "delta_signal_lost", "abs_delta_noise_removed", "abs_delta_signal_lost" (each
        {"median", "lo", "hi"}: 16th/84th percentiles), "within_tolerance" (fraction of
        draws), "recovered"}], "clusters_needed": smallest recovered n or None,
        "tolerance", "max_signal_loss"}``.

    Raises:
        ClusterDataError: No signal in the reference set.
    """
    pool_scores, pool_labels = np.asarray(pool_scores), np.asarray(pool_labels)
    t_ref = choose_threshold(reference_scores, reference_labels, max_signal_loss)
    nr_ref, sl_ref = rates(test_scores, test_labels, t_ref)
    out: dict[str, Any] = {
        "reference": {"threshold": t_ref, "noise_removed": nr_ref, "signal_lost": sl_ref},
        "source": None,
        "sizes": [],
        "clusters_needed": None,
        "tolerance": tolerance,
        "max_signal_loss": max_signal_loss,
        "pool": int(pool_scores.size),
    }
    if source_threshold is not None:
        nr, sl = rates(test_scores, test_labels, source_threshold)
        out["source"] = {
            "threshold": float(source_threshold),
            "noise_removed": nr,
            "signal_lost": sl,
        }
    rng = np.random.default_rng(seed)
    for n in sizes:
        row: dict[str, Any] = {"n": int(n), "available": bool(n <= pool_scores.size)}
        if not row["available"]:
            out["sizes"].append(row)
            continue
        th, dnr, dsl = [], [], []
        for _ in range(repeats):
            idx = rng.choice(pool_scores.size, int(n), replace=False)
            try:
                t = choose_threshold(pool_scores[idx], pool_labels[idx], max_signal_loss)
            except ClusterDataError:  # a draw without signal clusters
                continue
            nr, sl = rates(test_scores, test_labels, t)
            th.append(t)
            dnr.append(nr - nr_ref)
            dsl.append(sl - sl_ref)
        ok = [abs(a) <= tolerance and abs(b) <= tolerance for a, b in zip(dnr, dsl, strict=True)]
        row.update(
            repeats=len(th),
            threshold=_spread(th),
            delta_noise_removed=_spread(dnr),
            delta_signal_lost=_spread(dsl),
            abs_delta_noise_removed=_spread(np.abs(dnr)),
            abs_delta_signal_lost=_spread(np.abs(dsl)),
            within_tolerance=float(np.mean(ok)) if ok else None,
        )
        row["recovered"] = bool(
            th
            and row["abs_delta_noise_removed"]["median"] <= tolerance
            and row["abs_delta_signal_lost"]["median"] <= tolerance
        )
        if row["recovered"] and out["clusters_needed"] is None:
            out["clusters_needed"] = int(n)
        out["sizes"].append(row)
    return out
