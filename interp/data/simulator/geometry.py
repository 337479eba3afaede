"""Events with geometry: tracks and noise in a chamber's pad rows x pads x time bins.

Coordinates (chamber frame): ``z`` along the beam, across pad rows (row ``r`` is centred at
``z = (r + 0.5) * pad_length``); ``x`` along a pad row (pad ``i`` centred at
``x = (i + 0.5) * pad_width``); ``y`` the drift distance (time bin ``j`` at
``y = j * mm_per_time_bin``, the shaper peak of charge drifted ``y``). The magnetic field is
along ``y``: charged tracks are helices (circles in x-z) in VTPC-2 and straight lines in MTPC-L
(``b_field_t = 0``).

What an event holds: primary tracks (pi, K, p, e with a momentum spectrum; dE/dx from the
Bethe-Bloch-like :func:`dedx_relative`) crossing the rows they reach, short low-momentum stubs
(noise kind (f): real charge no tracking attaches), delta electrons (e), electronic bumps (a) on
top of the correlated electronic noise, cross-talk lines (b), hot or ringing pads (c), fragment
bumps beside large deposits (d) and dead pad channels (g). Track-like sources go through the
window simulator's physics (:func:`interp.data.simulator.signal.deposit_segments`: ionisation,
diffusion, gain, pad and time response); noise templates come from
:mod:`interp.data.simulator.noise`; correlated noise and digitisation from
:mod:`interp.data.simulator.electronics`. Every source is drawn into its own layer of a source
stack, so each found cluster keeps its truth: the source with the largest noise-free charge at
its maximum (track id, particle and momentum for track clusters).

Deterministic in (seed, event): the generator is ``default_rng([seed, event_id, 16])``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from interp.data.chambers import ChamberPreset, get_chamber
from interp.data.simulator import noise
from interp.data.simulator.electronics import correlated_noise, digitise
from interp.data.simulator.signal import Segments, deposit_segments

PARTICLES: tuple[str, ...] = ("pion", "kaon", "proton", "electron")
"""Particle codes (index) of the ``particle`` truth column."""
MASSES_GEV: tuple[float, ...] = (0.13957, 0.49368, 0.93827, 0.000511)

# layers of the source stack
L_TRACK, L_STUB, L_DELTA, L_ELEC, L_XTALK, L_HOT, L_FRAG = range(7)
LAYER_KIND: tuple[int, ...] = (0, 6, 5, 1, 2, 3, 4)
"""Noise-kind code (``interp.core.schema.NOISE_KINDS``) of each source layer."""


@dataclasses.dataclass(frozen=True)
class EventGeometry:
    """Pad plane, drift volume and event composition of one chamber (values [E]).

    Attributes:
        n_rows, n_pads, n_time: Pad rows, pads per row, time bins.
        n_tracks: Primary tracks entering the chamber per event.
        particle_mix: Fractions of pi, K, p, e.
        p_median_gev, p_log_sigma: Log-normal momentum spectrum (GeV/c).
        beam_angle_rad: Angle of the chamber axis to the beam (sets p_T).
        angle_sigma_rad: Spread of the track direction in x-z at entry.
        n_stubs: (f) low-momentum stubs (2-5 rows) per event.
        n_deltas: (e) delta electrons (one large-angle segment each).
        n_electronic, n_crosstalk, n_hot, n_fragment: Noise objects of kinds (a)-(d).
        dead_channel_prob: (g) probability that a pad channel is dead.
    """

    n_rows: int = 72
    n_pads: int = 192
    n_time: int = 256
    n_tracks: int = 165
    particle_mix: tuple[float, float, float, float] = (0.70, 0.10, 0.15, 0.05)
    p_median_gev: float = 1.5
    p_log_sigma: float = 0.9
    beam_angle_rad: float = 0.12
    angle_sigma_rad: float = 0.10
    n_stubs: int = 600
    n_deltas: int = 800
    n_electronic: int = 4000
    n_crosstalk: int = 1000
    n_hot: int = 700
    n_fragment: int = 1500
    dead_channel_prob: float = 0.01


GEOMETRIES: dict[str, EventGeometry] = {
    "VTPC2": EventGeometry(),
    "MTPCL": EventGeometry(
        n_rows=90, n_tracks=135, beam_angle_rad=0.08, n_stubs=500, n_electronic=1000
    ),
}
"""Chamber name -> geometry; other chambers use the VTPC2 layout."""


def geometry_for(preset: ChamberPreset) -> EventGeometry:
    """The :class:`EventGeometry` of a chamber (VTPC2's for chambers not listed)."""
    return GEOMETRIES.get(preset.name, GEOMETRIES["VTPC2"])


def dedx_relative(beta_gamma: np.ndarray) -> np.ndarray:
    """Bethe-Bloch-like mean ionisation relative to a minimum-ionising particle.

    f(bg) = (ln(2 m_e c^2 / I) + 2 ln(min(bg, 80)) - b^2) / b^2 (argon, I = 188 eV; the cap
    stands for the density effect), divided by its minimum (~ bg 3.5): 1 at the minimum,
    ~1.5 on the Fermi plateau, ~3 for a 0.5 GeV/c proton. Clipped to [0.8, 10].
    """
    bg = np.asarray(beta_gamma, dtype=np.float64)
    b2 = bg**2 / (1.0 + bg**2)
    c0 = np.log(2 * 0.511e6 / 188.0)
    f = (c0 + 2 * np.log(np.minimum(bg, 80.0)) - b2) / b2
    grid = np.geomspace(1.0, 20.0, 400)
    g2 = grid**2 / (1 + grid**2)
    fmin = ((c0 + 2 * np.log(grid) - g2) / g2).min()
    return np.clip(f / fmin, 0.8, 10.0)


@dataclasses.dataclass
class Tracks:
    """Truth of the event's charged tracks (primaries then stubs), one row per track.

    Attributes:
        particle: int8 [K], index into :data:`PARTICLES`.
        charge: int8 [K], +-1.
        p: float64 [K], momentum (GeV/c).
        pt: float64 [K], transverse momentum to the beam (GeV/c).
        p_xz: float64 [K], momentum in the bending (x-z) plane (GeV/c).
        dedx: float64 [K], ionisation relative to a MIP.
        stub: bool [K], a (f) stub (short, never findable).
    """

    particle: np.ndarray
    charge: np.ndarray
    p: np.ndarray
    pt: np.ndarray
    p_xz: np.ndarray
    dedx: np.ndarray
    stub: np.ndarray


@dataclasses.dataclass
class Hits:
    """Track crossings of pad rows (the noise-free truth the cluster finder should find).

    Attributes:
        track: int64 [H], index into :class:`Tracks`.
        row: int64 [H]; pad, time: float64 [H] (pad and time-bin units, position of the peak).
        phi_deg, tan_dip: float64 [H], local crossing and dip angles.
    """

    track: np.ndarray
    row: np.ndarray
    pad: np.ndarray
    time: np.ndarray
    phi_deg: np.ndarray
    tan_dip: np.ndarray


@dataclasses.dataclass
class GeometryEvent:
    """One simulated event with geometry.

    Attributes:
        chamber: Chamber name.
        event_id, seed: What fixes the event.
        adc: float32 [R, P, T], digitised charge (ADC) of every pad row.
        sources: float32 [7, R, P, T], noise-free charge of each source layer (``L_*``).
        tracks: Truth of the tracks; hits: their row crossings.
        dead: bool [R, P], dead pad channels (g).
    """

    chamber: str
    event_id: int
    seed: int
    adc: np.ndarray
    sources: np.ndarray
    tracks: Tracks
    hits: Hits
    dead: np.ndarray


def _draw_tracks(
    rng: np.random.Generator, n: int, geo: EventGeometry, stub: bool, p_scale: float = 1.0
) -> tuple[Tracks, dict[str, np.ndarray]]:
    """Particles, momenta and entry state of ``n`` tracks."""
    particle = rng.choice(4, size=n, p=np.asarray(geo.particle_mix)).astype(np.int8)
    mass = np.asarray(MASSES_GEV)[particle]
    p = p_scale * geo.p_median_gev * np.exp(geo.p_log_sigma * rng.standard_normal(n))
    p = np.clip(p, 0.05, 100.0)
    q = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int8)
    phi0 = geo.angle_sigma_rad * rng.standard_normal(n) * (3.0 if stub else 1.0)
    tan_dip = 0.25 * rng.standard_normal(n) * (2.0 if stub else 1.0)
    # direction in the chamber frame and p_T to the beam, which comes in at beam_angle in x-z
    d = np.stack([np.sin(phi0), tan_dip, np.cos(phi0)], axis=1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    beam = np.array([-np.sin(geo.beam_angle_rad), 0.0, np.cos(geo.beam_angle_rad)])
    pt = p * np.linalg.norm(np.cross(d, beam), axis=1)
    p_xz = p * np.hypot(d[:, 0], d[:, 2])
    tracks = Tracks(particle, q, p, pt, p_xz, dedx_relative(p / mass), np.full(n, stub))
    return tracks, {"phi0": phi0, "tan_dip": tan_dip}


def _crossings(
    tracks: Tracks,
    state: dict[str, np.ndarray],
    x0_mm: np.ndarray,
    y0_mm: np.ndarray,
    row0: np.ndarray,
    n_rows_max: np.ndarray,
    preset: ChamberPreset,
    geo: EventGeometry,
    first_track: int,
) -> Hits:
    """Row crossings of helices (circles in x-z, lines in y vs the x-z path), vectorised."""
    pitch = preset.pad_length_mm
    r = np.arange(geo.n_rows)[None, :]
    dz = (r - row0[:, None]) * pitch  # from the entry row's centre, [n, R]
    kappa = -tracks.charge * 0.3 * preset.b_field_t / np.maximum(tracks.p_xz, 1e-6) * 1e-3
    kappa = kappa[:, None]  # 1/mm
    phi0 = state["phi0"][:, None]
    s_phi = np.sin(phi0) + kappa * dz
    inside = (np.abs(s_phi) < 0.95) & (dz >= 0)
    s_phi = np.clip(s_phi, -0.95, 0.95)
    phi = np.arcsin(s_phi)
    small = np.abs(kappa) < 1e-12
    k_safe = np.where(small, 1.0, kappa)
    x = np.where(
        small,
        x0_mm[:, None] + dz * np.tan(phi0),
        x0_mm[:, None] - (np.cos(phi) - np.cos(phi0)) / k_safe,
    )
    s = np.where(small, dz / np.cos(phi0), (phi - phi0) / k_safe)
    y = y0_mm[:, None] + state["tan_dip"][:, None] * s
    pad = x / preset.pad_width_mm - 0.5
    time = y / preset.mm_per_time_bin
    inside &= (pad > -0.5) & (pad < geo.n_pads - 0.5) & (time > 0) & (time < geo.n_time - 1)
    inside &= (r - row0[:, None]) < n_rows_max[:, None]
    inside = np.cumprod(inside | (dz < 0), axis=1).astype(bool) & (dz >= 0)  # once out, out
    t_idx, r_idx = np.nonzero(inside)
    return Hits(
        track=t_idx + first_track,
        row=r_idx,
        pad=pad[t_idx, r_idx],
        time=time[t_idx, r_idx],
        phi_deg=np.rad2deg(phi[t_idx, r_idx]),
        tan_dip=np.broadcast_to(state["tan_dip"][:, None], pad.shape)[t_idx, r_idx],
    )


def _concat(parts: list, cls: type) -> object:
    return cls(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls))
    )


