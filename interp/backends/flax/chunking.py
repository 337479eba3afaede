"""The inference chunk plan: fixed-shape pieces of an event for compiled calls.

Used by ``FlaxClassifier.logits``, the sharded predictor and ONNX Runtime: few distinct shapes
are ever compiled (:func:`bucket_size`, :func:`ladder_chunks`), and tails are zero-padded
(:func:`pad_to`). Training batches are :mod:`interp.backends.flax.batching`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges covering ``0..n`` in pieces of at most ``size``."""
    for start in range(0, n, size):
        yield start, min(start + size, n)


def pad_to(x: np.ndarray, size: int) -> np.ndarray:
    """Pads ``x`` along axis 0 with zeros to exactly ``size`` rows (``len(x) <= size``)."""
    if len(x) == size:
        return x
    pad = np.zeros((size - len(x), *x.shape[1:]), dtype=x.dtype)
    return np.concatenate([x, pad])


def bucket_size(n: int, max_size: int, min_size: int = 64) -> int:
    """Fixed batch size for ``n`` items: ``max_size``, or the next power of two if smaller.

    Keeps the number of distinct compiled shapes logarithmic in ``max_size``.
    """
    if n >= max_size:
        return int(max_size)
    size = max(int(min_size), 1 << max(int(n) - 1, 0).bit_length())
    return int(min(size, max_size))


def ladder_chunks(n: int, max_size: int, min_size: int) -> Iterator[tuple[int, int, int]]:
    """``(start, stop, padded_size)`` pieces covering ``0..n`` for fixed-shape compiled calls.

    Full ``max_size`` pieces first, then the rest in descending powers of two down to
    ``min_size`` (each an exact slice: no padding copy, and 64-byte aligned when the input is,
    since starts are multiples of ``min_size >= 64`` rows), then a last piece shorter than
    ``min_size`` zero-padded to :func:`bucket_size`. At most ``log2(max_size / min_size) + 2``
    shapes are ever compiled. With ``min_size == max_size`` this is one padded tail piece.

    Args:
        n: Number of items.
        max_size: Largest piece (a power of two times ``min_size``).
        min_size: Smallest unpadded piece (>= 64).

    Yields:
        ``(start, stop, padded_size)`` with ``stop - start <= padded_size``.
    """
    if min_size < 64 or max_size < min_size:
        raise ValueError(f"need 64 <= min_size <= max_size, got {min_size}, {max_size}")
    start = 0
    while n - start >= max_size:
        yield start, start + max_size, max_size
        start += max_size
    size = max_size // 2
    while size >= min_size:
        if n - start >= size:
            yield start, start + size, size
            start += size
        size //= 2
    if start < n:
        yield start, n, bucket_size(n - start, max_size)


_POOLS: dict[int, ThreadPoolExecutor] = {}


def run_pieces(
    pieces: Iterable[tuple[int, int, int]],
    call: Callable[[int, int, int], None],
    streams: int = 1,
) -> None:
    """Runs ``call(start, stop, size)`` for every piece of a chunk plan, at most ``streams``
    at once.

    ``streams == 1`` runs them in order in this thread. Otherwise ``streams`` worker threads
    (one shared pool per count) each take the next piece and run it to completion: the
    compiled calls release the GIL, so on a CPU whose single call leaves cores idle (the
    ResNet's XLA and ONNX Runtime calls on 2 cores) two calls in flight fill them. ``call``
    writes its own rows of a preallocated output, so the pieces need no order. The first
    exception of a piece is raised after every piece in flight has finished.
    """
    if streams <= 1:
        for piece in pieces:
            call(*piece)
        return
    pool = _POOLS.get(streams)
    if pool is None:
        pool = _POOLS[streams] = ThreadPoolExecutor(streams, thread_name_prefix="tpc-chunks")
    jobs = [pool.submit(call, *piece) for piece in pieces]
    wait(jobs)
    for job in jobs:
        job.result()
