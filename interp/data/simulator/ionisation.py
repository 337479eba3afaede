"""Primary ionisation and cluster-size statistics (Fischle et al., NIM A301 (1991) 202)."""

from __future__ import annotations

import functools

import numpy as np

FISCHLE_ARGON_HEAD: tuple[float, ...] = (0.656, 0.150, 0.064, 0.035, 0.0225)
"""[M] P(k electrons per primary), k = 1..5, argon; the rest is a 1/k^2 tail."""


@functools.lru_cache(maxsize=8)
def fischle_cdf(max_electrons: int) -> np.ndarray:
    """Cumulative distribution of electrons per primary collision, k = 1..max_electrons.

    Returns:
        float64 [max_electrons], the CDF at k = 1..max_electrons (last entry 1).
    """
    head = np.asarray(FISCHLE_ARGON_HEAD)
    k_tail = np.arange(len(head) + 1, max_electrons + 1, dtype=np.float64)
    tail = 1.0 / k_tail**2
    tail *= (1.0 - head.sum()) / tail.sum()
    cdf = np.cumsum(np.concatenate([head, tail]))
    cdf /= cdf[-1]
    cdf.setflags(write=False)
    return cdf


def mean_electrons_per_primary(max_electrons: int) -> float:
    """Mean cluster size (electrons per primary) of :func:`fischle_cdf`."""
    pmf = np.diff(fischle_cdf(max_electrons), prepend=0.0)
    return float(np.sum(pmf * np.arange(1, max_electrons + 1)))


TABLE_BITS: int = 20
"""Resolution of the inverse-CDF lookup table (2**20 entries, probabilities to ~1e-6)."""


@functools.lru_cache(maxsize=8)
def _inverse_cdf_table(max_electrons: int) -> np.ndarray:
    """int16 [2**TABLE_BITS]: cluster size at each quantile (midpoints of the table cells)."""
    u = (np.arange(2**TABLE_BITS) + 0.5) / 2**TABLE_BITS
    k = np.searchsorted(fischle_cdf(max_electrons), u, side="right").clip(0, max_electrons - 1)
    table = (k + 1).astype(np.int16)
    table.setflags(write=False)
    return table


def sample_cluster_sizes(rng: np.random.Generator, n: int, max_electrons: int) -> np.ndarray:
    """Electrons per primary collision, by inverse-CDF table lookup.

    Returns:
        int16 [n], values in 1..max_electrons.
    """
    return _inverse_cdf_table(max_electrons)[rng.integers(0, 2**TABLE_BITS, n)]


def sample_primaries(
    rng: np.random.Generator,
    path_cm: np.ndarray,
    dedx_scale: np.ndarray,
    primaries_per_cm: float,
) -> np.ndarray:
    """Number of primary collisions per segment, Poisson(primaries_per_cm * path * dE/dx).

    Args:
        path_cm: float [S], path length of each segment in the pad row (cm).
        dedx_scale: float [S], ionisation relative to a minimum-ionising track.

    Returns:
        int64 [S].
    """
    return rng.poisson(primaries_per_cm * path_cm * dedx_scale)
