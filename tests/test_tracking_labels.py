"""Labels from tracking vs truth labels: scoring, the comparison, and its place in the stage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from interp.core.schema import NOISE_KINDS, ClusterSet
from interp.data.chambers import get_chamber
from interp.data.simulator.geometry import geometry_for
from interp.report.sections import SectionInput
from interp.report.tracking import tracking as tracking_section
from interp.study import tracking_labels, tracking_stage
from interp.study.tracking_labels import label_source_study, score_against_truth
from interp.study.tracking_stage import TrackingConfig, run_tracking_study

CHAMBER = "MTPCL"
SMALL = dataclasses.replace(
    geometry_for(get_chamber(CHAMBER)),
    n_rows=30,
    n_tracks=60,
    n_stubs=150,
    n_deltas=200,
    n_electronic=300,
    n_crosstalk=250,
    n_hot=150,
    n_fragment=350,
)
"""A third of MTPC-L's rows and of its event: seconds per label-source study."""


def test_score_against_truth_counts_by_hand():
    kind = np.array([0, 0, 0, 0, 1, 1, 5, 6], dtype=np.int8)
    cs = ClusterSet(
        np.zeros((8, 3, 3), np.float32),
        (kind == 0).astype(np.int8),
        np.zeros(8, np.int64),
        CHAMBER,
        {"noise_kind": kind},
    )
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.6, 0.1, 0.9])
    s = score_against_truth(scores, cs)
    assert s["signal_lost"] == pytest.approx(0.25)  # 1 of 4 signal below 0.5
    assert s["noise_removed"] == pytest.approx(0.5)  # 2 of 4 noise below 0.5
    assert s["balanced_accuracy"] == pytest.approx(0.5 * (0.75 + 0.5))
    by = s["correct_by_kind"]
    assert (by["signal"], by["electronic"], by["delta"], by["unreconstructed"]) == (
        0.75,
        0.5,
        1.0,
        0.0,
    )
    assert by["crosstalk"] is None and set(by) == set(NOISE_KINDS)


def _small_study(workdir, seed=16):
    return label_source_study(
        CHAMBER, workdir, "perceptron", (1, 1, 1), 2000, seed, profile="smoke", geometry=SMALL
    )


@pytest.fixture(scope="module")
def labels_result(tmp_path_factory):
    return _small_study(tmp_path_factory.mktemp("labels"))


def _strip_times(x):
    if isinstance(x, dict):
        return {k: _strip_times(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list):
        return [_strip_times(v) for v in x]
    return x


def test_label_sources_differ_and_are_scored_against_truth(labels_result):
    r = labels_result
    a = r["label_agreement"]
    # the track finder's labels are not truth: both kinds of label noise occur
    assert 0.8 < a["agreement"] < 1.0
    assert a["signal_labelled_noise"] > 0 and a["noise_labelled_signal"] > 0
    assert a["labelled_signal"]["signal"] == pytest.approx(1 - a["signal_labelled_noise"])
    for source in tracking_labels.LABEL_SOURCES:
        s = r[source]
        assert 0.5 < s["balanced_accuracy"] <= 1.0
        assert s["balanced_accuracy"] == pytest.approx(
            0.5 * (1 - s["signal_lost"] + s["noise_removed"])
        )
    # the two models learnt from different labels (scored on the same truth)
    assert _strip_times(r["tracking"]) != _strip_times(r["truth"])


def test_label_sources_are_deterministic_per_seed(labels_result, tmp_path):
    assert _strip_times(_small_study(tmp_path / "a")) == _strip_times(labels_result)


def test_label_split_is_checked(tmp_path):
    with pytest.raises(ValueError, match="split"):
        tracking_labels.compare_label_sources([], [], (1, 0, 1), "perceptron", tmp_path)


def _peak(charge: np.ndarray) -> np.ndarray:
    return np.clip(charge.reshape(len(charge), -1).max(axis=1) / 60.0, 0.0, 1.0)


def test_stage_trains_on_both_label_sources_and_reports_them(labels_result, monkeypatch, tmp_path):
    calls = []

    def recorded(chamber, workdir, model, split, first_event, seed, **kw):
        calls.append((chamber, model, split, first_event, seed, kw["profile"]))
        return labels_result  # the real comparison, run once by the fixture

    monkeypatch.setattr(tracking_stage, "label_source_study", recorded)
    cfg = TrackingConfig(
        n_events=1,
        thresholds=(0.5,),
        seed=16,
        label_model="perceptron",
        label_split=(1, 1, 1),
        label_first_event=2000,
        label_profile="smoke",
    )
    res = run_tracking_study({CHAMBER: {"peak": _peak}}, tmp_path / "trk", cfg)
    assert calls == [(CHAMBER, "perceptron", (1, 1, 1), 2000, 16, "smoke")]
    ls = res["chambers"][CHAMBER]["label_sources"]
    assert ls["model"] == "perceptron" and ls["split"] == [1, 1, 1]
    sec = tracking_section(
        SectionInput("tracking", {"tracking": tmp_path / "trk"}, {}, tmp_path, False)
    )
    captions = [t.caption for t in sec.tables]
    table = next(t for t in sec.tables if t.caption.startswith("Trained on tracking labels"))
    assert [row[2] for row in table.rows] == ["truth labels", "tracking labels"]
    assert any(c.startswith("Tracking labels vs truth") for c in captions)
    bal = f"{100 * ls['tracking']['balanced_accuracy']:.1f} %"
    assert "Labels from tracking" in sec.text and bal in sec.text
    # no label model: no comparison, no label tables
    calls.clear()
    off = run_tracking_study(
        {CHAMBER: {"peak": _peak}}, tmp_path / "off", dataclasses.replace(cfg, label_model=None)
    )
    assert "label_sources" not in off["chambers"][CHAMBER] and not calls


def test_profiles_choose_the_label_model_by_field():
    for name in ("smoke", "quick", "full"):
        cfg = TrackingConfig.profile(name)
        assert cfg.label_model is not None
        import models

        assert cfg.label_model in models.model_names()
        assert sum(cfg.label_split) >= 3
