"""The ResNet's CPU formulation (models/resnet_cpu.py) against flax.linen and module.apply."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import pytest

import models
from interp.backends.flax.random_params import random_params
from interp.backends.flax.steps import make_forward
from models.resnet_cpu import conv_cpu, fast_forward

RTOL = 1e-5


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _conv_params(rng, kernel, c_in, c_out):
    return {
        "kernel": rng.standard_normal((*kernel, c_in, c_out)).astype(np.float32),
        "bias": rng.standard_normal(c_out).astype(np.float32),
    }


@pytest.mark.parametrize(
    ("hw", "c_in", "c_out", "stride", "branch"),
    [
        ((6, 10), 16, 16, 1, "conv"),  # > 6 output positions: XLA convolution
        ((11, 20), 10, 16, 2, "conv"),
        ((3, 5), 32, 76, 2, "im2col"),  # block 3 conv1: 9 taps < 15 positions
        ((3, 5), 4, 5, 1, "conv"),  # 15 output positions: XLA convolution
        ((3, 5), 1, 4, 2, "im2col"),  # 1 channel, strided: im2col too
        ((2, 3), 8, 8, 1, "dense"),  # 9 taps > 6 positions: dense matmul
        ((11, 20), 1, 10, 1, "shift-add"),  # 1-channel stem
    ],
)
def test_conv_cpu_matches_flax_conv(hw, c_in, c_out, stride, branch) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, *hw, c_in)).astype(np.float32)
    p = _conv_params(rng, (3, 3), c_in, c_out)
    ref = nn.Conv(c_out, (3, 3), strides=(stride, stride), padding="SAME").apply({"params": p}, x)
    fn = jax.jit(conv_cpu, static_argnums=3)
    got = fn(x, p["kernel"], p["bias"], stride)
    assert got.shape == ref.shape
    assert _rel(got, ref) < RTOL
    jaxpr = str(jax.make_jaxpr(conv_cpu, static_argnums=3)(x, p["kernel"], p["bias"], stride))
    jaxpr = jaxpr.replace(" ", "")
    positions = 9 * int(got.shape[1]) * int(got.shape[2])  # im2col: [B * Ho * Wo, 9 * C]
    assert (f"f32[{positions},{9 * c_in}]" in jaxpr) == (branch == "im2col")
    assert ("conv_general_dilated" in jaxpr) == (branch == "conv")


@pytest.mark.parametrize(
    ("config", "window"),
    [
        ({}, (11, 20)),  # the registered ResNet: every conv_cpu branch
        ({"stem_features": 6, "block_features": (6, 8), "block_strides": (1, 2)}, (11, 20)),
        ({"stem_features": 4, "block_features": (6, 8), "block_strides": (2, 1)}, (11, 20)),
        ({"stem_features": 3, "block_features": (5, 6, 7), "block_strides": (1, 2, 2)}, (9, 13)),
    ],
)
def test_fast_forward_matches_apply_values_and_gradients(config, window) -> None:
    module = models.get_model("resnet", **config)
    params = random_params(module, window, 0)
    rng = np.random.default_rng(2)  # the zero-initialised conv2 kernels made non-zero
    params = jax.tree_util.tree_map(
        lambda a: np.asarray(a) + 0.1 * rng.standard_normal(a.shape).astype(np.float32), params
    )
    x = rng.random((33, *window)).astype(np.float32)
    ref = np.asarray(make_forward(module)(params, x))
    fn = fast_forward(module)
    assert _rel(jax.jit(fn)(params, x), ref) < RTOL

    def grads(f):
        return jax.grad(lambda p: f(p, x)[:, 1].sum())(params)

    apply = lambda p, x: module.apply({"params": p}, x)  # noqa: E731
    for g_fast, g_ref in zip(
        jax.tree_util.tree_leaves(grads(fn)), jax.tree_util.tree_leaves(grads(apply)), strict=True
    ):
        assert _rel(g_fast, g_ref) < 1e-4


def test_resnet_spec_uses_the_cpu_formulation() -> None:
    spec = models.model_spec("resnet")
    assert spec.fast_forward is fast_forward
    assert spec.formulation["cpu"] == "rewrite"
