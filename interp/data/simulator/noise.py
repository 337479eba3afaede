"""Noise clusters drawn directly in ADC: kinds (a) electronic, (b) cross-talk, (c) hot pad,
the small local maximum of (d) fragments, and (g) dead pads.

Each generator returns rank-1 deposits ``amp * pad_profile (x) time_profile`` centred on the
canvas centre ``(CP // 2, CT // 2)``.
"""

from __future__ import annotations

import numpy as np

from interp.data.chambers import ChamberPreset


def _outer(amp: np.ndarray, pads: np.ndarray, times: np.ndarray) -> np.ndarray:
    """float32 [n, CP, CT] = amp[n] * pads[n, CP] (x) times[n, CT]."""
    return (amp[:, None, None] * pads[:, :, None] * times[:, None, :]).astype(np.float32)


def small_bump(
    rng: np.random.Generator, n: int, canvas: tuple[int, int], amp: np.ndarray
) -> np.ndarray:
    """Peak of 1-2 pads x 2-4 time bins with height ``amp`` (ADC) at the canvas centre.

    Returns:
        float32 [n, CP, CT].
    """
    cp, ct = canvas[0] // 2, canvas[1] // 2
    rows = np.arange(n)
    pads = np.zeros((n, canvas[0]))
    pads[:, cp] = 1.0
    second = rng.random(n) < 0.5
    side = np.where(rng.random(n) < 0.5, -1, 1)
    pads[rows[second], cp + side[second]] = rng.uniform(0.3, 0.95, second.sum())
    times = np.zeros((n, canvas[1]))
    width = rng.integers(2, 5, n)  # 2-4 bins
    start = ct - rng.integers(0, width)  # centre bin somewhere in the pulse
    for k in range(4):
        on = k < width
        j = start + k
        dist = np.abs(j - ct)
        times[rows[on], j[on]] = np.where(dist[on] == 0, 1.0, rng.uniform(0.3, 0.9, on.sum()))
    return _outer(amp, pads, times)


def electronic(
    rng: np.random.Generator, n: int, canvas: tuple[int, int], preset: ChamberPreset
) -> np.ndarray:
    """(a) Electronic fluctuation over threshold: a low bump. float32 [n, CP, CT] (ADC)."""
    lo, hi = preset.electronic_amp_above_threshold
    amp = preset.zs_threshold_adc + rng.uniform(lo, hi, n)
    return small_bump(rng, n, canvas, amp)


def crosstalk(
    rng: np.random.Generator, n: int, canvas: tuple[int, int], preset: ChamberPreset
) -> np.ndarray:
    """(b) Pickup line along the pad axis in one time bin. float32 [n, CP, CT] (ADC)."""
    cp, ct = canvas[0] // 2, canvas[1] // 2
    lo, hi = preset.crosstalk_length_range
    length = rng.integers(lo, min(hi, canvas[0]) + 1, n)
    start = cp - (rng.random(n) * length).astype(np.int64)
    pad_idx = np.arange(canvas[0])[None, :]
    on = (pad_idx >= start[:, None]) & (pad_idx < (start + length)[:, None])
    # pickup is strongest on the source channel (the window centre), weaker along the line
    pads = on * rng.uniform(0.5, 0.9, (n, canvas[0]))
    pads[:, cp] = 1.0
    times = np.zeros((n, canvas[1]))
    times[:, ct] = 1.0
    amp = rng.uniform(*preset.crosstalk_amp_range, n)
    return _outer(amp, pads, times)


def hot_pad(
    rng: np.random.Generator, n: int, canvas: tuple[int, int], preset: ChamberPreset
) -> np.ndarray:
    """(c) Hot pad (constant offset) or ringing pad (damped oscillation) along time.

    Returns:
        float32 [n, CP, CT] (ADC).
    """
    cp, ct = canvas[0] // 2, canvas[1] // 2
    pads = np.zeros((n, canvas[0]))
    pads[:, cp] = 1.0
    j = np.arange(canvas[1])[None, :]
    start = np.full((n, 1), ct)  # ringing starts with its largest swing
    period = rng.uniform(3.0, 8.0, n)[:, None]
    decay = rng.uniform(3.0, 10.0, n)[:, None]
    dt = j - start
    ringing = np.where(dt >= 0, np.cos(2 * np.pi * dt / period) * np.exp(-dt / decay), 0.0)
    constant = rng.uniform(0.6, 0.9, (n, canvas[1]))  # offset fluctuating along time
    constant[:, ct] = 1.0  # the cluster finder's maximum
    ring = rng.random(n) < preset.hot_pad_ringing_prob
    times = np.where(ring[:, None], ringing, constant)
    amp = rng.uniform(*preset.hot_pad_amp_range, n)
    return _outer(amp, pads, times)


def fragment_bump(
    rng: np.random.Generator, n: int, canvas: tuple[int, int], preset: ChamberPreset
) -> np.ndarray:
    """(d) Small local maximum at the centre of a fragment window. float32 [n, CP, CT]."""
    lo, hi = preset.fragment_bump_above_threshold
    amp = preset.zs_threshold_adc + rng.uniform(lo, hi, n)
    return small_bump(rng, n, canvas, amp)


def apply_dead_pads(
    rng: np.random.Generator, windows: np.ndarray, preset: ChamberPreset
) -> np.ndarray:
    """(g) Zeroes one non-central pad column with probability ``dead_pad_prob`` (in place).

    Args:
        windows: float32 [N, P, T].

    Returns:
        int8 [N], number of dead pad columns per window.
    """
    n, n_pads, _ = windows.shape
    dead = rng.random(n) < preset.dead_pad_prob
    if n_pads < 2:
        return np.zeros(n, dtype=np.int8)
    offsets = rng.integers(1, n_pads, n)  # any column but the centre
    col = (n_pads // 2 + offsets) % n_pads
    windows[np.flatnonzero(dead), col[dead], :] = 0.0
    return dead.astype(np.int8)
