"""Tests of the cluster simulator: schema, determinism, composition, physics, windows."""

from __future__ import annotations

import numpy as np
import pytest

from interp.core.errors import UnknownChamberError
from interp.core.schema import NOISE_KINDS, TRUTH_FIELDS, ClusterSet
from interp.data.chambers import chamber_names, get_chamber, load_chamber_preset
from interp.data.features import pad_rms
from interp.data.simulator import iter_events, simulate, simulate_event

N = 2000
SEED = 7
CHAMBERS = [c for c in chamber_names() if c in ("VTPC2", "MTPCL")]
FRAGMENT = NOISE_KINDS.index("fragment")
TRACK_KINDS = [NOISE_KINDS.index(k) for k in ("signal", "fragment", "delta", "unreconstructed")]


@pytest.fixture(scope="module")
def sims() -> dict[str, ClusterSet]:
    return {name: simulate_event(name, 0, SEED, n_clusters=N) for name in CHAMBERS}


@pytest.mark.parametrize("name", CHAMBERS)
def test_schema_shapes_and_dtypes(sims, name: str) -> None:
    cs = sims[name]
    preset = get_chamber(name)
    valid = cs.validate(window=preset.window)
    assert valid.equals(cs)  # already in schema dtypes, nothing converted
    assert cs.charge.shape == (N, *preset.window)
    assert cs.charge.dtype == (np.uint8 if preset.adc_max <= 255 else np.uint16)  # the ADC
    assert cs.label.dtype == np.int8 and cs.event_id.dtype == np.int64
    assert cs.chamber == name
    assert set(cs.truth) == set(TRUTH_FIELDS)
    for field, dtype in TRUTH_FIELDS.items():
        assert cs.truth[field].dtype == dtype, field
        assert cs.truth[field].shape == (N,)
    assert np.all(cs.event_id == 0)


@pytest.mark.parametrize("name", CHAMBERS)
def test_deterministic_in_seed_and_event(sims, name: str) -> None:
    again = simulate_event(get_chamber(name), 0, SEED, n_clusters=N)
    assert again.equals(sims[name])
    other_seed = simulate_event(name, 0, SEED + 1, n_clusters=N)
    other_event = simulate_event(name, 1, SEED, n_clusters=N)
    assert not np.array_equal(other_seed.charge, sims[name].charge)
    assert not np.array_equal(other_event.charge, sims[name].charge)
    assert np.all(other_event.event_id == 1)


@pytest.mark.parametrize("name", CHAMBERS)
def test_noise_fraction_and_kinds(sims, name: str) -> None:
    cs = sims[name]
    preset = get_chamber(name)
    assert cs.noise_fraction == pytest.approx(round(N * 0.74) / N)
    kinds = cs.truth["noise_kind"]
    assert np.array_equal(kinds == 0, cs.label == 1)
    noise_kinds = kinds[cs.label == 0]
    observed = np.bincount(noise_kinds, minlength=7)[1:] / noise_kinds.size
    for code, (seen, weight) in enumerate(zip(observed, preset.noise_weights, strict=True), 1):
        assert seen > 0, NOISE_KINDS[code]
        assert abs(seen - weight) < 0.04, (NOISE_KINDS[code], seen, weight)


@pytest.mark.parametrize("name", CHAMBERS)
def test_truth_columns(sims, name: str) -> None:
    cs = sims[name]
    preset = get_chamber(name)
    kinds = cs.truth["noise_kind"]
    track = np.isin(kinds, TRACK_KINDS)
    for field in ("drift_length", "crossing_angle", "dip_angle", "dedx_scale"):
        values = cs.truth[field]
        assert np.all(np.isfinite(values[track])), field
        assert np.all(np.isnan(values[~track])), field
    drift = cs.truth["drift_length"][track]
    assert drift.min() >= 0 and drift.max() <= preset.drift_length_cm
    sig = cs.label == 1
    assert np.std(cs.truth["crossing_angle"][sig]) == pytest.approx(
        preset.crossing_angle_sigma_deg, rel=0.15
    )
    assert cs.truth["overlap"][sig].mean() == pytest.approx(preset.overlap_prob, abs=0.05)
    assert np.all(cs.truth["overlap"][~np.isin(kinds, (0, 6))] == 0)
    assert 0 < cs.truth["dead_pads"].sum() < 0.05 * N


@pytest.mark.parametrize("name", CHAMBERS)
def test_digitised_and_zero_suppressed(sims, name: str) -> None:
    c = sims[name].charge
    preset = get_chamber(name)
    assert c.min() >= 0 and c.max() <= preset.adc_max
    assert np.array_equal(c, np.rint(c))
    nonzero = c[c > 0]
    assert nonzero.min() >= preset.zs_threshold_adc
    # most of a window is empty after zero suppression
    assert 0.02 < np.mean(c > 0) < 0.5


