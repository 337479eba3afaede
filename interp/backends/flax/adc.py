"""Raw ADC windows as the fused forward takes them (dtype and 64-byte alignment).

Raw windows may be float or 8/16-bit integer ADC (:data:`INTEGER_ADC_DTYPES`), converted to
float32 inside the compiled call.
"""

from __future__ import annotations

import numpy as np

from interp.core.aligned import as_aligned

INTEGER_ADC_DTYPES = (np.uint8, np.int8, np.uint16, np.int16)
"""Integer ADC dtypes the fused forward reads as they are (converted to float32 inside the
compiled call, exactly): an 8-bit event is 6.3 MB instead of 25 MB of float32."""


def as_model_input(charge: np.ndarray) -> np.ndarray:
    """Raw windows as the fused forward takes them: float16/float32 and the 8/16-bit integer
    ADC dtypes (:data:`INTEGER_ADC_DTYPES`) kept, anything else converted to float32, 64-byte
    aligned (one copy at most; see :mod:`interp.core.aligned`)."""
    charge = np.asarray(charge)
    keep = (
        np.issubdtype(charge.dtype, np.floating) and charge.dtype != np.float64
    ) or charge.dtype in INTEGER_ADC_DTYPES
    return as_aligned(charge, None if keep else np.float32)


def compact_adc(charge: np.ndarray) -> np.ndarray:
    """ADC windows in the smallest integer dtype that holds them exactly, else unchanged.

    uint8 when every value is an integer in [0, 255] (the NA61 ADC's range), uint16 for
    [0, 65535]; anything else (negative, fractional, larger) is returned as it is. The
    conversion reads the array once; it pays off when the same windows are scored more than
    once, or when they are stored this way (``FlaxClassifier.logits`` reads integer ADC as
    it is, see :func:`as_model_input`).

    Args:
        charge: [N, P, T] real ADC.

    Returns:
        [N, P, T] uint8, uint16 or the input dtype (64-byte aligned when converted).
    """
    charge = np.asarray(charge)
    if charge.dtype in INTEGER_ADC_DTYPES or charge.size == 0:
        return charge
    lo, hi = float(charge.min()), float(charge.max())
    if lo < 0 or hi > 65535 or not np.array_equal(charge, np.floor(charge)):
        return charge
    return as_aligned(charge, np.uint8 if hi <= 255 else np.uint16)
