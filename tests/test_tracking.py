"""Events with geometry, the cluster finder, the track finder and the physics-impact study."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from interp.data.chambers import get_chamber
from interp.data.reconstruction.clusters import cut_windows, find_clusters, local_maxima
from interp.data.reconstruction.tracks import find_tracks, findable_tracks, match_tracks
from interp.data.simulator import simulate_event
from interp.data.simulator.geometry import (
    GEOMETRIES,
    dedx_relative,
    geometry_for,
    simulate_geometry_event,
)
from interp.report.sections import SectionInput
from interp.report.tracking import curves_figure
from interp.report.tracking import tracking as tracking_section
from interp.study.tracking_stage import TrackingConfig, run_tracking_study

CHAMBERS = sorted(GEOMETRIES)


def _isolated(event, found, findable: np.ndarray) -> np.ndarray:
    """Findable tracks whose hits never come within 3 pads and 6 time bins of another's."""
    h = event.hits
    prim = ~event.tracks.stub[h.track]
    tr, row, pad, time = h.track[prim], h.row[prim], h.pad[prim], h.time[prim]
    close = set()
    for r in np.unique(row):
        sel = np.flatnonzero(row == r)
        dp = np.abs(pad[sel][:, None] - pad[sel][None, :]) < 3
        dt = np.abs(time[sel][:, None] - time[sel][None, :]) < 6
        near = dp & dt & (tr[sel][:, None] != tr[sel][None, :])
        close.update(tr[sel][near.any(axis=1)].tolist())
    return np.array([t for t in findable if t not in close], dtype=np.int64)


@pytest.mark.parametrize("chamber", CHAMBERS)
def test_track_finder_finds_clean_isolated_tracks(chamber):
    geo = dataclasses.replace(geometry_for(get_chamber(chamber)), n_tracks=40)
    n_iso = n_found = n_fake = n_tracks = 0
    for event_id in (3, 4):
        event = simulate_geometry_event(chamber, event_id, 7, geometry=geo, noise_scale=0.0)
        found = find_clusters(event)
        assert (found.clusters.label == 1).mean() > 0.95  # noise-free: (almost) only tracks
        iso = _isolated(event, found, findable_tracks(found))
        tracks = find_tracks(found)
        m = match_tracks(found, tracks, iso)
        n_iso += iso.size
        n_found += m["n_matched_findable"]
        n_fake += m["n_fake"]
        n_tracks += m["n_found"]
    assert n_iso >= 20
    assert n_found >= 0.95 * n_iso, (n_found, n_iso)
    assert n_fake <= 0.05 * n_tracks


@pytest.fixture(scope="module")
def noisy_event():
    event = simulate_geometry_event("VTPC2", 0, 1)
    return event, find_clusters(event)


def test_event_scale_and_truth(noisy_event):
    event, found = noisy_event
    cs = found.clusters
    assert 20_000 <= len(cs) <= 40_000  # the 28,764-cluster scale
    kinds = np.bincount(cs.truth["noise_kind"], minlength=7)
    assert (kinds > 0).all()  # signal and every noise kind (a)-(f) present
    assert cs.window_shape == get_chamber("VTPC2").window
    sig = cs.label == 1
    assert (found.track[sig] >= 0).all() and (found.track[~sig] == -1).all()
    assert np.isfinite(cs.truth["dedx_scale"][sig]).all()
    assert event.dead.any() and (cs.truth["dead_pads"] > 0).any()  # (g)
    # a signal cluster sits on its truth hit
    h = event.hits
    key = {
        (int(t), int(r)): (p, tt) for t, r, p, tt in zip(h.track, h.row, h.pad, h.time, strict=True)
    }
    d = [
        abs(key[(int(t), int(r))][0] - p)
        for t, r, p in zip(found.track[sig], found.row[sig], found.pad[sig], strict=True)
    ]
    assert np.median(d) < 0.6


def test_geometry_event_is_deterministic():
    a = simulate_geometry_event("MTPCL", 2, 5)
    b = simulate_geometry_event("MTPCL", 2, 5)
    c = simulate_geometry_event("MTPCL", 3, 5)
    np.testing.assert_array_equal(a.adc, b.adc)
    assert not np.array_equal(a.adc, c.adc)


def test_helices_bend_in_vtpc_lines_in_mtpc():
    for chamber, bends in (("VTPC2", True), ("MTPCL", False)):
        ev = simulate_geometry_event(chamber, 0, 2, noise_scale=0.0)
        h = ev.hits
        slow = np.flatnonzero((ev.tracks.p_xz < 0.5) & ~ev.tracks.stub)
        curv = []
        for t in slow:
            s = h.track == t
            if s.sum() >= 10:
                curv.append(abs(np.polyfit(h.row[s], h.pad[s], 2)[0]))
        assert curv
        assert (np.median(curv) > 1e-3) == bends


