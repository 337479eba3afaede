"""The notebook API: load_classifier -> predict_proba, threshold, weight_map, attributions.

The validation operating point is stored with a model trained through the pipeline and
round-trips through ``predict`` (score-file metadata) and ``export`` (ONNX metadata).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from interp.backends.classifier import OPERATING_POINT_FILE, load_classifier
from interp.core.errors import TPCInterpError, UnknownNameError
from interp.core.schema import ClusterSet
from interp.evaluation.metrics import choose_threshold
from interp.explain.attribution import attributions
from interp.study.config import MAX_SIGNAL_LOSS
from interp.study.training import train_one


@pytest.fixture(scope="module")
def data() -> ClusterSet:
    from interp.data.simulator import simulate

    return simulate("VTPC2", 6, seed=5, n_clusters=80)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, data: ClusterSet) -> Path:
    ids = data.events()
    work = tmp_path_factory.mktemp("api")
    train, val = data.select_events(ids[:4]), data.select_events(ids[4:])
    overrides = {"max_epochs": 1, "learning_rate": 1e-2}
    train_one("perceptron", "VTPC2", train, val, work, "smoke", overrides)
    return work / "runs" / "perceptron" / "VTPC2"


def test_threshold_is_the_validation_operating_point(run_dir: Path, data: ClusterSet) -> None:
    clf = load_classifier(run_dir)
    val = data.select_events(data.events()[4:])
    expected = choose_threshold(clf.predict_proba(val.charge), val.label, MAX_SIGNAL_LOSS)
    assert clf.threshold == pytest.approx(expected, abs=1e-6)
    record = json.loads((run_dir / OPERATING_POINT_FILE).read_text())
    assert record["max_signal_loss"] == MAX_SIGNAL_LOSS and record["chamber"] == "VTPC2"


def test_threshold_round_trips_through_predict(
    run_dir: Path, data: ClusterSet, tmp_path: Path
) -> None:
    from interp.data.io import write_clusters
    from interp.data.io.scores import META_KEY

    clf = load_classifier(run_dir)
    src = tmp_path / "in.h5"
    write_clusters(data, src)
    out = tmp_path / "s.parquet"
    from interp.evaluation.predict import predict_files

    predict_files(run_dir, [src], out, progress=False)
    table = pq.read_table(out)
    meta = json.loads(table.schema.metadata[META_KEY.encode()])
    assert meta["threshold"] == pytest.approx(clf.threshold, abs=0)
    np.testing.assert_allclose(
        table["p_signal"].to_numpy(), clf.predict_proba(data.charge), atol=1e-6
    )


def test_threshold_round_trips_through_onnx(run_dir: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from interp.backends.onnx.export import export_onnx

    clf = load_classifier(run_dir)
    model = onnx.load(str(export_onnx(clf, tmp_path / "m.onnx")))
    props = {p.key: p.value for p in model.metadata_props}
    assert float(props["threshold"]) == clf.threshold


def test_weight_map_and_attributions(run_dir: Path, data: ClusterSet) -> None:
    clf = load_classifier(run_dir)
    maps = clf.weight_map()
    kernel = np.asarray(clf.params["dense"]["kernel"])
    np.testing.assert_allclose(
        maps["signal - noise"].ravel(), kernel[:, 1] - kernel[:, 0], rtol=1e-6
    )
    x = data.charge[:8]
    ig = attributions(clf, x, method="integrated_gradients", steps=32)
    assert ig.shape == x.shape
    # completeness on raw ADC input: sum of IG = f(x) - f(empty window) (a linear model: exact)
    z = np.asarray(clf.logits(x))
    w = maps["signal - noise"]
    b = np.asarray(clf.params["dense"]["bias"])
    f0 = float(b[1] - b[0])
    np.testing.assert_allclose(ig.sum(axis=(1, 2)), (z[:, 1] - z[:, 0]) - f0, atol=1e-3)
    assert w.shape == tuple(clf.window)
    with pytest.raises(UnknownNameError, match="saliency"):
        attributions(clf, x, method="shap")


def test_weight_map_refused_for_models_without_one(data: ClusterSet, tmp_path: Path) -> None:
    ids = data.events()
    clf, _ = train_one(
        "split_conv",
        "VTPC2",
        data.select_events(ids[:4]),
        data.select_events(ids[4:]),
        tmp_path,
        "smoke",
        {"max_epochs": 1},
    )
    with pytest.raises(TPCInterpError, match=r"no weight map.*attributions"):
        clf.weight_map()
