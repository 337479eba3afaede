"""Streaming ``predict``: formats, chunk independence, event keys, atomic output, CLI."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
from test_cli_bad_inputs import run_cli_streams

from interp.backends.classifier import Classifier, load_classifier
from interp.core.schema import ClusterSet
from interp.data.io import ClusterWriteError, write_clusters
from interp.evaluation.predict import EventCounter, predict_files

N_EVENTS, PER_EVENT = 3, 300


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """Reads a score table of any supported format into numpy columns."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return {k: table[k].to_numpy() for k in table.column_names}
    if path.suffix in (".h5", ".hdf5"):
        with h5py.File(path, "r") as f:
            return {k: f[k][:] for k in f}
    with uproot.open(path) as f:
        return dict(f["scores"].arrays(library="np"))


def reference_index(event_id: np.ndarray) -> np.ndarray:
    """Index of each cluster within its event in file order (slow, obvious version)."""
    seen: dict[int, int] = {}
    out = []
    for e in event_id.tolist():
        out.append(seen.get(e, 0))
        seen[e] = out[-1] + 1
    return np.asarray(out, np.int64)


@pytest.fixture(scope="module")
def data() -> ClusterSet:
    from interp.data.simulator import simulate

    cs = simulate("VTPC2", N_EVENTS, seed=3, n_clusters=PER_EVENT)
    # interleave events, so cluster indices must be counted per event across chunks
    order = np.random.default_rng(0).permutation(len(cs))
    return cs.subset(order)


@pytest.fixture(scope="module")
def flax_model(tmp_path_factory: pytest.TempPathFactory, data: ClusterSet) -> Path:
    from interp.backends.flax.config import TrainConfig
    from interp.backends.flax.trainer import train_flax

    workdir = tmp_path_factory.mktemp("flax_model")
    cfg = TrainConfig.smoke(learning_rate=1e-2, max_epochs=1, eval_batch_size=256)
    ids = data.events()
    train_flax(
        "perceptron",
        data.select_events(ids[:2]),
        data.select_events(ids[2:]),
        workdir,
        cfg,
        progress=False,
    )
    return workdir


@pytest.fixture(scope="module")
def xgb_model(tmp_path_factory: pytest.TempPathFactory, data: ClusterSet) -> Path:
    from interp.backends.xgboost.classifier import XGBConfig, train_xgboost

    workdir = tmp_path_factory.mktemp("xgb_model")
    ids = data.events()
    cfg = XGBConfig.smoke()
    train_xgboost(data.select_events(ids[:2]), data.select_events(ids[2:]), workdir, cfg)
    return workdir


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, data: ClusterSet) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    return {ext: write_clusters(data, folder / f"in.{ext}") for ext in ("parquet", "h5", "root")}


def test_event_counter_counts_across_chunks() -> None:
    counter = EventCounter()
    ev = np.array([5, 5, 2, 5, 2, 9, 5, 2])
    got = np.concatenate([counter(ev[:3]), counter(ev[3:3]), counter(ev[3:])])
    np.testing.assert_array_equal(got, reference_index(ev))


