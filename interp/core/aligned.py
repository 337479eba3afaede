"""64-byte aligned host arrays, so XLA:CPU can use them without a copy.

``jax.device_put`` (and a jitted call given a numpy argument) on the CPU backend wraps a numpy
buffer in place when its address is a multiple of :data:`XLA_ALIGN` bytes and copies it
otherwise. numpy's large allocations usually sit 16 bytes past a page boundary, so they are
copied: measured on the 2-core VM (``benchmarks/speed.py`` machine), handing one 28,764-cluster
event (25 MB of float32 11x20 windows) to XLA took 7.2 ms unaligned vs 0.12 ms aligned, longer
than the perceptron's whole forward pass. :class:`interp.core.schema.ClusterSet` therefore keeps its
``charge`` aligned, and the inference paths pass aligned chunks straight through.
"""

from __future__ import annotations

import numpy as np

XLA_ALIGN = 64
"""Bytes; the alignment XLA:CPU requires for a zero-copy host buffer."""


def is_aligned(a: np.ndarray, align: int = XLA_ALIGN) -> bool:
    """Whether ``a`` is C-contiguous and starts on an ``align``-byte boundary."""
    return bool(a.flags.c_contiguous) and a.ctypes.data % align == 0


def aligned_empty(
    shape: tuple[int, ...], dtype: np.dtype | type, align: int = XLA_ALIGN
) -> np.ndarray:
    """Uninitialised C-contiguous array whose data start on an ``align``-byte boundary.

    Args:
        shape: Array shape.
        dtype: Element type.
        align: Alignment in bytes (a multiple of the element size).

    Returns:
        A writable view into a slightly larger byte buffer (kept alive by ``.base``).
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(nbytes + align, np.uint8)
    offset = (-buf.ctypes.data) % align
    return buf[offset : offset + nbytes].view(dtype).reshape(shape)


def as_aligned(
    a: np.ndarray, dtype: np.dtype | type | None = None, align: int = XLA_ALIGN
) -> np.ndarray:
    """``a`` itself if already aligned, C-contiguous and of ``dtype``, else one aligned copy.

    Args:
        a: Any numpy array (or array-like).
        dtype: Element type of the result (default: ``a``'s); a conversion and the alignment
            happen in the same single copy.
        align: Alignment in bytes.

    Returns:
        An array equal to ``a`` (converted to ``dtype``) satisfying :func:`is_aligned`.
    """
    a = np.asarray(a)
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.dtype == dtype and (a.size == 0 or is_aligned(a, align)):
        return a
    out = aligned_empty(a.shape, dtype, align)
    np.copyto(out, a, casting="unsafe")
    return out
