"""Fast inference path: fused preprocessing + banded split conv equal the reference."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import models
from interp.infer.fast import (
    conv_same_1ch,
    jax_preprocess,
    make_fused_forward,
    model_logits_fn,
    preferred_chunk,
    random_params,
    same_pads,
)
from interp.preprocess import PREPROCESSORS, fit_preprocessor
from interp.train.flax_classifier import FlaxClassifier
from interp.train.steps import make_forward

RTOL = 1e-5


def _charge(n: int = 300, window: tuple[int, int] = (11, 20), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, *window)).round().astype(np.float32)
    x[x < 20] = 0.0
    x[0] = 0.0  # an all-zero window (max preprocessing divides by eps)
    return np.minimum(x, 255.0)


def _params(module, window=(11, 20), seed: int = 1):
    return random_params(module, window, seed)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


@pytest.mark.parametrize("method", PREPROCESSORS)
def test_jax_preprocess_matches_numpy(method: str) -> None:
    x = _charge()
    pre = fit_preprocessor(method, x)
    got = np.asarray(jax.jit(jax_preprocess(pre))(x))
    np.testing.assert_allclose(got, pre(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kernel", [(10, 2), (2, 10), (3, 3), (1, 5), (4, 1)])
def test_banded_conv_matches_lax_conv(kernel: tuple[int, int]) -> None:
    import flax.linen as nn

    x = _charge(64).astype(np.float32) / 255.0
    conv = nn.Conv(3, kernel, padding="SAME")
    rng = np.random.default_rng(3)
    p = {
        "kernel": rng.standard_normal((*kernel, 1, 3)).astype(np.float32),
        "bias": rng.standard_normal(3).astype(np.float32),
    }
    ref = np.asarray(conv.apply({"params": p}, x[..., None]))  # [B, P, T, F]
    y, layout = conv_same_1ch(x, p["kernel"], p["bias"])
    y = np.asarray(y)
    if layout == "btpf":
        y = y.transpose(0, 2, 1, 3)
    assert _rel(y, ref) < RTOL


def test_same_pads() -> None:
    assert same_pads(11, 10) == (4, 5)
    assert same_pads(20, 2) == (0, 1)
    assert same_pads(11, 3, 2) == (1, 1)
    assert same_pads(20, 1, 2) == (0, 0)


@pytest.mark.parametrize("name", ["perceptron", "split_conv", "resnet"])
def test_classifier_logits_match_reference(name: str) -> None:
    module = models.get_model(name)
    params = _params(module)
    x = _charge(300)
    pre = fit_preprocessor("max", x)
    clf = FlaxClassifier(name, module, params, pre, "VTPC2")
    ref = np.asarray(make_forward(module)(params, pre(x)))  # reference: numpy prep + apply
    for backend, sizes in (("jax", (None, 128)), ("auto", (None,))):
        clf.backend = backend
        for bs in sizes if name != "resnet" else (None,):  # resnet: compile once
            got = clf.logits(x, batch_size=bs)
            assert got.shape == (300, 2) and got.dtype == np.float32
            assert _rel(got, ref) < RTOL, (name, backend)
    p = clf.predict_proba(x)
    d = (ref[:, 1] - ref[:, 0]).astype(np.float64)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-d)), atol=1e-6)
    assert clf.logits(x[:0]).shape == (0, 2)
    clf.backend = "tpu"
    with pytest.raises(ValueError, match="backend"):
        clf.logits(x)


def test_resnet_im2col_matches_apply() -> None:
    module = models.get_model(
        "resnet", stem_features=4, block_features=(6, 8), block_strides=(2, 1)
    )
    params = _params(module)
    x = _charge(64) / 255.0
    ref = np.asarray(make_forward(module)(params, x))
    got = np.asarray(jax.jit(model_logits_fn(module, "im2col"))(params, x))
    assert _rel(got, ref) < RTOL


def test_split_conv_nondefault_config() -> None:
    module = models.get_model("split_conv", features=3, pad_kernel=(5, 3), time_kernel=(3, 7))
    params = _params(module, (9, 16))
    x = _charge(100, (9, 16))
    ref = np.asarray(make_forward(module)(params, x / 255.0))
    got = np.asarray(make_fused_forward(module, fit_preprocessor("none", x))(params, x))
    assert _rel(got, ref) < RTOL


def test_preferred_chunk() -> None:
    assert preferred_chunk("split_conv") == 1024
    assert preferred_chunk("anything") >= 1024
