"""Block timing shared by the benchmark scripts: millisecond-scale paths are timed as the mean
of a block of back-to-back calls, so one scheduler hiccup on a shared machine does not decide
a repeat; the scripts interleave the blocks of the paths they compare."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def inner_calls(fn: Callable[[], Any], target_s: float = 0.2) -> int:
    """Calls per timed block so that one block of ``fn`` lasts ~``target_s`` (1 to 200)."""
    t = time.perf_counter()
    jax.block_until_ready(fn())
    return int(np.clip(round(target_s / max(time.perf_counter() - t, 1e-6)), 1, 200))


def block_seconds(fn: Callable[[], Any], calls: int) -> float:
    """Mean wall seconds of ``calls`` back-to-back calls of ``fn``, each waited for."""
    t = time.perf_counter()
    for _ in range(calls):
        jax.block_until_ready(fn())
    return (time.perf_counter() - t) / calls