def test_dedx_curve():
    bg = np.geomspace(0.3, 1000, 200)
    f = dedx_relative(bg)
    assert f.min() == pytest.approx(1.0, abs=0.02)
    assert 3.0 < bg[np.argmin(f)] < 4.5
    assert 1.3 < f[-1] < 1.7  # Fermi plateau
    assert dedx_relative(np.array([0.5 / 0.938]))[0] > 2.5  # 0.5 GeV/c proton


def test_cluster_finder_reproduces_single_window_simulator():
    preset = get_chamber("VTPC2")
    cs = simulate_event(preset, 0, 3, n_clusters=400)
    w = cs.charge
    cp, ct = preset.window[0] // 2, preset.window[1] // 2
    sig = (cs.label == 1) & (cs.truth["overlap"] == 0) & (cs.truth["dead_pads"] == 0)
    centre = w[:, cp, ct]
    nb = w[:, cp - 1 : cp + 2, ct - 1 : ct + 2].reshape(len(w), -1)
    strict = (np.sort(nb, axis=1)[:, -2] < centre) & (centre > 0)
    picked = np.flatnonzero(sig & strict)
    assert picked.size >= 20
    for i in picked:
        image = np.zeros((1, 40, 64), dtype=np.float32)
        image[0, 20 - cp : 20 - cp + w.shape[1], 30 - ct : 30 - ct + w.shape[2]] = w[i]
        row, pad, time = local_maxima(image, preset.zs_threshold_adc)
        at = np.flatnonzero((pad == 20) & (time == 30))
        assert at.size == 1
        got = cut_windows(image, row[at], pad[at], time[at], preset.window)[0]
        np.testing.assert_array_equal(got, w[i])


def test_local_maxima_plateau_gives_one_cluster():
    image = np.zeros((1, 9, 9), dtype=np.float32)
    image[0, 3:5, 4] = 10.0  # two equal pixels
    _, pad, time = local_maxima(image, 4.0)
    assert list(zip(pad, time, strict=True)) == [(3, 4)]


def test_noise_without_filter_costs_tracking(noisy_event):
    _, found = noisy_event
    findable = findable_tracks(found)
    raw = find_tracks(found)
    clean = find_tracks(found, keep=found.clusters.label == 1)
    m_raw = match_tracks(found, raw, findable)
    m_clean = match_tracks(found, clean, findable)
    assert m_raw["n_fake"] > m_clean["n_fake"] + 5
    assert raw.seconds > 1.3 * clean.seconds
    assert m_clean["efficiency"] > 0.9


def _score(charge: np.ndarray) -> np.ndarray:
    """A deterministic stand-in classifier: peak ADC / 60."""
    return np.clip(charge.reshape(len(charge), -1).max(axis=1) / 60.0, 0.0, 1.0)