def _scatter_templates(
    stack: np.ndarray,
    layer: int | np.ndarray,
    templates: np.ndarray,
    row: np.ndarray,
    pad: np.ndarray,
    time: np.ndarray,
) -> None:
    """Adds templates [n, CP, CT] centred at (row, pad, time) into ``stack[layer]`` (clipped).

    Args:
        stack: float32 [L, R, P, T], changed in place.
        layer: Layer of every template (int or int64 [n]).
    """
    _, cp, ct = templates.shape
    _, rows, pads, times = stack.shape
    dp = np.arange(cp) - cp // 2
    dt = np.arange(ct) - ct // 2
    plane = np.asarray(layer) * rows + row
    pp = pad[:, None, None] + dp[None, :, None]
    tt = time[:, None, None] + dt[None, None, :]
    rr, pp, tt = np.broadcast_arrays(plane[:, None, None], pp, tt)
    ok = (pp >= 0) & (pp < pads) & (tt >= 0) & (tt < times) & (templates != 0)
    if not ok.any():
        return
    flat = ((rr[ok] * pads) + pp[ok]) * times + tt[ok]
    # only the span of planes touched is accumulated (bincount works in float64)
    lo = int(plane.min()) * pads * times
    hi = (int(plane.max()) + 1) * pads * times
    view = stack.reshape(-1)[lo:hi]
    view += np.bincount(flat - lo, weights=templates[ok], minlength=hi - lo).astype(np.float32)


