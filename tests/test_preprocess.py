"""Preprocessing defined once: its numpy, JAX and ONNX forms agree on the same inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from interp.data.preprocess import (
    OPS,
    PREPROCESSORS,
    STEPS,
    Preprocessor,
    fit_preprocessor,
)

WINDOW = (11, 20)
INPUT_DTYPES = (np.float32, np.uint8, np.uint16)


def _charge(n: int = 400, seed: int = 0) -> np.ndarray:
    """Integer-valued ADC in [0, 255] (so every dtype holds it exactly), with zero windows."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, *WINDOW)).round().astype(np.float32)
    x[x < 20] = 0.0
    x[0] = 0.0  # all-zero window: max preprocessing divides by eps
    return np.minimum(x, 255.0)


class _Graph:
    """Minimal graph builder with the exporter's ``const``/``op`` interface."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        self._n += 1
        name = f"{hint}_{self._n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        self._n += 1
        out = f"{hint or op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _onnx_form(pre: Preprocessor, x: np.ndarray) -> np.ndarray:
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    from onnx import TensorProto, checker, helper

    from interp.backends.onnx.preprocess import preprocess_nodes

    g = _Graph()
    out = preprocess_nodes(g, "charge", pre)
    graph = helper.make_graph(
        g.nodes,
        "preprocess",
        [helper.make_tensor_value_info("charge", TensorProto.FLOAT, ["N", *WINDOW])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", *WINDOW])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"charge": x.astype(np.float32)})[0]


def _jax_form(pre: Preprocessor, x: np.ndarray) -> np.ndarray:
    import jax

    from interp.backends.flax.fast import jax_preprocess

    return np.asarray(jax.jit(jax_preprocess(pre))(x))


def test_every_method_is_steps_of_known_ops() -> None:
    assert set(PREPROCESSORS) == set(STEPS)
    for steps in STEPS.values():
        assert steps and all(s.op in OPS for s in steps)


@pytest.mark.parametrize("dtype", INPUT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", PREPROCESSORS)
def test_numpy_jax_onnx_forms_agree(method: str, dtype: Any) -> None:
    raw = _charge()
    pre = fit_preprocessor(method, raw)
    x = raw.astype(dtype)
    ref = pre(x)
    assert ref.dtype == np.float32 and ref.shape == raw.shape
    np.testing.assert_array_equal(ref, pre(raw))  # integer ADC is read exactly
    for name, got in (("jax", _jax_form(pre, x)), ("onnx", _onnx_form(pre, x))):
        assert got.dtype == np.float32, name
        # float32 rounding only: the numpy form divides by a float64 constant for ``log``
        # and XLA may rewrite a division as a multiplication by the reciprocal; XLA's own
        # log1p is not correctly rounded (3 ULP from numpy's on 11 of 88,000 pixels on an AMD
        # EPYC with AVX-512, 2 ULP on the earlier VM)
        np.testing.assert_array_max_ulp(got, ref, maxulp=4 if name == "jax" else 2)


def test_max_of_an_all_zero_window_is_zero() -> None:
    raw = _charge()
    pre = fit_preprocessor("max", raw)
    for got in (pre(raw), _jax_form(pre, raw), _onnx_form(pre, raw)):
        assert np.all(np.isfinite(got)) and not got[0].any()
