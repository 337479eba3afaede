"""Front-end electronics: pad response, shaping, correlated noise, digitisation.

Coordinates: pads are indexed by their centre (pad ``i`` spans ``[i - 0.5, i + 0.5)`` in pad
units); time bin ``j`` is sampled at time ``j`` (time-bin units).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import ndtr

from interp.data.chambers import ChamberPreset


def pad_response_matrix(n_pads: int, sub: int, prf_sigma_pads: float) -> np.ndarray:
    """Fraction of charge induced on each pad by a point charge at each sub-pad position.

    Charge on pad i = Phi((x_i + 1/2 - x) / s) - Phi((x_i - 1/2 - x) / s), in pad units.

    Args:
        n_pads: Pads on the canvas.
        sub: Sub-bins per pad of the deposit grid.
        prf_sigma_pads: PRF sigma (pads).

    Returns:
        float32 [n_pads, n_pads * sub].
    """
    x = (np.arange(n_pads * sub) + 0.5) / sub - 0.5
    i = np.arange(n_pads)[:, None]
    a = ndtr((i + 0.5 - x) / prf_sigma_pads) - ndtr((i - 0.5 - x) / prf_sigma_pads)
    return a.astype(np.float32)


def shaping_response(dt_ns: np.ndarray, preset: ChamberPreset) -> np.ndarray:
    """Semi-Gaussian shaper with undershoot, peak 1 at the peaking time.

    h(t) = (t/tau)^n exp(-n (t/tau - 1)) - u (1 - exp(-t/tau)) exp(-t/tau_u), for t > 0.

    Args:
        dt_ns: Time since the charge arrived (ns), any shape.

    Returns:
        float64, same shape as ``dt_ns``.
    """
    n, tau = preset.shaping_order, preset.peaking_time_ns
    t = np.maximum(dt_ns, 0.0) / tau
    main = t**n * np.exp(-n * (t - 1.0))
    under = (
        preset.undershoot_fraction
        * (1.0 - np.exp(-t))
        * np.exp(-np.maximum(dt_ns, 0.0) / preset.undershoot_time_ns)
    )
    return np.where(dt_ns > 0, main - under, 0.0)


def time_response_matrix(n_bins: int, sub: int, preset: ChamberPreset) -> np.ndarray:
    """Signal in each time bin from unit charge arriving at each sub-bin time.

    Returns:
        float32 [n_bins, n_bins * sub].
    """
    t_arrive = (np.arange(n_bins * sub) + 0.5) / sub - 0.5
    j = np.arange(n_bins)[:, None]
    return shaping_response((j - t_arrive) * preset.time_bin_ns, preset).astype(np.float32)


def peaking_bins(preset: ChamberPreset) -> float:
    """Delay between charge arrival and the shaper peak (time bins)."""
    return preset.peaking_time_ns / preset.time_bin_ns


@functools.lru_cache(maxsize=16)
def response_matrices(
    preset: ChamberPreset, canvas: tuple[int, int], sub: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Cached (pad matrix [CP, CP*sp], time matrix [CT, CT*st]) for a canvas."""
    pads = pad_response_matrix(canvas[0], sub[0], preset.prf_sigma_mm / preset.pad_width_mm)
    times = time_response_matrix(canvas[1], sub[1], preset)
    return pads, times


def correlated_noise(
    rng: np.random.Generator, shape: tuple[int, int, int], preset: ChamberPreset
) -> np.ndarray:
    """Stationary AR(1) noise along time plus common mode per card and time bin.

    The AR(1) sigma is ``noise_sigma_adc``; the common mode adds ``common_mode_fraction``
    times that, shared by the pads of one readout card.

    Args:
        shape: (N, pads, time bins).

    Returns:
        float32 [N, pads, time bins], ADC.
    """
    n, n_pads, n_t = shape
    sigma, rho = preset.noise_sigma_adc, preset.noise_rho
    # time-major layout so that the AR(1) recursion runs over contiguous slices
    noise = rng.standard_normal((n_t, n, n_pads), dtype=np.float32)
    noise *= np.float32(sigma)
    scale, rho32 = np.float32(np.sqrt(1.0 - rho * rho)), np.float32(rho)
    for j in range(1, n_t):
        noise[j] *= scale
        noise[j] += rho32 * noise[j - 1]
    if preset.common_mode_fraction > 0:
        # a card boundary at a random pad: pads left of it share one baseline, the rest another
        # (a window is narrower than two cards)
        boundary = rng.integers(0, preset.pads_per_card, size=n)
        left = np.arange(n_pads)[None, :] < boundary[:, None]  # [n, pads]
        cm = rng.standard_normal((n_t, n, 2), dtype=np.float32)
        cm *= np.float32(preset.common_mode_fraction * sigma)
        noise += np.where(left[None], cm[:, :, :1], cm[:, :, 1:])
    return noise.transpose(1, 2, 0)


def digitise(adc: np.ndarray, preset: ChamberPreset) -> np.ndarray:
    """Rounds, zero-suppresses below threshold and clips to the ADC range (in place).

    Args:
        adc: float32 [...], analogue signal plus noise (ADC).

    Returns:
        float32 [...], integers in {0} U [threshold, adc_max].
    """
    np.rint(adc, out=adc)
    adc[adc < preset.zs_threshold_adc] = 0.0
    np.minimum(adc, np.float32(preset.adc_max), out=adc)
    return adc