@pytest.mark.parametrize(
    ("src", "dst"), [("parquet", "parquet"), ("h5", "h5"), ("root", "root"), ("root", "parquet")]
)
def test_scores_match_classifier(
    tmp_path: Path, data: ClusterSet, flax_model: Path, inputs: dict[str, Path], src: str, dst: str
) -> None:
    out = tmp_path / f"scores.{dst}"
    res = predict_files(flax_model, [inputs[src]], out, chunk_size=97, progress=False)
    assert res["clusters"] == len(data) and out.is_file()
    cols = read_scores(out)
    assert set(cols) == {"file_index", "event_id", "cluster_index", "p_signal", "label"}
    assert cols["p_signal"].dtype == np.float32
    assert cols["event_id"].dtype == np.int64 and cols["cluster_index"].dtype == np.int64
    np.testing.assert_array_equal(cols["event_id"], data.event_id)
    np.testing.assert_array_equal(cols["cluster_index"], reference_index(data.event_id))
    np.testing.assert_array_equal(cols["label"], data.label)
    clf: Classifier = load_classifier(flax_model)
    np.testing.assert_allclose(cols["p_signal"], clf.predict_proba(data.charge), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp files left


def test_chunk_size_does_not_change_output(
    tmp_path: Path, flax_model: Path, inputs: dict[str, Path]
) -> None:
    outs = []
    for chunk in (1000, 64, 7):
        out = tmp_path / f"s{chunk}.parquet"
        predict_files(flax_model, [inputs["parquet"]], out, chunk_size=chunk, progress=False)
        outs.append(read_scores(out))
    for other in outs[1:]:  # batch shapes differ, so XLA may round the last bit differently
        for k in outs[0]:
            np.testing.assert_allclose(outs[0][k], other[k], rtol=0, atol=1e-6)
            assert outs[0][k].dtype == other[k].dtype


def test_several_files_and_xgboost(
    tmp_path: Path, data: ClusterSet, xgb_model: Path, inputs: dict[str, Path]
) -> None:
    out = tmp_path / "s.h5"
    predict_files(
        xgb_model, [inputs["h5"], inputs["parquet"]], out, progress=False, include_label=False
    )
    cols = read_scores(out)
    assert "label" not in cols
    n = len(data)
    np.testing.assert_array_equal(cols["file_index"], np.repeat([0, 1], n))
    ref = reference_index(data.event_id)
    np.testing.assert_array_equal(cols["cluster_index"], np.concatenate([ref, ref]))
    p = load_classifier(xgb_model).predict_proba(data.charge)
    np.testing.assert_allclose(cols["p_signal"], np.concatenate([p, p]), atol=1e-6)


def test_metadata_names_model_and_inputs(
    tmp_path: Path, flax_model: Path, inputs: dict[str, Path]
) -> None:
    import json

    out = tmp_path / "s.parquet"
    predict_files(flax_model, [inputs["root"]], out, progress=False)
    meta = json.loads(pq.read_schema(out).metadata[b"tpc_interp_scores"])
    assert meta["model_name"] == "perceptron" and meta["files"] == [str(inputs["root"])]


def _fail_on_second_write(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    from interp.data.io import scores as scores_io

    real = scores_io._ParquetSink.append
    calls = {"n": 0}

    def append(self: Any, columns: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise exc
        real(self, columns)

    monkeypatch.setattr(scores_io._ParquetSink, "append", append)


def test_disk_full_leaves_nothing(
    tmp_path: Path, flax_model: Path, inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_on_second_write(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    out = tmp_path / "s.parquet"
    out.write_bytes(b"previous result")
    with pytest.raises(ClusterWriteError, match="No space left on device") as info:
        predict_files(flax_model, [inputs["h5"]], out, chunk_size=100, progress=False)
    assert str(out) in str(info.value)
    assert out.read_bytes() == b"previous result"  # an older file is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]


def test_keyboard_interrupt_leaves_nothing(
    tmp_path: Path, flax_model: Path, inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_on_second_write(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        predict_files(flax_model, [inputs["h5"]], tmp_path / "s.parquet", chunk_size=100)
    assert list(tmp_path.iterdir()) == []


def test_cli_predict(
    tmp_path: Path,
    flax_model: Path,
    inputs: dict[str, Path],
    data: ClusterSet,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "s.root"
    args = ["predict", str(flax_model), str(inputs["parquet"]), "--out", str(out)]
    code, stdout, err = run_cli_streams([*args, "--chunk-size", "250"], capsys)
    assert code == 0, err
    assert f"scored {len(data):,} clusters" in stdout
    assert "predict" not in err  # no tqdm bar: stderr is not a terminal here
    assert len(read_scores(out)["p_signal"]) == len(data)
    code, _, err = run_cli_streams([*args, "-q"], capsys)
    assert code == 2 and "exists" in err and "--overwrite" in err
    code, _, err = run_cli_streams([*args, "-q", "--overwrite"], capsys)
    assert code == 0, err
