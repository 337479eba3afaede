"""Simple per-cluster shape features (used by summaries, tests and physics breakdowns)."""

from __future__ import annotations

import numpy as np


def _axis_rms(charge: np.ndarray, axis: int) -> np.ndarray:
    """Charge-weighted RMS of the pixel index along one window axis."""
    profile = np.clip(charge, 0, None).sum(axis=axis)  # [N, L]
    idx = np.arange(profile.shape[1], dtype=np.float64)
    total = profile.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mean = (profile * idx).sum(axis=1) / safe
    var = (profile * (idx[None, :] - mean[:, None]) ** 2).sum(axis=1) / safe
    return np.where(total > 0, np.sqrt(var), np.nan).astype(np.float32)


def pad_rms(charge: np.ndarray) -> np.ndarray:
    """Charge-weighted RMS width across pads.

    Args:
        charge: [N, P, T] ADC.

    Returns:
        float32 [N], in pads (NaN for empty windows).
    """
    return _axis_rms(np.asarray(charge), axis=2)


def time_rms(charge: np.ndarray) -> np.ndarray:
    """Charge-weighted RMS width along time.

    Args:
        charge: [N, P, T] ADC.

    Returns:
        float32 [N], in time bins (NaN for empty windows).
    """
    return _axis_rms(np.asarray(charge), axis=1)


def total_charge(charge: np.ndarray) -> np.ndarray:
    """Sum of ADC counts per cluster, float64 [N]."""
    return np.asarray(charge, dtype=np.float64).reshape(len(charge), -1).sum(axis=1)


def occupancy(charge: np.ndarray) -> np.ndarray:
    """Fraction of non-zero pixels per cluster, float32 [N]."""
    c = np.asarray(charge)
    return (c.reshape(len(c), -1) > 0).mean(axis=1).astype(np.float32)
