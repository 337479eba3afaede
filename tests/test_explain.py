"""Attributions (saliency, IG, occlusion), rule distillation and physics breakdowns."""

from __future__ import annotations

import jax

jax.config.update("jax_disable_most_optimizations", True)

import contextlib  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import models  # noqa: E402
from interp.core.schema import ClusterSet  # noqa: E402
from interp.explain import attribution as attr  # noqa: E402
from interp.explain.breakdown import noise_removed_by_kind, signal_lost_vs  # noqa: E402
from interp.explain.rule import REGIONS, distil_rule, region_masks  # noqa: E402

WINDOW = (11, 20)
IG_STEPS = 64
IG_REL_TOL = 1e-2
"""Completeness tolerance: |sum(IG) - (f(x) - f(0))| <= IG_REL_TOL * max(|f(x) - f(0)|, 1)."""


def _inputs(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, *WINDOW)).astype(np.float32)
    x[x < 0.6] = 0.0
    return x


def _random_params(name: str, seed: int = 0, noise: float = 0.1) -> tuple:
    module = models.get_model(name)
    params = jax.jit(module.init)(jax.random.key(seed), jnp.zeros((1, *WINDOW)))["params"]
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    # perturb every leaf (the ResNet's zero-initialised convs would make it nearly linear)
    leaves = [p + noise * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys, strict=True)]
    return module, jax.tree_util.tree_unflatten(tree, leaves)


def test_perceptron_saliency_is_weight_difference() -> None:
    module, params = _random_params("perceptron", noise=1.0)
    f = attr.logit_diff_fn(module, params)
    grads = attr.saliency(f, _inputs(5))
    k = np.asarray(params["dense"]["kernel"])
    expected = (k[:, 1] - k[:, 0]).reshape(WINDOW)
    assert grads.shape == (5, *WINDOW)
    np.testing.assert_allclose(grads, np.broadcast_to(expected, grads.shape), atol=1e-6)


@contextlib.contextmanager
def _optimised() -> Iterator[None]:
    """XLA optimisations on: unoptimised ResNet backward convs run ~4x slower than they compile."""
    old = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", old)


@pytest.mark.parametrize("name", ["split_conv", "resnet"])
def test_integrated_gradients_completeness(name: str) -> None:
    module, params = _random_params(name)
    f = attr.logit_diff_fn(module, params)
    x = _inputs(4)
    with _optimised() if name == "resnet" else contextlib.nullcontext():
        ig = attr.integrated_gradients(f, x, steps=IG_STEPS, chunk=16, batch_size=4)
        delta = attr.evaluate(f, x) - attr.evaluate(f, np.zeros_like(x))
        gap = attr.completeness_gap(f, x, ig)
    assert np.all(np.abs(gap) <= IG_REL_TOL * np.maximum(np.abs(delta), 1.0)), (gap, delta)


def test_integrated_gradients_chunking_and_batching_invariant() -> None:
    module, params = _random_params("split_conv")
    f = attr.logit_diff_fn(module, params)
    x = _inputs(4)
    ig = attr.integrated_gradients(f, x, steps=16, chunk=4, batch_size=4)
    unchunked = attr.integrated_gradients(f, x, steps=16, chunk=16, batch_size=4)
    np.testing.assert_allclose(ig, unchunked, rtol=1e-4, atol=1e-5)
    # padding the last batch does not change the result
    padded = attr.integrated_gradients(f, x, steps=16, chunk=4, batch_size=3)
    np.testing.assert_allclose(padded, ig, rtol=1e-4, atol=1e-5)


def test_ig_exact_for_linear_model() -> None:
    module, params = _random_params("perceptron", noise=1.0)
    f = attr.logit_diff_fn(module, params)
    x = _inputs(3)
    ig = attr.integrated_gradients(f, x, steps=4, chunk=2)
    np.testing.assert_allclose(np.abs(attr.completeness_gap(f, x, ig)).max(), 0.0, atol=1e-4)


