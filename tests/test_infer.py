"""Fast inference path: fused preprocessing + banded split conv equal the reference."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import models
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.fast import jax_preprocess
from interp.backends.flax.formulation import model_logits_fn
from interp.backends.flax.fused import make_fused_forward
from interp.backends.flax.random_params import random_params
from interp.backends.flax.steps import make_forward
from interp.backends.flax.tuning import preferred_chunk
from interp.data.preprocess import PREPROCESSORS, fit_preprocessor
from models.ops import conv_same_1ch, same_pads

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


@pytest.mark.parametrize(
    ("hw", "c_in", "stride", "kernel"),
    [
        ((11, 20), 1, 1, (3, 3)),  # shift-add (1-channel stem)
        ((9, 16), 1, 1, (2, 5)),  # shift-add, even kernel (asymmetric SAME padding)
        ((2, 3), 7, 1, (3, 3)),  # dense matmul (<= 6 output positions)
        ((3, 5), 4, 2, (3, 3)),  # dense, stride 2, odd input
        ((3, 5), 4, 2, (1, 1)),  # dense 1x1 projection
        ((6, 10), 3, 2, (3, 3)),  # XLA convolution
        ((11, 20), 1, 2, (3, 3)),  # 1 channel but strided: XLA convolution
    ],
)
def test_conv_hybrid_matches_flax_conv(hw, c_in, stride, kernel) -> None:
    import flax.linen as nn

    from models.ops import conv_hybrid

    rng = np.random.default_rng(5)
    x = rng.standard_normal((17, *hw, c_in)).astype(np.float32)
    p = {
        "kernel": rng.standard_normal((*kernel, c_in, 5)).astype(np.float32),
        "bias": rng.standard_normal(5).astype(np.float32),
    }
    conv = nn.Conv(5, kernel, strides=(stride, stride), padding="SAME")
    ref = np.asarray(conv.apply({"params": p}, x))
    got = np.asarray(jax.jit(conv_hybrid, static_argnums=3)(x, p["kernel"], p["bias"], stride))
    assert got.shape == ref.shape
    assert _rel(got, ref) < RTOL


@pytest.mark.parametrize(
    ("config", "window"),
    [
        ({}, (11, 20)),  # the registered ResNet: every conv_hybrid branch
        ({"stem_features": 4, "block_features": (6, 8), "block_strides": (2, 1)}, (11, 20)),
        ({"stem_features": 3, "block_features": (5, 6, 7), "block_strides": (1, 2, 2)}, (9, 13)),
    ],
)
def test_resnet_hybrid_matches_apply_values_and_gradients(config, window) -> None:
    from interp.backends.flax.steps import logits_fn

    module = models.get_model("resnet", **config)
    params = _params(module, window)
    x = _charge(64, window) / 255.0
    ref = np.asarray(make_forward(module)(params, x))
    got = np.asarray(jax.jit(model_logits_fn(module))(params, x))
    assert _rel(got, ref) < RTOL

    def grads(formulation: str):  # what the trainer differentiates
        f = logits_fn(module, train=True, formulation=formulation)
        return jax.grad(lambda p: f(p, x, None)[:, 1].sum())(params)

    for g_fast, g_ref in zip(
        jax.tree_util.tree_leaves(grads("auto")),
        jax.tree_util.tree_leaves(grads("apply")),
        strict=True,
    ):
        assert _rel(np.asarray(g_fast), np.asarray(g_ref)) < 1e-4


def test_split_conv_nondefault_config() -> None:
    module = models.get_model("split_conv", features=3, pad_kernel=(5, 3), time_kernel=(3, 7))
    params = _params(module, (9, 16))
    x = _charge(100, (9, 16))
    ref = np.asarray(make_forward(module)(params, x / 255.0))
    got = np.asarray(make_fused_forward(module, fit_preprocessor("none", x))(params, x))
    assert _rel(got, ref) < RTOL


def test_preferred_chunk() -> None:
    from interp.backends.flax.tuning import preferred_min_chunk

    assert preferred_chunk("split_conv") == 1024
    assert preferred_chunk("anything") >= 1024
    for name in [*models.model_names("flax"), "anything"]:
        assert 64 <= preferred_min_chunk(name) <= preferred_chunk(name)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 511, 512, 513, 1700, 4096, 8192 + 3 * 512 + 97])
@pytest.mark.parametrize(("max_size", "min_size"), [(4096, 512), (1024, 1024), (8192, 64)])
def test_ladder_chunks_cover_each_item_once(n: int, max_size: int, min_size: int) -> None:
    from interp.backends.flax.chunking import ladder_chunks

    pieces = list(ladder_chunks(n, max_size, min_size))
    covered = np.concatenate([np.arange(a, b) for a, b, _ in pieces] or [np.zeros(0, int)])
    np.testing.assert_array_equal(covered, np.arange(n))
    for i, (a, b, size) in enumerate(pieces):
        assert 0 < b - a <= size <= max_size
        assert a % min_size == 0  # aligned starts
        if i < len(pieces) - 1:
            assert b - a == size  # only the last piece is padded
    assert len(pieces) <= n // max_size + np.log2(max_size // min_size) + 1
    with pytest.raises(ValueError):
        list(ladder_chunks(n, 32, 32))


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("n", [1, 511, 513, 1700])
def test_default_chunk_plan_matches_reference(name: str, n: int) -> None:
    module = models.get_model(name)
    params = _params(module)
    x = _charge(n, seed=2)
    pre = fit_preprocessor("max", x)
    clf = FlaxClassifier(name, module, params, pre, "VTPC2")
    clf.backend = "jax"
    ref = np.asarray(make_forward(module)(params, pre(x)))
    assert _rel(clf.logits(x), ref) < RTOL  # ladder of exact slices + padded tail
    assert _rel(clf.logits(x, batch_size=100), ref) < RTOL


def _rewritten_models() -> list[str]:
    """Models whose "auto" formulation is a rewrite (for the others "auto" *is* "apply")."""
    from interp.backends.flax.formulation import rewritten_logits_fn

    names = [n for n in models.model_names("flax") if rewritten_logits_fn(models.get_model(n))]
    assert {"split_conv", "resnet"} <= set(names)
    return names


@pytest.mark.parametrize("name", _rewritten_models())
def test_trainer_step_formulations_agree(name: str) -> None:
    import jax.numpy as jnp

    from interp.backends.flax.schedule import one_cycle_hyper
    from interp.backends.flax.steps import TrainState, make_optimizer, make_train_step

    module = models.get_model(name)
    x = fit_preprocessor("max", _charge(128, seed=4))(_charge(128, seed=4))
    y = (np.arange(128) % 2).astype(np.int32)
    w = np.ones(128, np.float32)
    idx = np.arange(64, dtype=np.int32)
    out = {}
    for formulation in ("auto", "apply"):
        params = jax.tree_util.tree_map(jnp.asarray, _params(module))
        tx = make_optimizer()
        hyper = one_cycle_hyper(1e-3, 100, 1e-4)
        state = TrainState(jnp.int32(0), params, tx.init(params), np.zeros(2, np.uint32))
        step = make_train_step(module, tx, formulation)
        for _ in range(3):
            state, loss = step(state, x, y, w, idx, hyper)
        out[formulation] = (float(loss), jax.tree_util.tree_leaves(state.params))
    assert abs(out["auto"][0] - out["apply"][0]) < 1e-4
    for a, b in zip(out["auto"][1], out["apply"][1], strict=True):
        assert _rel(np.asarray(a), np.asarray(b)) < 1e-4


def test_perceptron_event_plan_on_float_and_integer_adc() -> None:
    """An event longer than the perceptron's chunk, as float32 and as uint8 ADC: the ladder
    of exact slices (raw-ADC rewrite, max moved after the matmul) equals the reference."""
    from interp.core.adc import compact_adc

    module = models.get_model("perceptron")
    params = _params(module)
    n = 2 * preferred_chunk("perceptron") + 700
    x = _charge(n, seed=6)
    pre = fit_preprocessor("max", x)
    clf = FlaxClassifier("perceptron", module, params, pre, "VTPC2")
    ref = np.asarray(make_forward(module)(params, pre(x)))
    adc8 = compact_adc(x)
    assert adc8.dtype == np.uint8
    for charge in (x, adc8):
        assert _rel(clf.logits(charge), ref) < RTOL


def test_logits_reads_the_model_spec_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunk plan and backend are looked up once per classifier, not per call (a spec
    lookup stats the model's file: ~0.1 ms, a tenth of the perceptron's event)."""
    module = models.get_model("perceptron")
    x = _charge(100)
    clf = FlaxClassifier("perceptron", module, _params(module), fit_preprocessor("max", x), "VTPC2")
    first = clf.logits(x)
    calls: list[str] = []
    real = models.model_spec
    monkeypatch.setattr(models, "model_spec", lambda name: calls.append(name) or real(name))
    np.testing.assert_array_equal(clf.logits(x), first)
    clf.predict_proba(x)
    assert calls == []