def _strip_times(x):
    if isinstance(x, dict):
        return {k: _strip_times(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list):
        return [_strip_times(v) for v in x]
    return x


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = TrackingConfig(n_events=1, thresholds=(0.3, 0.7), seed=4, label_model=None)
    out = tmp_path_factory.mktemp("trk")
    return run_tracking_study({"MTPCL": {"peak": _score}}, out, cfg), out, cfg


def test_study_is_deterministic_and_sane(study, tmp_path):
    first, _, cfg = study
    again = run_tracking_study({"MTPCL": {"peak": _score}}, tmp_path, cfg)
    assert _strip_times(first) == _strip_times(again)
    c = first["chambers"]["MTPCL"]
    curve = c["models"]["peak"]["curve"]
    removed = [p["removed"] for p in curve]
    assert removed == sorted(removed) and removed[-1] > removed[0]
    assert curve[-1]["efficiency"] < c["baseline"]["efficiency"]  # cutting hard loses tracks
    assert c["baseline"]["fake_rate"] > c["truth_filter"]["fake_rate"]
    loss = c["models"]["peak"]["lost_signal"]
    assert set(loss["particle"]) == {"pion", "kaon", "proton", "electron"}


def test_report_section_renders(study, tmp_path):
    _, out, _ = study
    sec = tracking_section(SectionInput("tracking", {"tracking": out}, {}, tmp_path, False))
    assert not [m for m in sec.missing if "No tracking" in m]
    assert len(sec.tables) == 5 and all(t.rows for t in sec.tables)
    assert json.loads((out / "tracking.json").read_text())["chambers"]
    missing = tracking_section(SectionInput("tracking", {}, {"tracking": "x"}, tmp_path, False))
    assert missing.missing and not missing.tables


def test_matching_needs_70_percent_shared_clusters():
    from interp.data.reconstruction.tracks import FoundTracks

    truth = np.array([1] * 7 + [2] * 3 + [1] * 6 + [3] * 4 + [1] * 10 + [-1] * 10)
    found = SimpleNamespace(track=truth)
    tracks = FoundTracks(
        [np.arange(0, 10), np.arange(10, 20), np.arange(20, 30), np.arange(30, 40)],
        np.full(4, np.nan),
        0.0,
    )
    m = match_tracks(found, tracks, np.array([1, 2, 3]))
    # 7/10 -> truth 1; 6/10 -> fake; 10/10 -> truth 1 again (a clone); noise only -> fake
    assert m["truth"].tolist() == [1, -1, 1, -1]
    assert (m["n_fake"], m["n_clone"], m["n_matched_findable"]) == (2, 1, 1)
    assert m["efficiency"] == pytest.approx(1 / 3)


def test_tracking_labels_follow_the_track_finder(noisy_event):
    from interp.study.tracking_labels import label_agreement, relabel, tracking_labels

    _, found = noisy_event
    tracks = find_tracks(found)
    label = tracking_labels(found, tracks)
    attached = np.concatenate(tracks.clusters)
    assert label[attached].all() and label.sum() == np.unique(attached).size
    agree = label_agreement(found, label)
    # tracking labels are mostly right but not truth: both kinds of label noise occur
    assert agree["agreement"] > 0.9
    assert agree["signal_labelled_noise"] > 0 and agree["noise_labelled_signal"] > 0
    cs = relabel(found.clusters, label)
    assert (cs.label == label).all() and cs.truth == {}


def test_tracking_stage_needs_a_matrix(tmp_path):
    from interp.study.experiments import STAGES, StageContext, load_study

    study = load_study("tracking")
    assert "tracking" in study.stages and "tracking" in study.sections
    ctx = StageContext(study, "smoke", tmp_path, {}, False, False, lambda s: None)
    res = STAGES["tracking"](ctx)
    assert res.status == "missing" and "matrix" in res.reason


def test_every_matrix_model_is_studied_in_every_chamber(monkeypatch, tmp_path):
    """The stage takes every cell of the matrix (the default models come from the registry,
    the MLP and XGBoost included), not a list of its own."""
    from interp.backends import classifier as backend
    from interp.study.config import default_models
    from interp.study.tracking_stage import matrix_classifiers

    models = default_models()
    assert {"mlp", "xgboost"} <= set(models)
    cells = [
        {"model": m, "train_chamber": c, "run_dir": f"runs/{m}/{c}"}
        for m in models
        for c in CHAMBERS
    ]
    (tmp_path / "matrix.json").write_text(json.dumps({"cells": cells}))
    loaded = []

    def fake_load(folder):
        loaded.append(folder.relative_to(tmp_path).as_posix())
        return SimpleNamespace(predict_proba=_score)

    monkeypatch.setattr(backend, "load_classifier", fake_load)
    got = matrix_classifiers(tmp_path)
    assert {c: sorted(m) for c, m in got.items()} == {c: sorted(models) for c in CHAMBERS}
    assert sorted(loaded) == sorted(c["run_dir"] for c in cells)


def test_report_shows_every_model_and_chamber(study, tmp_path):
    """Curves, proposed thresholds and lost signal vs p_T / particle / dE/dx: one row per
    model and chamber for every model the study scored."""
    import copy

    from interp.study.config import default_models

    first, _, _ = study
    one = first["chambers"]["MTPCL"]
    peak = one["models"]["peak"]
    result = copy.deepcopy(first)
    result["chambers"] = {
        c: {**copy.deepcopy(one), "models": {m: copy.deepcopy(peak) for m in default_models()}}
        for c in CHAMBERS
    }
    out = tmp_path / "trk"
    out.mkdir()
    (out / "tracking.json").write_text(json.dumps(result))
    sec = tracking_section(SectionInput("tracking", {"tracking": out}, {}, tmp_path, False))
    want = {(c, m) for c in CHAMBERS for m in default_models()}
    for t in sec.tables[1:5]:  # proposed, curves, lost vs p_T, lost vs particle and dE/dx
        assert {(r[0], r[1]) for r in t.rows} == want, t.caption
        assert all(len(r) == len(t.header) for r in t.rows), t.caption
    assert any("p_T" in h for h in sec.tables[3].header)
    assert {"pion", "kaon", "proton", "electron"} <= set(sec.tables[4].header)
    assert any("dE/dx" in h for h in sec.tables[4].header)
    assert sec.figures
    fig = curves_figure(result)  # efficiency / fakes / CPU time vs removed, per chamber
    drawn = {(tr.xaxis, tr.yaxis, tr.name) for tr in fig.data}
    assert len(drawn) == 3 * len(want)  # every model in every chamber's three panels
