"""Domain shift between two chambers: per-class distances of the physics features.

The features are those the physics of the clusters explains (see ``tpc-physics.md``): peak
ADC, total charge, charge-weighted RMS across pads and along time, occupancy, and whether the
window maximum sits off the window centre. For each class (signal, noise) the training
chamber's sample is compared with the test chamber's by the two-sample Kolmogorov-Smirnov
statistic (largest CDF difference, in [0, 1]) and the 1-Wasserstein distance (mean absolute
shift of the quantiles) in units of the training sample's standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from interp.core.schema import ClusterSet
from interp.data.features import occupancy, pad_rms, time_rms, total_charge


def peak_adc(charge: np.ndarray) -> np.ndarray:
    """Largest ADC count in each window, float32 [N]."""
    c = np.asarray(charge)
    return c.reshape(len(c), -1).max(axis=1).astype(np.float32)


def off_centre(charge: np.ndarray) -> np.ndarray:
    """1 where the window maximum is not at the centre pixel (P // 2, T // 2), float32 [N]."""
    c = np.asarray(charge)
    n, p, t = c.shape
    arg = c.reshape(n, -1).argmax(axis=1)
    return (arg != (p // 2) * t + t // 2).astype(np.float32)


FEATURES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "peak_adc": ("peak ADC (counts)", peak_adc),
    "total_charge": ("total charge (ADC counts)", total_charge),
    "pad_rms": ("pad RMS (pads)", pad_rms),
    "time_rms": ("time RMS (time bins)", time_rms),
    "occupancy": ("occupancy (fraction of pixels > 0)", occupancy),
    "off_centre": ("maximum off the window centre (fraction)", off_centre),
}
"""Feature name -> (label with unit, function of charge float [N, P, T] -> [N])."""

CLASSES: dict[str, int] = {"signal": 1, "noise": 0}


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: max |F_a(x) - F_b(x)| (NaNs dropped)."""
    a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between two samples, in the samples' unit (NaNs dropped)."""
    a, b = _clean(a), _clean(b)
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, grid[:-1], side="right") / a.size
    fb = np.searchsorted(b, grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * np.diff(grid)))


def _clean(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return np.sort(x[np.isfinite(x)])


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """KS, Wasserstein / sd(a), means and sd of a training sample ``a`` and a test sample
    ``b``; ``wasserstein_sd`` is ``None`` when ``a`` has no spread."""
    ca, cb = _clean(a), _clean(b)
    sd = float(ca.std()) if ca.size else float("nan")
    w = wasserstein(ca, cb)
    return {
        "ks": ks_statistic(ca, cb),
        "wasserstein": w,
        "wasserstein_sd": (w / sd) if sd > 0 else None,
        "mean_train": float(ca.mean()) if ca.size else None,
        "mean_test": float(cb.mean()) if cb.size else None,
        "sd_train": sd,
        "n_train": int(ca.size),
        "n_test": int(cb.size),
    }


def _sample(data: ClusterSet, max_clusters: int, rng: np.random.Generator) -> ClusterSet:
    if len(data) <= max_clusters:
        return data
    return data.subset(np.sort(rng.choice(len(data), max_clusters, replace=False)))


def feature_shift(
    train: ClusterSet,
    test: ClusterSet,
    max_clusters: int = 20_000,
    n_bins: int = 40,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-class shift of every :data:`FEATURES` entry from ``train`` to ``test``.

    Args:
        train: Clusters of the training chamber (e.g. its train split).
        test: Clusters of the test chamber (e.g. its test split).
        max_clusters: Clusters drawn at random from each set (bounded wall time).
        n_bins: Histogram bins per feature (shared edges, 0.5-99.5 % of both samples).
        seed: Seed of the subsampling.

    Returns:
        ``{"train_chamber", "test_chamber", "n_train", "n_test", "features": {name:
        {"label", "classes": {"signal"|"noise": compare(...)}, "max_ks"}}, "histograms":
        {name: {"edges", "signal": {"train", "test"}, "noise": {...}}}}`` (histograms as
        densities per unit of the feature).
    """
    rng = np.random.default_rng(seed)
    a, b = _sample(train, max_clusters, rng), _sample(test, max_clusters, rng)
    out: dict[str, Any] = {
        "train_chamber": train.chamber,
        "test_chamber": test.chamber,
        "n_train": len(a),
        "n_test": len(b),
        "features": {},
        "histograms": {},
    }
    for name, (label, fn) in FEATURES.items():
        fa, fb = np.asarray(fn(a.charge), float), np.asarray(fn(b.charge), float)
        classes = {
            cls: compare(fa[a.label == code], fb[b.label == code]) for cls, code in CLASSES.items()
        }
        ks = [c["ks"] for c in classes.values() if np.isfinite(c["ks"])]
        out["features"][name] = {
            "label": label,
            "classes": classes,
            "max_ks": max(ks) if ks else None,
        }
        both = np.concatenate([fa, fb])
        both = both[np.isfinite(both)]
        lo, hi = np.percentile(both, [0.5, 99.5]) if both.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
        hist: dict[str, Any] = {"edges": edges.tolist()}
        for cls, code in CLASSES.items():
            hist[cls] = {
                side: np.histogram(_clean(f[d.label == code]), edges, density=True)[0].tolist()
                if (d.label == code).any()
                else [0.0] * n_bins
                for side, f, d in (("train", fa, a), ("test", fb, b))
            }
        out["histograms"][name] = hist
    return out
