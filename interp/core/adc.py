"""Cluster charge in the integer ADC dtype it is: uint8 for an 8-bit ADC, uint16 for 16-bit.

A TPC's ADC gives integer counts (NA61: 8 bits, 0-255). Kept as uint8, one event of 28,764
clusters x 11 x 20 is 6.3 MB instead of 25 MB of float32, and a full-profile chamber (2.9 M
clusters) 0.64 GB instead of 2.5 GB. Every model converts its input to float32 itself (the
preprocessing's first op), exactly: float32 holds every integer below 2**24, so results are
bit-identical to those on float32 whole numbers.

The rule (:func:`adc_dtype`): the 8/16-bit integer dtypes (:data:`INTEGER_ADC_DTYPES`) are
kept; any other input whose values are all integers in [0, 255] becomes uint8, in
[0, 65535] uint16; anything else (negative, fractional, larger, NaN) is not compacted.
"""

from __future__ import annotations

import numpy as np

from interp.core.aligned import aligned_empty

INTEGER_ADC_DTYPES: tuple[type, ...] = (np.uint8, np.int8, np.uint16, np.int16)
"""Integer ADC dtypes kept as they are (every consumer converts to float32 where it computes)."""

_CHECK_ELEMENTS = 1 << 22
"""Elements per pass of the whole-number check (16 MB of float32): no full-size temporary."""


def rows_per_block(charge: np.ndarray) -> int:
    """Clusters per pass of a blockwise check over ``charge`` [N, ...] (about
    :data:`_CHECK_ELEMENTS` elements, at least 1 cluster)."""
    return max(1, _CHECK_ELEMENTS // max(int(np.prod(charge.shape[1:])), 1))


def adc_dtype(charge: np.ndarray) -> np.dtype | None:
    """The smallest unsigned integer dtype that holds ``charge`` exactly, or ``None``.

    Args:
        charge: [N, ...] real ADC, any dtype.

    Returns:
        ``charge.dtype`` for :data:`INTEGER_ADC_DTYPES`; uint8 when every value is an integer
        in [0, 255], uint16 for [0, 65535]; ``None`` otherwise (and for an empty array). Floats
        are checked in blocks of :data:`_CHECK_ELEMENTS`, so no full-size copy is made.
    """
    charge = np.asarray(charge)
    if charge.dtype in INTEGER_ADC_DTYPES:
        return charge.dtype
    if charge.size == 0 or not (
        np.issubdtype(charge.dtype, np.integer) or np.issubdtype(charge.dtype, np.floating)
    ):
        return None
    step, hi = rows_per_block(charge), -np.inf
    for start in range(0, len(charge), step):
        block = charge[start : start + step]
        b_lo, b_hi = float(block.min()), float(block.max())
        if not (b_lo >= 0 and b_hi <= 65535):  # also false for NaN
            return None
        if np.issubdtype(block.dtype, np.floating) and not np.array_equal(block, np.rint(block)):
            return None
        hi = max(hi, b_hi)
    return np.dtype(np.uint8 if hi <= 255 else np.uint16)


def compact_adc(charge: np.ndarray) -> np.ndarray:
    """ADC windows in the smallest integer dtype that holds them exactly, else unchanged.

    Args:
        charge: [N, P, T] real ADC.

    Returns:
        [N, P, T] uint8 or uint16 (a 64-byte aligned copy) when :func:`adc_dtype` finds one,
        ``charge`` itself when it is already an integer ADC dtype or cannot be compacted.
    """
    charge = np.asarray(charge)
    dtype = adc_dtype(charge)
    if dtype is None or dtype == charge.dtype:
        return charge
    out = aligned_empty(charge.shape, dtype)
    step = rows_per_block(charge)
    for start in range(0, len(charge), step):
        out[start : start + step] = charge[start : start + step]  # exact: whole numbers in range
    return out


__all__ = ["INTEGER_ADC_DTYPES", "adc_dtype", "compact_adc"]