@pytest.mark.parametrize("name", CHAMBERS)
def test_maximum_at_window_centre(sims, name: str) -> None:
    cs = sims[name]
    p, t = cs.window_shape
    centre = cs.charge[:, p // 2, t // 2]
    top = cs.charge.reshape(len(cs), -1).max(axis=1)
    kinds = cs.truth["noise_kind"]
    clean_signal = (cs.label == 1) & (cs.truth["overlap"] == 0)
    assert np.mean(centre[clean_signal] == top[clean_signal]) > 0.98
    not_fragment = kinds != FRAGMENT
    assert np.mean(centre[not_fragment] == top[not_fragment]) > 0.85
    assert np.mean(centre >= get_chamber(name).zs_threshold_adc) > 0.97
    # fragments: a small local maximum with the large parent deposit at the window edge
    frag = kinds == FRAGMENT
    assert np.mean(top[frag] > 2 * centre[frag]) > 0.8


def test_mtpc_clusters_wider_than_vtpc(sims) -> None:
    widths = {}
    for name in ("VTPC2", "MTPCL"):
        cs = sims[name]
        sig = (cs.label == 1) & (cs.truth["overlap"] == 0)
        widths[name] = pad_rms(cs.charge[sig]).mean()
    ratio = widths["MTPCL"] / widths["VTPC2"]
    assert 1.2 < ratio < 2.0, widths


@pytest.mark.parametrize("name", CHAMBERS)
def test_charge_follows_dedx_and_diffusion_follows_drift(sims, name: str) -> None:
    cs = sims[name]
    sig = (cs.label == 1) & (cs.truth["overlap"] == 0) & (cs.truth["dead_pads"] == 0)
    total = cs.charge[sig].sum(axis=(1, 2))
    dedx = cs.truth["dedx_scale"][sig]
    assert np.corrcoef(np.argsort(np.argsort(total)), np.argsort(np.argsort(dedx)))[0, 1] > 0.3
    heavy = dedx > get_chamber(name).dedx_light_range[1]
    assert total[heavy].mean() > 1.5 * total[~heavy].mean()
    if name == "MTPCL":  # diffusion dominates the width only in the long MTPC
        width = pad_rms(cs.charge[sig])
        assert np.corrcoef(width, cs.truth["drift_length"][sig])[0, 1] > 0.2


def test_dead_pads_zero_a_column() -> None:
    preset = get_chamber("VTPC2").replace(name="TEST_DEAD", dead_pad_prob=1.0)
    cs = simulate_event(preset, 0, 3, n_clusters=300)
    assert np.all(cs.truth["dead_pads"] == 1)
    column_empty = (cs.charge == 0).all(axis=2)  # [N, pads]
    column_empty[:, cs.window_shape[0] // 2] = False
    assert np.all(column_empty.any(axis=1))


def test_two_default_events() -> None:
    cs = simulate("VTPC2", 2, seed=1)
    assert len(cs) == 57528
    assert abs(cs.noise_fraction - 0.74) <= 0.01
    assert list(cs.events()) == [0, 1]
    first = simulate_event("VTPC2", 0, 1)
    assert first.equals(cs.select_events([0]))


def test_iter_events_and_first_event() -> None:
    events = list(iter_events("MTPCL", 3, seed=2, first_event=5, n_clusters=100))
    assert [int(e.event_id[0]) for e in events] == [5, 6, 7]
    joined = simulate("MTPCL", 3, seed=2, first_event=5, n_clusters=100, progress=False)
    assert joined.equals(ClusterSet.concatenate(events))


def test_user_preset_from_file(tmp_path) -> None:
    path = tmp_path / "vtpc1.toml"
    path.write_text(
        'base = "VTPC2"\nname = "TEST_SIM_VTPC1"\nwindow = [9, 16]\ndrift_length_cm = 40.0\n',
        encoding="utf-8",
    )
    load_chamber_preset(path, overwrite=True)
    cs = simulate_event("TEST_SIM_VTPC1", 0, 1, n_clusters=500)
    cs.validate(window=(9, 16))
    assert cs.chamber == "TEST_SIM_VTPC1"
    assert np.nanmax(cs.truth["drift_length"]) <= 40.0
    assert np.mean(cs.charge[:, 4, 8] == cs.charge.reshape(500, -1).max(axis=1)) > 0.8


def test_bad_arguments() -> None:
    with pytest.raises(UnknownChamberError):
        simulate_event("NO_SUCH_TPC", 0, 1, n_clusters=10)
    with pytest.raises(ValueError):
        simulate_event("VTPC2", 0, 1, n_clusters=0)
    with pytest.raises(ValueError):
        simulate_event("VTPC2", -1, 1, n_clusters=10)
    with pytest.raises(ValueError):
        simulate("VTPC2", 0, seed=1)


def test_parallel_simulation_equals_one_process() -> None:
    """Child processes get the preset itself (not its name: a preset only this process has
    registered must travel) and their blocks come back in event order, column for column."""
    preset = get_chamber("VTPC2").replace(name="VTPC2_PARALLEL_TEST", noise_fraction=0.5)
    one = simulate(preset, n_events=3, seed=SEED, first_event=2, n_clusters=300, workers=1)
    two = simulate(preset, n_events=3, seed=SEED, first_event=2, n_clusters=300, workers=2)
    assert two.equals(one)
    assert list(np.unique(two.event_id)) == [2, 3, 4]
    assert two.chamber == "VTPC2_PARALLEL_TEST"


def test_wide_crossing_angles_fold_back_into_a_line_direction() -> None:
    """Unreconstructed tracks spread angles 2.5 x wider; a draw beyond 90 deg (one in ~20
    MTPCL events of 28,764 clusters) once gave a negative path length and crashed the
    event. With a 60 deg spread such draws are common: every event must still simulate."""
    preset = get_chamber("MTPCL").replace(name="MTPCL_WIDE_TEST", crossing_angle_sigma_deg=60.0)
    cs = simulate_event(preset, 0, SEED, n_clusters=3000)
    angle = cs.truth["crossing_angle"]
    angle = angle[np.isfinite(angle)]
    assert angle.size and np.all(np.abs(angle) <= 89.0)
    assert np.mean(np.abs(angle) > 60.0) > 0.05  # the spread is really that wide
