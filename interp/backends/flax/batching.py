"""Deterministic batching: every epoch's order is a pure function of (seed, epoch).

Resuming from a checkpoint after epoch ``e`` therefore replays exactly the batches an
uninterrupted run would have seen in epochs ``e + 1, ...``.
"""

from __future__ import annotations

import numpy as np

TRAIN_STREAM = 0
"""Stream id of the training epochs."""
LR_FINDER_STREAM = 1
"""Stream id of the LR range finder (independent of the training order)."""


def epoch_permutation(n: int, seed: int, epoch: int, stream: int = TRAIN_STREAM) -> np.ndarray:
    """Random order of ``n`` items, fixed by (seed, epoch, stream).

    Args:
        n: Number of items.
        seed: Run seed.
        epoch: Epoch number (any non-negative integer).
        stream: Independent stream id (:data:`TRAIN_STREAM`, :data:`LR_FINDER_STREAM`).

    Returns:
        int64 [n] permutation of ``arange(n)``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(stream)]))
    return rng.permutation(n)


def epoch_batches(
    n: int, batch_size: int, seed: int, epoch: int, stream: int = TRAIN_STREAM
) -> np.ndarray:
    """Index batches of one epoch; the incomplete last batch is dropped (fixed shapes).

    Args:
        n: Number of training items (>= 1).
        batch_size: Items per batch; clipped to ``n``.
        seed: Run seed.
        epoch: Epoch number.
        stream: Stream id.

    Returns:
        int32 [n // batch_size, batch_size] indices into the training arrays.
    """
    b = min(int(batch_size), int(n))
    perm = epoch_permutation(n, seed, epoch, stream)
    steps = n // b
    return perm[: steps * b].reshape(steps, b).astype(np.int32)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps per epoch for ``n`` training items (see :func:`epoch_batches`)."""
    return int(n) // min(int(batch_size), int(n))
