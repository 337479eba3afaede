"""Calibrated p_signal: Platt and isotonic maps, their JSON record, ``predict --calibrated``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_cli_bad_inputs import run_cli_streams

from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.io import read_clusters
from interp.evaluation.calibration import (
    CALIBRATION_FILE,
    Calibration,
    calibrated_proba,
    expected_calibration_error,
    fit_calibration,
    fit_isotonic,
    fit_platt,
    load_calibration,
    store_calibration,
)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logistic_data(n: int, a: float, b: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores sigmoid(z) whose true P(signal) is sigmoid(a z + b)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < _sigmoid(a * z + b)).astype(np.int64)
    return _sigmoid(z), y


def test_platt_recovers_known_parameters() -> None:
    p, y = _logistic_data(60_000, a=0.7, b=-1.2, seed=1)
    platt = fit_platt(p, y)
    assert platt.a == pytest.approx(0.7, abs=0.03)
    assert platt.b == pytest.approx(-1.2, abs=0.05)


def test_isotonic_is_monotone_and_json_round_trips_exactly(tmp_path: Path) -> None:
    p, y = _logistic_data(5000, a=1.0, b=0.5, seed=2)
    iso = fit_isotonic(p, y)
    assert np.all(np.diff(iso.x) > 0) and np.all(np.diff(iso.y) >= 0)
    grid = np.linspace(0, 1, 1001)
    assert np.all(np.diff(iso(grid)) >= 0)
    cal = fit_calibration(p, y, "VTPC2")
    cal.save(tmp_path)
    back = load_calibration(tmp_path)
    assert back == cal  # every breakpoint and parameter bit for bit
    for m in ("platt", "isotonic"):
        np.testing.assert_array_equal(back.apply(grid, m), cal.apply(grid, m))
    record = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    assert record["n"] == 5000 and record["signal_fraction"] == pytest.approx(y.mean())
    assert "raw p_signal" in record["threshold"]


def test_calibration_lowers_ece_under_a_shifted_prior() -> None:
    # a balanced-weight model scores sigmoid(z) while the split is 20 % signal: the true
    # P(signal) is sigmoid(z + log(0.2 / 0.8))
    shift = float(np.log(0.2 / 0.8))
    p_val, y_val = _logistic_data(20_000, 1.0, shift, seed=3)
    p_test, y_test = _logistic_data(20_000, 1.0, shift, seed=4)
    cal = fit_calibration(p_val, y_val, "VTPC2")
    raw = expected_calibration_error(p_test, y_test)
    assert raw > 0.05
    for m in ("platt", "isotonic"):
        assert expected_calibration_error(cal.apply(p_test, m), y_test) < raw / 3


def test_fit_needs_both_classes_and_bad_files_name_themselves(tmp_path: Path) -> None:
    with pytest.raises(ClusterDataError, match="noise and signal"):
        fit_calibration(np.array([0.2, 0.8]), np.array([1, 1]), "VTPC2")
    (tmp_path / CALIBRATION_FILE).write_text('{"platt": {"a": 1}}')
    with pytest.raises(ClusterDataError, match=CALIBRATION_FILE):
        load_calibration(tmp_path)


class _FixedModel:
    """Scores charge by its first pixel (a stand-in with ``predict_proba``)."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, charge: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(charge[:, 0, 0], np.float32)


def _val_set(n: int = 400, seed: int = 5) -> ClusterSet:
    p, y = _logistic_data(n, 1.0, -1.0, seed)
    charge = np.zeros((n, 2, 2), np.float32)
    charge[:, 0, 0] = p
    return ClusterSet(charge, y.astype(np.int8), np.arange(n, dtype=np.int64), "VTPC2")


