"""Track segments crossing a pad row: ionisation, diffusion, gas gain, pad and time response."""

from __future__ import annotations

import dataclasses

import numpy as np

from interp.data.chambers import ChamberPreset
from interp.data.simulator.electronics import peaking_bins, response_matrices
from interp.data.simulator.ionisation import (
    mean_electrons_per_primary,
    sample_cluster_sizes,
    sample_primaries,
)

MAX_MACRO_CHARGES: int = 120
"""Numerical cap on sampled primary clusters per segment (speed; a MIP segment has ~76-110)."""

SUBBINS: tuple[int, int] = (2, 2)
"""Sub-bins per pad and per time bin of the grid electrons are histogrammed on."""


@dataclasses.dataclass
class Segments:
    """Track segments, one row per segment; several segments may share a cluster.

    Attributes:
        cluster: int64 [S], index of the cluster (canvas) the segment is drawn into.
        x0: float64 [S], segment centre along pads (canvas pad units).
        t0: float64 [S], time bin where the segment centre's signal peaks (canvas bins).
        phi_deg: float64 [S], crossing angle (deg) vs the pad-row normal.
        tan_dip: float64 [S], tan of the dip angle.
        drift_cm: float64 [S], drift length (cm).
        dedx: float64 [S], ionisation relative to a minimum-ionising track.
        row_fraction: float64 [S], fraction of the pad length crossed (1 = full row).
    """

    cluster: np.ndarray
    x0: np.ndarray
    t0: np.ndarray
    phi_deg: np.ndarray
    tan_dip: np.ndarray
    drift_cm: np.ndarray
    dedx: np.ndarray
    row_fraction: np.ndarray

    @staticmethod
    def concatenate(parts: list[Segments]) -> Segments:
        """Joins several segment tables."""
        return Segments(
            *(
                np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(Segments)
            )
        )


def _electrons(
    rng: np.random.Generator, seg: Segments, preset: ChamberPreset
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples the drifted primary-ionisation clusters of all segments.

    Returns:
        (segment index int64 [E], pad position float32 [E] (pads), arrival time float32 [E]
        (bins; the shaper peaks at ``t0``), charge float32 [E] (ADC at the shaper peak)),
        one entry per primary collision.
    """
    phi = np.deg2rad(seg.phi_deg)
    cos_phi = np.cos(phi)
    cos_dip = 1.0 / np.sqrt(1.0 + seg.tan_dip**2)
    length_mm = preset.pad_length_mm * seg.row_fraction
    path_cm = 0.1 * length_mm / (cos_phi * cos_dip)
    n_prim = sample_primaries(rng, path_cm, seg.dedx, preset.primaries_per_cm)
    dx_pads = length_mm * np.tan(phi) / preset.pad_width_mm
    dt_bins = length_mm / cos_phi * seg.tan_dip / preset.mm_per_time_bin

    # long, dense segments (deltas, fragments, slow protons) are sampled with at most
    # MAX_MACRO_CHARGES macro-charges, each standing for n_prim / n_macro primary clusters
    n_macro = np.minimum(n_prim, MAX_MACRO_CHARGES)
    boost = n_prim / np.maximum(n_macro, 1)
    p_seg = np.repeat(np.arange(len(n_prim)), n_macro)
    n_p = p_seg.size
    f32 = np.float32
    size = sample_cluster_sizes(rng, n_p, preset.max_electrons_per_primary)
    theta1 = preset.polya_theta + 1.0
    # the sum of k Polya gains is Gamma(k (theta + 1)) / (theta + 1)
    charge = rng.standard_gamma(size.astype(f32) * f32(theta1), dtype=f32)
    charge *= f32(1.0 / theta1)  # electrons after gain / gas_gain
    # a macro-charge standing for b primaries keeps their summed mean and variance:
    # b * mu + sqrt(b) * (q - mu), never negative for b >= 1
    b = boost[p_seg].astype(f32)
    mu = f32(mean_electrons_per_primary(preset.max_electrons_per_primary))
    charge = b * mu + np.sqrt(b) * (charge - mu)
    charge *= f32(preset.gas_gain * preset.adc_per_electron)
    # each primary cluster drifts as one macro-charge with the single-electron diffusion
    # (same mean profile as per-electron smearing, ~3x faster)
    sqrt_z = np.sqrt(seg.drift_cm)
    sig_t = preset.diffusion_t_mm_per_sqrt_cm / np.sqrt(1.0 + preset.omega_tau**2)
    sig_x = (sig_t / preset.pad_width_mm * sqrt_z).astype(f32)
    sig_tb = (preset.diffusion_l_mm_per_sqrt_cm / preset.mm_per_time_bin * sqrt_z).astype(f32)
    s = rng.random(n_p, dtype=f32) - f32(0.5)
    x = seg.x0.astype(f32)[p_seg] + s * dx_pads.astype(f32)[p_seg]
    x += sig_x[p_seg] * rng.standard_normal(n_p, dtype=f32)
    t = (seg.t0 - peaking_bins(preset)).astype(f32)[p_seg] + s * dt_bins.astype(f32)[p_seg]
    t += sig_tb[p_seg] * rng.standard_normal(n_p, dtype=f32)
    return p_seg, x, t, charge


def deposit_segments(
    rng: np.random.Generator,
    seg: Segments,
    n_clusters: int,
    canvas: tuple[int, int],
    preset: ChamberPreset,
) -> np.ndarray:
    """Noise-free signal of the segments on ``n_clusters`` canvases.

    Args:
        seg: Segments with ``cluster`` in ``[0, n_clusters)``.
        canvas: (pads, time bins) of each canvas.

    Returns:
        float32 [n_clusters, pads, time bins], ADC before noise and digitisation.
    """
    sp, st = SUBBINS
    fp, ft = canvas[0] * sp, canvas[1] * st
    e_seg, x, t, w = _electrons(rng, seg, preset)
    kx = np.floor((x + 0.5) * sp).astype(np.int64)
    kt = np.floor((t + 0.5) * st).astype(np.int64)
    ok = (kx >= 0) & (kx < fp) & (kt >= 0) & (kt < ft)
    # pad-major layout [fp, N, ft]: both GEMMs then run on contiguous memory
    flat = (kx[ok] * n_clusters + seg.cluster[e_seg[ok]]) * ft + kt[ok]
    hist = np.bincount(flat, weights=w[ok], minlength=n_clusters * fp * ft)
    pad_m, time_m = response_matrices(preset, canvas, SUBBINS)
    shaped = hist.astype(np.float32).reshape(fp * n_clusters, ft) @ time_m.T
    out = pad_m @ shaped.reshape(fp, n_clusters * canvas[1])
    return out.reshape(canvas[0], n_clusters, canvas[1]).transpose(1, 0, 2)
