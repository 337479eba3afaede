"""``benchmarks/timing.py``: the block timing every speed benchmark interleaves."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import block_seconds, inner_calls


def test_block_seconds_is_the_mean_of_calls_each_waited_for() -> None:
    seen = []

    def fn() -> list[int]:
        time.sleep(0.01)
        seen.append(1)
        return seen

    s = block_seconds(fn, 5)
    assert len(seen) == 5
    assert 0.01 <= s < 0.03  # the mean per call, not the block's total (>= 0.05)


def test_inner_calls_fills_the_target_within_bounds() -> None:
    assert inner_calls(lambda: time.sleep(0.3), target_s=0.2) == 1
    assert inner_calls(lambda: None, target_s=0.2) == 200
    assert 3 <= inner_calls(lambda: time.sleep(0.02), target_s=0.1) <= 5