def test_store_calibration_fits_once_and_calibrated_proba_uses_it(tmp_path: Path) -> None:
    model, val = _FixedModel(), _val_set()
    cal = store_calibration(tmp_path, model, val)
    assert cal is not None and model.calls == 1 and (tmp_path / CALIBRATION_FILE).is_file()
    assert store_calibration(tmp_path, model, val) == cal and model.calls == 1  # reused
    got = calibrated_proba(model, val.charge, tmp_path, method="platt")
    np.testing.assert_array_equal(got, cal.apply(val.charge[:, 0, 0], "platt"))
    with pytest.raises(ClusterDataError, match="no calibration"):
        calibrated_proba(model, val.charge, tmp_path / "nothing")
    assert isinstance(load_calibration(tmp_path), Calibration)


@pytest.fixture(scope="module")
def xgb_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ClusterSet]:
    """An XGBoost model trained through the pipeline (which stores the calibration)."""
    from interp.data.io import write_clusters
    from interp.data.simulator import simulate
    from interp.study.training import train_one

    folder = tmp_path_factory.mktemp("xgb_cal")
    data = simulate("VTPC2", 3, seed=3, n_clusters=200)
    ids = data.events()
    train, val = data.select_events(ids[:2]), data.select_events(ids[2:])
    train_one("xgboost", "VTPC2", train, val, folder, "smoke")
    model = folder / "runs" / "xgboost" / "VTPC2"
    return model, write_clusters(data, folder / "in.parquet"), val


def test_the_pipeline_stores_the_validation_calibration(
    xgb_run: tuple[Path, Path, ClusterSet],
) -> None:
    from interp.backends.classifier import load_classifier

    model, _, val = xgb_run
    cal = load_calibration(model)
    assert cal is not None and cal.n == len(val) and cal.chamber == "VTPC2"
    assert cal.signal_fraction == pytest.approx(float(np.mean(val.label)))
    raw = load_classifier(model).predict_proba(val.charge)
    assert cal == fit_calibration(raw, val.label, "VTPC2")


def test_predict_calibrated_isotonic_writes_calibrated_scores_and_metadata(
    tmp_path: Path, xgb_run: tuple[Path, Path, ClusterSet], capsys: pytest.CaptureFixture[str]
) -> None:
    from interp.backends.classifier import load_classifier

    model, inp, _ = xgb_run
    data = read_clusters(inp)
    out = tmp_path / "s.parquet"
    args = ["predict", str(model), str(inp), "--out", str(out), "--calibrated", "isotonic", "-q"]
    code, stdout, err = run_cli_streams(args, capsys)
    assert code == 0, err
    assert "calibrated: isotonic" in stdout
    table = pq.read_table(out)
    raw = load_classifier(model).predict_proba(data.charge)
    cal = load_calibration(model)
    np.testing.assert_allclose(table["p_signal_raw"].to_numpy(), raw, atol=1e-6)
    np.testing.assert_allclose(table["p_signal"].to_numpy(), cal.apply(raw, "isotonic"), atol=1e-6)
    meta = json.loads(table.schema.metadata[b"tpc_interp_scores"])
    assert meta["calibration"]["method"] == "isotonic"
    assert meta["calibration"]["signal_fraction"] == cal.signal_fraction
    assert meta["calibration"]["x"] == list(cal.isotonic.x)
    assert meta["threshold_applies_to"] == "p_signal_raw"
    assert meta["columns"] == [
        "file_index", "event_id", "cluster_index", "p_signal", "p_signal_raw", "label"
    ]  # fmt: skip


def test_predict_calibrated_without_a_calibration_is_one_line(
    tmp_path: Path, xgb_run: tuple[Path, Path, ClusterSet], capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    model, inp, _ = xgb_run
    bare = tmp_path / "bare"
    shutil.copytree(model, bare)
    (bare / CALIBRATION_FILE).unlink()
    out = tmp_path / "s.parquet"
    for method, words in (("platt", CALIBRATION_FILE), ("logistic", "calibrated")):
        target = bare if method == "platt" else model
        args = ["predict", str(target), str(inp), "--out", str(out), "--calibrated", method]
        code, _, err = run_cli_streams(args, capsys)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
