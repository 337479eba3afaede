"""Is mirroring across pads a symmetry of the data? A check for pad-mirror test-time augmentation.

Mirroring a window across pads (``charge[:, ::-1, :]``, pad ``p`` -> ``P - 1 - p``) flips the
sign of the track's crossing angle. It is a symmetry of the data if the crossing-angle
distribution is symmetric about zero. Two per-cluster observables, each compared with its
mirror image by a two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``):

* ``slope``: pad-centroid slope, pads per time bin: the charge-weighted least-squares slope of
  the per-time-bin pad centroid ``c_t = sum_p p q_pt / sum_p q_pt`` over time, with weights
  ``sum_p q_pt`` (0 for a cluster with charge in fewer than two time bins); mirrored: ``-slope``;
* ``asymmetry``: pad asymmetry ``(Q_upper - Q_lower) / Q`` of the charge above and below the
  centre pad; mirrored: ``-asymmetry``.

The KS test is very sensitive for large samples, so the KS statistic (the largest distance of
the two CDFs, a size of the asymmetry) is reported besides the p-value, and the verdict
``symmetric`` needs ``statistic <= max_statistic`` (default 0.02) or ``p >= alpha``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from interp.core.schema import ClusterSet

MAX_CHECKED = 50_000
"""Clusters compared at most (a seeded subset of bigger sets)."""


def pad_centroid_slope(charge: np.ndarray) -> np.ndarray:
    """Pad-centroid slope per cluster, float64 [N] in pads per time bin (see module docstring).

    Args:
        charge: float [N, P, T] ADC (negative values count as 0).
    """
    q = np.clip(np.asarray(charge, np.float64), 0.0, None)
    n, n_pads, n_time = q.shape
    w = q.sum(axis=1)  # [N, T]
    c = (q * np.arange(n_pads)[None, :, None]).sum(axis=1) / np.where(w > 0, w, 1.0)
    t = np.broadcast_to(np.arange(n_time, dtype=np.float64), (n, n_time))
    sw = w.sum(axis=1)
    sw_safe = np.where(sw > 0, sw, 1.0)
    tm = (w * t).sum(axis=1) / sw_safe
    cm = (w * c).sum(axis=1) / sw_safe
    var = (w * (t - tm[:, None]) ** 2).sum(axis=1)
    cov = (w * (t - tm[:, None]) * (c - cm[:, None])).sum(axis=1)
    ok = ((w > 0).sum(axis=1) >= 2) & (var > 0)
    return np.where(ok, cov / np.where(var > 0, var, 1.0), 0.0)


def pad_asymmetry(charge: np.ndarray) -> np.ndarray:
    """``(Q_upper - Q_lower) / Q`` per cluster, float64 [N] in [-1, 1] (pads above vs below
    the centre pad; 0 for an empty window)."""
    q = np.clip(np.asarray(charge, np.float64), 0.0, None)
    per_pad = q.sum(axis=2)  # [N, P]
    n_pads = per_pad.shape[1]
    half = n_pads // 2
    lower = per_pad[:, :half].sum(axis=1)
    upper = per_pad[:, n_pads - half :].sum(axis=1)
    total = per_pad.sum(axis=1)
    return np.where(total > 0, (upper - lower) / np.where(total > 0, total, 1.0), 0.0)


def _ks(x: np.ndarray) -> dict[str, float]:
    from scipy.stats import ks_2samp

    res = ks_2samp(x, -x)
    return {"mean": float(x.mean()), "ks_statistic": float(res.statistic),
            "ks_pvalue": float(res.pvalue)}  # fmt: skip


def pad_mirror_check(
    data: ClusterSet, alpha: float = 0.01, max_statistic: float = 0.02, seed: int = 0
) -> dict[str, Any]:
    """Compares the crossing-angle observables of one chamber's clusters with their mirror.

    Args:
        data: Clusters of one chamber (labels unused).
        alpha: KS p-value at or above which a distribution counts as symmetric.
        max_statistic: KS statistic at or below which it counts as symmetric anyway.
        seed: Seed of the subset drawn when ``data`` holds more than :data:`MAX_CHECKED`.

    Returns:
        ``{"chamber", "n", "slope": {"mean", "ks_statistic", "ks_pvalue"}, "asymmetry": {...},
        "symmetric"}``; ``symmetric`` is true when both observables pass.
    """
    charge = data.charge
    if len(data) > MAX_CHECKED:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2718]))
        charge = charge[np.sort(rng.choice(len(data), MAX_CHECKED, replace=False))]
    out: dict[str, Any] = {"chamber": data.chamber, "n": int(charge.shape[0])}
    if charge.shape[0] == 0:
        return {**out, "slope": None, "asymmetry": None, "symmetric": None}
    out["slope"] = _ks(pad_centroid_slope(charge))
    out["asymmetry"] = _ks(pad_asymmetry(charge))
    out["symmetric"] = all(
        out[k]["ks_pvalue"] >= alpha or out[k]["ks_statistic"] <= max_statistic
        for k in ("slope", "asymmetry")
    )
    return out


def symmetry_line(check: dict[str, Any]) -> str:
    """One line for logs and reports: ``pad-mirror symmetry VTPC2 (n = 5,000): slope KS D =
    0.011 (p = 0.42), asymmetry KS D = 0.009 (p = 0.61): symmetric``."""
    if check.get("symmetric") is None:
        return f"pad-mirror symmetry {check['chamber']}: no clusters"
    s, a = check["slope"], check["asymmetry"]
    verdict = "symmetric" if check["symmetric"] else "NOT symmetric (pad-mirror TTA is biased)"
    return (
        f"pad-mirror symmetry {check['chamber']} (n = {check['n']:,}): slope KS D = "
        f"{s['ks_statistic']:.3f} (p = {s['ks_pvalue']:.2g}, mean {s['mean']:+.3f} pads/bin), "
        f"asymmetry KS D = {a['ks_statistic']:.3f} (p = {a['ks_pvalue']:.2g}): {verdict}"
    )


def symmetry_words(check: Mapping[str, Any] | None) -> str:
    """``symmetric: D = 0.011, p = 0.42 (slope); D = 0.009, p = 0.61 (asymmetry)``."""
    if not check or check.get("symmetric") is None:
        return "symmetry not checked (no clusters)"
    s, a = check["slope"], check["asymmetry"]
    verdict = "symmetric" if check["symmetric"] else "NOT symmetric"
    return (
        f"{verdict}: D = {s['ks_statistic']:.3f}, p = {s['ks_pvalue']:.2g} (crossing-angle "
        f"slope); D = {a['ks_statistic']:.3f}, p = {a['ks_pvalue']:.2g} (pad asymmetry), "
        f"n = {check['n']:,}"
    )