def test_occlusion_finds_planted_patch() -> None:
    def f(x: jax.Array) -> jax.Array:  # depends only on pads 2-4, time bins 12-14
        return jnp.tanh(jnp.sum(x[:, 2:5, 12:15], axis=(1, 2)))

    x = np.full((3, *WINDOW), 0.2, np.float32)
    occ = attr.occlusion(f, x, patch=(3, 3))
    assert occ.shape == x.shape
    for m in occ:
        p, t = np.unravel_index(np.argmax(m), m.shape)
        assert (p, t) == (3, 13)
        assert np.all(m[:, :9] == 0) and np.all(m[7:, :] == 0)  # far from the patch: no effect


def test_split_conv_contributions_sum_to_logit_difference() -> None:
    module, params = _random_params("split_conv")
    x = _inputs(5)
    c = attr.split_conv_contributions(module, params, x)
    total = c["pad"].sum(axis=(1, 2)) + c["time"].sum(axis=(1, 2)) + c["bias"]
    np.testing.assert_allclose(
        total, attr.evaluate(attr.logit_diff_fn(module, params), x), rtol=1e-4, atol=1e-4
    )


def test_groups() -> None:
    labels = np.array([1, 1, 0, 0, 1])
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.5])
    g = attr.confusion_groups(labels, scores, 0.5)
    assert {k: v.tolist() for k, v in g.items()} == {"TP": [0, 4], "FP": [2], "FN": [1], "TN": [3]}
    maps = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 2), np.float32)
    means = attr.group_means(maps, g)
    assert means["TP"][0, 0] == pytest.approx(2.0)


def _rule_data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, *WINDOW)).astype(np.float32)
    masks = region_masks(WINDOW)
    w = np.where(masks["core"], 2.0, np.where(masks["cross"], -1.0, -0.3))
    s = x.reshape(n, -1) @ w.ravel()
    y = (s > np.median(s)).astype(np.int8)
    return x, y, w


@pytest.mark.parametrize("method", ["project", "lstsq", "logistic"])
def test_rule_recovers_core_minus_ring(method: str) -> None:
    x, y, w = _rule_data()
    rule = distil_rule(x[:3000], y[:3000], method, weight_diff=w, bias_diff=-1.0)
    signs = [np.sign(rule.coefficients[r]) for r in REGIONS]
    assert signs == [1.0, -1.0, -1.0]
    acc = np.mean(rule.predict(x[3000:]) == y[3000:].astype(bool))
    assert acc > 0.95, (method, acc, rule.text())
    assert "mean_core" in rule.text()


def test_region_masks_partition_window() -> None:
    m = region_masks(WINDOW)
    total = sum(v.astype(int) for v in m.values())
    assert np.all(total == 1)
    assert m["core"][5, 10] and m["cross"][0, 10] and m["cross"][5, 0] and m["outer"][0, 0]


def test_breakdowns() -> None:
    n = 400
    rng = np.random.default_rng(1)
    label = (np.arange(n) % 2).astype(np.int8)
    kinds = np.where(label == 1, 0, 1 + np.arange(n) % 3).astype(np.int8)
    angle = rng.uniform(-20, 20, n).astype(np.float32)
    cs = ClusterSet(
        np.zeros((n, *WINDOW), np.float32),
        label,
        np.zeros(n, np.int64),
        "VTPC2",
        {"noise_kind": kinds, "crossing_angle": angle},
    )
    scores = np.where(label == 1, np.where(np.abs(angle) > 10, 0.1, 0.9), 0.1)
    r = signal_lost_vs(cs, scores, 0.5, "crossing_angle", n_bins=4)
    assert r is not None and sum(r["n"]) == n // 2
    assert r["rate"][0] == 0.0 and r["rate"][-1] == 1.0  # steep loss at large angles
    assert signal_lost_vs(cs, scores, 0.5, "drift_length") is None
    nr = noise_removed_by_kind(cs, scores, 0.5)
    assert set(nr) == {"electronic", "crosstalk", "hot_pad"}
    assert all(v["rate"] == 1.0 for v in nr.values())
