"""Input dtypes and reduced precision: integer ADC equals float32, bf16/fp16 JAX, int8 ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from interp.backends.flax.adc import as_model_input
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.core.adc import compact_adc
from interp.data.preprocess import PREPROCESSORS, fit_preprocessor

RTOL = 1e-5  # float32 summation order; the integer -> float32 conversion itself is exact


def _charge(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, 11, 20)).round().astype(np.float32)
    x[x < 20] = 0.0
    x[0] = 0.0  # an all-zero window (max preprocessing divides by eps)
    x[1] = 255.0  # a saturated window
    return np.minimum(x, 255.0)


def _classifier(name: str, method: str, fit_on: np.ndarray) -> FlaxClassifier:
    module = models.get_model(name)
    params = random_params(module, (11, 20), 1)
    clf = FlaxClassifier(name, module, params, fit_preprocessor(method, fit_on), "VTPC2")
    clf.backend = "jax"
    return clf


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("method", PREPROCESSORS)
def test_integer_adc_input_equals_float32(name: str, method: str) -> None:
    x = _charge()
    clf = _classifier(name, method, x)
    ref = clf.logits(x)
    for dtype in (np.uint8, np.uint16, np.int16):
        xi = x.astype(dtype)
        assert as_model_input(xi).dtype == dtype  # read as it is, not converted in numpy
        assert _rel(clf.logits(xi), ref) <= RTOL, (dtype, name, method)


@pytest.mark.parametrize("method", PREPROCESSORS)
def test_preprocessing_integer_adc_bit_identical(method: str) -> None:
    """Fitting and applying the preprocessing on uint8 ADC gives exactly the float32 result
    on the same whole numbers (the first op is the exact float32 conversion)."""
    x = _charge()
    u8 = x.astype(np.uint8)
    pre32, pre8 = fit_preprocessor(method, x), fit_preprocessor(method, u8)
    assert pre8.to_json() == pre32.to_json()
    np.testing.assert_array_equal(pre8(u8), pre32(x))


@pytest.mark.parametrize("name", models.model_names("flax"))
def test_onnx_runtime_integer_adc_equals_float32(name: str) -> None:
    """ONNX Runtime takes float32: integer ADC is converted chunk by chunk, exactly."""
    from interp.backends.onnx.runtime import OnnxClassifier

    x = _charge(200)
    ort = OnnxClassifier.from_classifier(_classifier(name, "max", x), threads=1)
    np.testing.assert_array_equal(ort.logits(x.astype(np.uint8), 64), ort.logits(x, 64))


def test_compact_adc() -> None:
    x = _charge()
    u8 = compact_adc(x)
    assert u8.dtype == np.uint8 and np.array_equal(u8, x)
    big = x.copy()
    big[2, 0, 0] = 1000.0
    u16 = compact_adc(big)
    assert u16.dtype == np.uint16 and np.array_equal(u16, big)
    for bad in (x + 0.5, x - 1.0, x * 300.0):  # fractional, negative, beyond 16 bits
        assert compact_adc(bad).dtype == np.float32
    assert compact_adc(u8) is u8


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_jax(name: str, precision: str) -> None:
    x = _charge()
    clf = _classifier(name, "max", x)
    ref = clf.logits(x)
    clf.precision = precision
    got = clf.logits(x)
    assert np.isfinite(got).all() and got.dtype == np.float32
    # close to float32 (bf16 keeps 8 mantissa bits) but not float32 itself
    assert 1e-6 < _rel(got, ref) < 5e-2, _rel(got, ref)
    clf.precision = "float32"
    assert _rel(clf.logits(x), ref) == 0.0  # switching back rebuilds the float32 forward


def test_unknown_precision_fails() -> None:
    clf = _classifier("perceptron", "max", _charge())
    clf.precision = "int4"
    with pytest.raises(ValueError, match="precision must be one of"):
        clf.logits(_charge())


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    from interp.data.simulator import simulate

    return simulate("VTPC2", 1, 3, n_clusters=1024).charge


@pytest.mark.parametrize("name", ["perceptron", "resnet"])
def test_int8_onnx(name: str, simulated: np.ndarray) -> None:
    pytest.importorskip("onnxruntime")
    from interp.backends.onnx.quantize import build_int8
    from interp.backends.onnx.runtime import OnnxClassifier

    clf = _classifier(name, "max", simulated)
    ref = clf.logits(simulated)
    model = build_int8(clf, simulated[:512])
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    q = OnnxClassifier(model.SerializeToString())
    assert q.info["precision"] == "int8" and q.name == name
    z = q.logits(simulated)
    assert 1e-6 < _rel(z, ref) < 0.3
    agree = np.mean((z[:, 1] > z[:, 0]) == (ref[:, 1] > ref[:, 0]))
    assert agree > 0.9, agree
    clf.precision = "int8"  # the classifier's own int8 path: ONNX Runtime, calibrated
    assert _rel(clf.logits(simulated), ref) > 1e-6


def test_int8_bad_calibration(simulated: np.ndarray) -> None:
    pytest.importorskip("onnxruntime")
    from interp.backends.onnx.quantize import CalibrationError, build_int8, calibration_windows

    clf = _classifier("perceptron", "max", simulated)
    with pytest.raises(CalibrationError, match=r"\[M >= 1, 11, 20\]"):
        build_int8(clf, simulated[:, :5])
    clf.train_chamber = "NO_SUCH_CHAMBER"
    with pytest.raises(CalibrationError, match="NO_SUCH_CHAMBER"):
        calibration_windows(clf)


def test_cli_export_quantize_and_predict_precision(
    tmp_path: Path, simulated: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime")
    import pyarrow.parquet as pq
    from test_cli_bad_inputs import run_cli

    from interp.data.io import write_clusters
    from interp.data.simulator import simulate

    clf = _classifier("perceptron", "max", simulated)
    run = str(tmp_path / "run")
    clf.save(run)
    out = tmp_path / "m8.onnx"
    code, text = run_cli(["export", run, "--out", str(out), "--quantize", "int8"], capsys)
    assert code == 0, text
    assert "int8 vs float32 decisions" in text and out.is_file()
    code, text = run_cli(
        ["export", run, "--quantize", "int4", "--out", str(tmp_path / "b")], capsys
    )
    assert code == 2 and "quantize" in text and "Traceback" not in text
    assert not (tmp_path / "b").exists()

    data = tmp_path / "ev.parquet"
    write_clusters(simulate("VTPC2", 1, 5, n_clusters=300), data)
    scores = {}
    for precision in ("float32", "bfloat16", "int8"):
        table = tmp_path / f"s_{precision}.parquet"
        args = ["predict", run, str(data), "-o", str(table), "-q", "--precision", precision]
        code, text = run_cli(args, capsys)
        assert code == 0, text
        scores[precision] = pq.read_table(table)["p_signal"].to_numpy()
    assert len(scores["float32"]) == 300
    for precision in ("bfloat16", "int8"):
        d = np.abs(scores[precision] - scores["float32"]).max()
        assert 0 < d < 0.2, (precision, d)
    bad = tmp_path / "x.parquet"
    code, text = run_cli(["predict", run, str(data), "-o", str(bad), "--precision", "int3"], capsys)
    assert code == 2 and "precision" in text and "Traceback" not in text
    assert not bad.exists()
