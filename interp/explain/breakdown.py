"""Physics breakdowns with simulator truth: where signal is lost and which noise is removed.

All functions take the test clusters, their P(signal) scores and the operating threshold
(signal when ``score >= threshold``) and return JSON-serialisable dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interp.core.schema import NOISE_KINDS, ClusterSet

VARIABLES: dict[str, tuple[str, str]] = {
    "crossing_angle": ("|crossing angle|", "deg"),
    "drift_length": ("drift length", "cm"),
    "dedx_scale": ("dE/dx scale", "x MIP"),
}
"""Truth variable -> (axis label, unit) of the signal-loss breakdowns."""


def _binomial_error(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Standard error of k/n with a Wilson-like floor (never 0 for small n)."""
    n = np.maximum(n, 1)
    p = (k + 0.5) / (n + 1.0)
    return np.sqrt(p * (1 - p) / n)


def signal_lost_vs(
    cs: ClusterSet, scores: np.ndarray, threshold: float, variable: str, n_bins: int = 8
) -> dict[str, Any] | None:
    """Fraction of signal clusters called noise, in equal-population bins of a truth variable.

    Args:
        cs: Test clusters with the truth column ``variable``.
        scores: float [N] P(signal).
        threshold: Operating threshold.
        variable: One of :data:`VARIABLES` (crossing angle is binned in absolute value).
        n_bins: Number of quantile bins.

    Returns:
        ``{"variable", "label", "unit", "edges", "centres", "n", "lost", "rate", "error"}``
        (lists), or ``None`` if the truth column is missing or has no finite signal values.
    """
    if variable not in cs.truth:
        return None
    v = np.asarray(cs.truth[variable], np.float64)
    if variable == "crossing_angle":
        v = np.abs(v)
    sig = (cs.label == 1) & np.isfinite(v)
    if not sig.any():
        return None
    vs = v[sig]
    lost = np.asarray(scores)[sig] < threshold
    edges = np.unique(np.quantile(vs, np.linspace(0, 1, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([vs.min(), vs.max() + 1e-9])
    idx = np.clip(np.searchsorted(edges, vs, side="right") - 1, 0, edges.size - 2)
    nb = edges.size - 1
    n = np.bincount(idx, minlength=nb)
    k = np.bincount(idx, weights=lost.astype(float), minlength=nb)
    centres = np.array([np.median(vs[idx == b]) if n[b] else np.nan for b in range(nb)])
    rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    label, unit = VARIABLES.get(variable, (variable, ""))
    return {
        "variable": variable,
        "label": label,
        "unit": unit,
        "edges": edges.tolist(),
        "centres": centres.tolist(),
        "n": n.astype(int).tolist(),
        "lost": k.astype(int).tolist(),
        "rate": rate.tolist(),
        "error": _binomial_error(k, n).tolist(),
    }


def noise_removed_by_kind(
    cs: ClusterSet, scores: np.ndarray, threshold: float
) -> dict[str, dict[str, float]] | None:
    """Fraction of each noise kind called noise.

    Returns:
        Kind name -> ``{"n", "removed", "rate", "error"}``, or ``None`` without truth.
    """
    if "noise_kind" not in cs.truth:
        return None
    kinds = cs.truth["noise_kind"]
    removed = np.asarray(scores) < threshold
    out: dict[str, dict[str, float]] = {}
    for code, name in enumerate(NOISE_KINDS):
        if code == 0:
            continue
        m = kinds == code
        n = int(m.sum())
        if n == 0:
            continue
        k = int(removed[m].sum())
        out[name] = {
            "n": n,
            "removed": k,
            "rate": k / n,
            "error": float(_binomial_error(np.array(k), np.array(n))),
        }
    return out


def physics_breakdown(
    cs: ClusterSet, scores: np.ndarray, threshold: float, n_bins: int = 8
) -> dict[str, Any]:
    """All breakdowns: ``{"signal_lost": {var: ...}, "noise_removed": {...}}``."""
    return {
        "signal_lost": {
            v: r for v in VARIABLES if (r := signal_lost_vs(cs, scores, threshold, v, n_bins))
        },
        "noise_removed": noise_removed_by_kind(cs, scores, threshold),
    }
