"""uint8 ADC into ONNX Runtime: the int8-digit integer matmul, every model's uint8 graph, and
the toolkit's per-dtype backend choice (``SPEC.uint8_backends``)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import models
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.core.errors import ShapeMismatchError
from interp.data.preprocess import fit_preprocessor
from models.contract import ModelSpec
from models.onnx_graph import INT8_DIGIT, int8_digits

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from interp.backends.onnx.export import build_onnx  # noqa: E402
from interp.backends.onnx.runtime import OnnxClassifier  # noqa: E402

RTOL = 1e-5
UINT8_GRAPHS = [
    (name, method)
    for name in models.model_names("flax")
    for method in models.model_spec(name).onnx_uint8_graphs
]
"""(model, preprocessing method) pairs with an integer graph of their own."""
UINT8_CHOICES = [
    (name, method, backend)
    for name in models.model_names("flax")
    for method, backend in models.model_spec(name).uint8_backends.items()
]


def _adc(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 40.0, (n, 11, 20)).round()
    x[x < 20] = 0
    return np.minimum(x, 255).astype(np.uint8)


def _classifier(name: str, method: str, seed: int = 1) -> FlaxClassifier:
    module = models.get_model(name)
    pre = fit_preprocessor(method, _adc(256, 9).astype(np.float32))
    return FlaxClassifier(name, module, random_params(module, (11, 20), seed), pre, "VTPC2")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


@pytest.mark.parametrize("digits", [1, 2, 3, 4])
def test_int8_digits_bound(digits: int) -> None:
    rng = np.random.default_rng(digits)
    w = rng.normal(size=(220, 2)) * 0.37
    d, scales = int8_digits(w, digits)
    assert d.dtype == np.int8 and d.shape == (220, 2 * digits)
    assert np.abs(d).max() <= INT8_DIGIT  # no int16 saturation in AVX2 kernels
    back = sum(scales[k] * d[:, 2 * k : 2 * k + 2].astype(np.float64) for k in range(digits))
    bound = np.abs(w).max() / (2 * INT8_DIGIT * 128.0 ** (digits - 1))
    assert np.abs(back - w).max() <= bound * (1 + 1e-9)
    assert np.abs(back - w).max() > 0  # not exact by accident: the bound is what is tested


def test_int8_digits_of_zero() -> None:
    d, scales = int8_digits(np.zeros((5, 2)))
    assert not d.any() and np.all(scales > 0)


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("generic", [False, True], ids=["own_graph", "generic"])
def test_every_model_takes_uint8(name: str, generic: bool) -> None:
    """Every Flax model's uint8 graph gives the float graph's logits and P(signal) on the same
    ADC (its own integer graph, or a cast in front of the float graph)."""
    clf = _classifier(name, "max")
    f32 = OnnxClassifier(build_onnx(clf, generic=generic).SerializeToString())
    u8 = OnnxClassifier(build_onnx(clf, generic=generic, input_dtype="uint8").SerializeToString())
    assert u8.input_dtype == np.uint8 and f32.input_dtype == np.float32
    x = _adc(300, 4)
    assert _rel(u8.logits(x), f32.logits(x.astype(np.float32))) <= RTOL
    np.testing.assert_allclose(
        u8.predict_proba(x), f32.predict_proba(x.astype(np.float32)), atol=1e-6
    )


@pytest.mark.parametrize(("name", "method"), UINT8_GRAPHS)
def test_integer_graph_reads_uint8(name: str, method: str) -> None:
    """A model's own uint8 graph multiplies the 8-bit input as integers (no float32 copy of it)
    and is exact to float32 rounding, also at the extremes: windows of zeros, of 255s."""
    clf = _classifier(name, method, seed=3)
    model = build_onnx(clf, input_dtype="uint8")
    ops = [n.op_type for n in model.graph.node]
    assert "MatMulInteger" in ops
    casts = [n for n in model.graph.node if n.op_type == "Cast" and "charge" in n.input]
    assert not casts
    u8 = OnnxClassifier(model.SerializeToString())
    x = _adc(200, 5)
    x[:3] = 0
    x[3:6] = 255
    ref = clf.logits(x.astype(np.float32))  # the JAX path on float32 windows
    assert _rel(u8.logits(x), ref) <= 2e-6
    np.testing.assert_array_equal(u8.logits(x[:3]), ref[:3])


def test_uint8_model_refuses_other_dtypes() -> None:
    clf = _classifier("perceptron", "max")
    u8 = OnnxClassifier(build_onnx(clf, input_dtype="uint8").SerializeToString())
    with pytest.raises(ShapeMismatchError, match=r"takes uint8 ADC windows.*got float32"):
        u8.logits(_adc(4).astype(np.float32))
    with pytest.raises(ValueError, match="input_dtype must be one of"):
        build_onnx(clf, input_dtype="uint16")
    with pytest.raises(ValueError, match="int8 ONNX model takes float32"):
        OnnxClassifier.from_classifier(clf, precision="int8", input_dtype="uint8")


@pytest.mark.parametrize(("name", "method", "backend"), UINT8_CHOICES)
def test_auto_backend_per_input_dtype(name: str, method: str, backend: str) -> None:
    """``backend="auto"`` runs the spec's uint8 choice on uint8 ADC (through a uint8 ONNX
    twin) and the float choice on float32 windows, with the same logits."""
    clf = _classifier(name, method)
    x = _adc(300, 6)
    jax_clf = copy.copy(clf)
    jax_clf.backend = "jax"
    ref = jax_clf.logits(x.astype(np.float32))
    assert _rel(clf.logits(x), ref) <= 2e-6
    twins = getattr(clf, "_onnx_twins", {})
    assert ("uint8" in twins) == (backend == "onnx")
    float_backend = models.model_spec(name).inference_backend
    assert _rel(clf.logits(x.astype(np.float32)), ref) <= 2e-6
    assert ("float32" in getattr(clf, "_onnx_twins", {})) == (float_backend == "onnx")


def test_uint16_adc_stays_on_the_float_choice() -> None:
    clf = _classifier("perceptron", "max")
    x = _adc(64, 7).astype(np.uint16) * 3
    ref = clf.logits(x.astype(np.float32))
    assert _rel(clf.logits(x), ref) <= 2e-6
    assert not getattr(clf, "_onnx_twins", {})


def test_uint8_backends_validated() -> None:
    with pytest.raises(ValueError, match="uint8_backends values must be"):
        ModelSpec(name="m", uint8_backends={"max": "torch"})
    from interp.backends.flax.tuning import preferred_onnx_chunk

    assert preferred_onnx_chunk("perceptron") == models.model_spec("perceptron").onnx_chunk
    assert preferred_onnx_chunk("resnet") == models.model_spec("resnet").chunk
