"""ONNX export: parity with JAX (random and simulated clusters), dynamic batch, errors."""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

import models
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.data.preprocess import fit_preprocessor

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from interp.backends.onnx.export import OPSET, UnsupportedModelError, build_onnx, export_onnx  # noqa: E402
from interp.backends.onnx.runtime import OnnxClassifier  # noqa: E402

RTOL = 1e-5


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    from interp.data.simulator import simulate

    return simulate("VTPC2", 1, 3, n_clusters=512).charge


def _random_charge(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, 11, 20)).round().astype(np.float32)
    x[x < 20] = 0.0
    return np.minimum(x, 255.0)


def _classifier(name: str, method: str, fit_on: np.ndarray, **config) -> FlaxClassifier:
    module = models.get_model(name, **config)
    params = random_params(module, (11, 20), 1)
    pre = fit_preprocessor(method, fit_on)
    return FlaxClassifier(name, module, params, pre, "VTPC2", model_config=config)


def _apply_reference(clf: FlaxClassifier, x: np.ndarray) -> np.ndarray:
    """Logits from the JAX reference formulation (``module.apply`` on preprocessed inputs),
    independent of the classifier's inference backend (which is ONNX Runtime for the ResNet)."""
    from interp.backends.flax.steps import make_forward

    return np.asarray(make_forward(clf.module)(clf.params, clf.preprocessor(x)))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("perceptron", "max"),
        ("perceptron", "standardise"),
        ("split_conv", "max"),
        ("split_conv", "log"),
        ("resnet", "max"),
        ("perceptron", "none"),
    ],
)
def test_onnx_matches_jax(name: str, method: str, simulated: np.ndarray) -> None:
    clf = _classifier(name, method, simulated)
    ort_clf = OnnxClassifier.from_classifier(clf)
    for x in (simulated, _random_charge(257)):
        ref = _apply_reference(clf, x)
        assert _rel(ort_clf.logits(x), ref) <= RTOL
        d = (ref[:, 1] - ref[:, 0]).astype(np.float64)
        np.testing.assert_allclose(ort_clf.predict_proba(x), 1 / (1 + np.exp(-d)), atol=1e-5)


def test_dynamic_batch_and_file(tmp_path: Path, simulated: np.ndarray) -> None:
    clf = _classifier("split_conv", "max", simulated, features=3)
    path = export_onnx(clf, tmp_path / "sub" / "m.onnx")
    model = onnx.load(str(path))
    assert model.opset_import[0].version == OPSET
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "N"
    ort_clf = OnnxClassifier(path)
    assert ort_clf.name == "split_conv" and ort_clf.window == (11, 20)
    ref = _apply_reference(clf, simulated)
    for n in (1, 7, 100):
        assert _rel(ort_clf.logits(simulated[:n], batch_size=n), ref[:n]) <= RTOL
    assert ort_clf.logits(simulated, batch_size=100).shape == (len(simulated), 2)
    assert ort_clf.predict_proba(simulated[:0]).shape == (0,)


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("generic", [False, True], ids=["own_graph", "generic"])
def test_every_registered_model_exports(name: str, generic: bool, simulated: np.ndarray) -> None:
    """Every Flax model of the registry exports with parity: through its ``SPEC.onnx_graph``
    (or the generic converter when it has none) and through the generic converter."""
    from interp.backends.onnx.runtime import OnnxClassifier

    clf = _classifier(name, "max", simulated)
    ort_clf = OnnxClassifier(build_onnx(clf, generic=generic).SerializeToString())
    x = _random_charge(129, seed=4)
    assert _rel(ort_clf.logits(x), _apply_reference(clf, x)) <= RTOL


class _Sorted(nn.Module):
    """A model with a primitive the generic converter has no rule for (``sort``)."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        flat = jnp.sort(x.reshape(x.shape[0], -1), axis=1)
        return nn.Dense(2, name="dense")(flat)


def test_unknown_model_fails_clearly(simulated: np.ndarray) -> None:
    module = _Sorted()
    pre = fit_preprocessor("max", simulated)
    clf = FlaxClassifier("test_export:_Sorted", module, random_params(module), pre, "VTPC2")
    with pytest.raises(UnsupportedModelError, match="no rule for 'sort'"):
        build_onnx(clf)
    clf.kind = "xgboost"
    with pytest.raises(UnsupportedModelError, match="supported: Flax models"):
        build_onnx(clf)


def test_cli_export(tmp_path: Path, simulated: np.ndarray) -> None:
    from typer.testing import CliRunner

    import interp.cli.export  # noqa: F401  (registers the command)
    from interp.cli.app import app

    clf = _classifier("perceptron", "log", simulated)
    clf.save(tmp_path / "run")
    res = CliRunner().invoke(
        app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")]
    )
    assert res.exit_code == 0, res.output
    assert "max relative error" in res.output and (tmp_path / "m.onnx").is_file()
    res = CliRunner().invoke(
        app,
        ["export", str(tmp_path / "run"), "--out", str(tmp_path / "u8.onnx"),
         "--input-dtype", "uint8"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "max relative error" in res.output
    assert OnnxClassifier(tmp_path / "u8.onnx").input_dtype == np.uint8
    res = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--input-dtype", "int4"])
    assert "field 'input-dtype'" in str(res.exception)  # exit code 2 from the entry point