def _deposit(
    rng: np.random.Generator,
    stack: np.ndarray,
    layer: np.ndarray,
    row: np.ndarray,
    seg: Segments,
    canvas: tuple[int, int],
    preset: ChamberPreset,
) -> None:
    """Track-like segments drawn on one small canvas each, then added into the stack.

    Args:
        layer, row: int64 [S], stack layer and pad row of each segment.
        seg: Segments with event-frame ``x0`` (pads) and ``t0`` (time bins); ``cluster`` is
            ignored.
    """
    n = seg.x0.size
    ipad = np.rint(seg.x0).astype(np.int64)
    itime = np.rint(seg.t0).astype(np.int64)
    local = dataclasses.replace(
        seg,
        cluster=np.arange(n),
        x0=seg.x0 - ipad + canvas[0] // 2,
        t0=seg.t0 - itime + canvas[1] // 2,
    )
    drawn = deposit_segments(rng, local, n, canvas, preset)
    _scatter_templates(stack, layer, drawn, row, ipad, itime)


def simulate_geometry_event(
    preset: ChamberPreset | str,
    event_id: int,
    seed: int,
    geometry: EventGeometry | None = None,
    noise_scale: float = 1.0,
) -> GeometryEvent:
    """Simulates one event in the chamber's pad rows x pads x time bins.

    Args:
        preset: Chamber preset or registered name.
        event_id, seed: >= 0; the pair fixes the result.
        geometry: Layout and composition; default :func:`geometry_for`.
        noise_scale: Multiplies the counts of every noise source (stubs, deltas, templates);
            0 also switches off the correlated noise and the dead channels (a noise-free
            event with the same primary tracks).

    Returns:
        :class:`GeometryEvent`.
    """
    preset = get_chamber(preset)
    geo = geometry or geometry_for(preset)
    if event_id < 0 or seed < 0:
        raise ValueError(f"seed and event_id must be >= 0, got {seed}, {event_id}")
    rng = np.random.default_rng([seed, event_id, 16])
    R, P, T = geo.n_rows, geo.n_pads, geo.n_time
    width, dtb = preset.pad_width_mm, preset.mm_per_time_bin

    def count(k: int) -> int:
        return round(k * noise_scale)

    # primaries enter at row 0 (a few start inside: secondaries), stubs anywhere
    prim, st = _draw_tracks(rng, geo.n_tracks, geo, stub=False)
    n = geo.n_tracks
    row0 = np.where(rng.random(n) < 0.1, rng.integers(0, R // 2, n), 0)
    hits_p = _crossings(
        prim,
        st,
        rng.uniform(0.05, 0.95, n) * P * width,
        rng.uniform(0.03, 0.97, n) * T * dtb,
        row0,
        np.full(n, R),
        preset,
        geo,
        0,
    )
    ns = count(geo.n_stubs)
    stubs, sst = _draw_tracks(rng, ns, geo, stub=True, p_scale=0.15)
    hits_s = _crossings(
        stubs,
        sst,
        rng.uniform(0.02, 0.98, ns) * P * width,
        rng.uniform(0.03, 0.97, ns) * T * dtb,
        rng.integers(0, R, ns),
        rng.integers(2, 6, ns),
        preset,
        geo,
        n,
    )
    tracks = _concat([prim, stubs], Tracks)
    hits = _concat([hits_p, hits_s], Hits)

    # deltas: one large-angle, high-charge segment each
    nd = count(geo.n_deltas)
    along_pads = rng.random(nd) < 0.5
    sign = np.where(rng.random(nd) < 0.5, -1.0, 1.0)
    d_row = rng.integers(0, R, nd)
    d_pad = rng.uniform(0, P - 1, nd)
    d_time = rng.uniform(0, T - 1, nd)
    d_phi = np.where(along_pads, sign * rng.uniform(*preset.delta_angle_range_deg, nd), 0.0)
    d_dip = np.where(along_pads, 0.0, sign * rng.uniform(*preset.delta_dip_tan_range, nd))

    canvas = (preset.window[0] + 2 * preset.canvas_margin[0], 36)
    # (e) only the part of a delta that fits on the canvas is drawn (as in the window simulator)
    dx = np.abs(preset.pad_length_mm * np.tan(np.deg2rad(d_phi)) / width)
    dtt = np.abs(preset.pad_length_mm / np.cos(np.deg2rad(d_phi)) * d_dip / dtb)
    visible = np.minimum(
        (canvas[0] - 4) / np.maximum(dx, 1e-9), (canvas[1] - 8) / np.maximum(dtt, 1e-9)
    )
    layer_of_track = np.where(tracks.stub, L_STUB, L_TRACK)
    y_cm = hits.time * dtb / 10.0
    segs = Segments(
        cluster=np.zeros(hits.row.size + nd, dtype=np.int64),
        x0=np.concatenate([hits.pad, d_pad]),
        t0=np.concatenate([hits.time, d_time]),
        phi_deg=np.concatenate([hits.phi_deg, d_phi]),
        tan_dip=np.concatenate([hits.tan_dip, d_dip]),
        drift_cm=np.concatenate([y_cm, d_time * dtb / 10.0]),
        dedx=np.concatenate(
            [tracks.dedx[hits.track], preset.delta_charge_scale * rng.uniform(1.0, 1.5, nd)]
        ),
        row_fraction=np.concatenate(
            [np.ones(hits.row.size), np.minimum(rng.uniform(0.3, 1.0, nd), visible)]
        ),
    )
    stack = np.zeros((7, R, P, T), dtype=np.float32)
    _deposit(
        rng,
        stack,
        np.concatenate([layer_of_track[hits.track], np.full(nd, L_DELTA)]),
        np.concatenate([hits.row, d_row]),
        segs,
        canvas,
        preset,
    )

    # directly drawn noise templates on the window simulator's canvas
    for layer, gen, k in (
        (L_ELEC, noise.electronic, count(geo.n_electronic)),
        (L_XTALK, noise.crosstalk, count(geo.n_crosstalk)),
        (L_HOT, noise.hot_pad, count(geo.n_hot)),
    ):
        if k:
            tpl = gen(rng, k, canvas, preset)
            _scatter_templates(
                stack, layer, tpl, rng.integers(0, R, k), rng.integers(0, P, k),
                rng.integers(0, T, k),
            )  # fmt: skip
    # (d) fragment bumps at the edge of large track deposits
    nf = min(count(geo.n_fragment), hits.row.size)
    if nf:
        big = np.argsort(-tracks.dedx[hits.track] * rng.random(hits.row.size))[:nf]
        side = np.where(rng.random(nf) < 0.5, -1, 1)
        along = rng.random(nf) < 0.6
        off_p = np.where(along, side * rng.integers(3, 6, nf), rng.integers(-1, 2, nf))
        off_t = np.where(along, rng.integers(-2, 3, nf), side * rng.integers(5, 10, nf))
        tpl = noise.fragment_bump(rng, nf, canvas, preset)
        _scatter_templates(
            stack,
            L_FRAG,
            tpl,
            hits.row[big],
            np.rint(hits.pad[big]).astype(np.int64) + off_p,
            np.rint(hits.time[big]).astype(np.int64) + off_t,
        )

    adc = stack.sum(axis=0)
    quiet = preset.replace(common_mode_fraction=0.0)
    if noise_scale > 0:
        adc += correlated_noise(rng, (R, P, T), quiet)
        if preset.common_mode_fraction > 0:  # one baseline per card of pads_per_card pads
            n_cards = -(-P // preset.pads_per_card)
            cm = rng.standard_normal((R, n_cards, T), dtype=np.float32)
            cm *= np.float32(preset.common_mode_fraction * preset.noise_sigma_adc)
            adc += np.repeat(cm, preset.pads_per_card, axis=1)[:, :P]
    digitise(adc, preset)
    dead = rng.random((R, P)) < geo.dead_channel_prob * (noise_scale > 0)
    adc[dead] = 0.0
    return GeometryEvent(preset.name, int(event_id), int(seed), adc, stack, tracks, hits, dead)


__all__ = [
    "GEOMETRIES",
    "PARTICLES",
    "EventGeometry",
    "GeometryEvent",
    "Hits",
    "Tracks",
    "dedx_relative",
    "geometry_for",
    "simulate_geometry_event",
]
