"""Raw ADC windows as the fused forward takes them (dtype and 64-byte alignment).

Raw windows may be float or 8/16-bit integer ADC (:data:`INTEGER_ADC_DTYPES`, the dtype a
:class:`~interp.core.schema.ClusterSet` keeps, see :mod:`interp.core.adc`), converted to
float32 inside the compiled call.
"""

from __future__ import annotations

import numpy as np

from interp.core.adc import INTEGER_ADC_DTYPES
from interp.core.aligned import as_aligned


def as_model_input(charge: np.ndarray) -> np.ndarray:
    """Raw windows as the fused forward takes them: float16/float32 and the 8/16-bit integer
    ADC dtypes (:data:`INTEGER_ADC_DTYPES`) kept, anything else converted to float32, 64-byte
    aligned (one copy at most; see :mod:`interp.core.aligned`)."""
    charge = np.asarray(charge)
    keep = (
        np.issubdtype(charge.dtype, np.floating) and charge.dtype != np.float64
    ) or charge.dtype in INTEGER_ADC_DTYPES
    return as_aligned(charge, None if keep else np.float32)


__all__ = ["INTEGER_ADC_DTYPES", "as_model_input"]
