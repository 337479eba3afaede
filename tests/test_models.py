"""Tests of the model registry and the three built-in classifiers."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from interp.core.errors import UnknownNameError
from models import flops_per_cluster, get_model, model_config, model_names, param_count

jax.config.update("jax_disable_most_optimizations", True)

EXPECTED_PARAMS = {"perceptron": 442, "split_conv": 4612, "resnet": 95170}
INTERMEDIATES = {
    "perceptron": ["flat_input"],
    "split_conv": ["pad_branch", "time_branch", "features"],
    "resnet": ["stem", "block1", "block2", "block3", "pooled"],
}


def _init(name: str, window: tuple[int, int] = (11, 20)):
    module = get_model(name)
    variables = module.init(jax.random.key(0), jnp.zeros((1, *window)))
    return module, variables


def test_builtins_registered() -> None:
    assert set(EXPECTED_PARAMS) <= set(model_names("flax"))
    assert models.model_names() == sorted(models.model_names())
    assert "xgboost" in models.model_names("xgboost")


@pytest.mark.parametrize("name", model_names("flax"))
@pytest.mark.parametrize("window", [(11, 20), (9, 16)])
def test_forward_shape_finite_and_params_only(name: str, window: tuple[int, int]) -> None:
    module, variables = _init(name, window)
    assert list(variables) == ["params"]
    x = jax.random.normal(jax.random.key(1), (4, *window))
    logits = module.apply(variables, x, train=False)
    assert logits.shape == (4, 2)
    assert logits.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(logits)))
    logits_train = module.apply(variables, x, train=True)  # no dropout rng needed by default
    assert logits_train.shape == (4, 2)


@pytest.mark.parametrize("name", model_names("flax"))
def test_param_counts(name: str) -> None:
    _, variables = _init(name)
    n = param_count(variables["params"])
    expected = EXPECTED_PARAMS.get(name)
    if expected is None:  # a model added after these counts were written: only sanity
        assert n > 0
        return
    if name == "resnet":
        assert n == expected
        _, v916 = _init(name, (9, 16))
        assert param_count(v916["params"]) == n  # independent of window shape
    else:
        assert n == expected


@pytest.mark.parametrize("name", model_names("flax"))
def test_intermediates(name: str) -> None:
    module, variables = _init(name)
    x = jnp.ones((3, 11, 20))
    logits, state = module.apply(variables, x, mutable=["intermediates"])
    assert set(state) == ({"intermediates"} if name in INTERMEDIATES else set(state))
    inter = state.get("intermediates", {})
    for key in INTERMEDIATES.get(name, []):
        assert key in inter, key
        assert inter[key][0].shape[0] == 3
    assert logits.shape == (3, 2)
    if name == "split_conv":
        assert inter["pad_branch"][0].shape == (3, 11, 20, 5)
        assert inter["time_branch"][0].shape == (3, 11, 20, 5)
        assert inter["features"][0].shape == (3, 11 * 20 * 10)


@pytest.mark.parametrize("name", model_names("flax"))
def test_config_round_trip(name: str) -> None:
    module, variables = _init(name)
    record = json.loads(json.dumps({"name": name, "config": model_config(module)}))
    rebuilt = get_model(record["name"], **record["config"])
    assert model_config(rebuilt) == model_config(module)
    v2 = rebuilt.init(jax.random.key(0), jnp.zeros((1, 11, 20)))
    s1 = jax.tree_util.tree_structure(variables)
    s2 = jax.tree_util.tree_structure(v2)
    assert s1 == s2
    shapes1 = jax.tree_util.tree_map(jnp.shape, variables)
    shapes2 = jax.tree_util.tree_map(jnp.shape, v2)
    assert shapes1 == shapes2


def test_unknown_model_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_model("no_such_model")
    assert info.value.kind == "model"
    assert info.value.known == model_names()
    assert "perceptron" in str(info.value)


def _same_conv_flops(h: int, w: int, k: int, s: int, c_in: int, c_out: int):
    """(out h, out w, 2 x multiply-adds over in-bounds taps) of a SAME-padded conv."""

    def axis(n: int) -> tuple[int, int]:
        out = -(-n // s)
        lo = max((out - 1) * s + k - n, 0) // 2
        return out, sum(1 for o in range(out) for j in range(k) if 0 <= o * s - lo + j < n)

    (oh, th), (ow, tw) = axis(h), axis(w)
    return oh, ow, 2 * th * tw * c_in * c_out


def test_resnet_flops_match_analytic_count() -> None:
    """XLA's count equals the convolutions' multiply-adds (padding taps excluded) of the
    published ResNet (stem 10 filters, blocks 16/32/76 with stride 2, dense 76 -> 2) up to the
    few per cent of element-wise work (bias, ReLU, shortcut adds, pooling)."""
    module = get_model("resnet")
    assert tuple(module.block_features) == (16, 32, 76)
    assert tuple(module.block_strides) == (2, 2, 2)
    h, w, expected = _same_conv_flops(11, 20, 3, 1, 1, 10)
    c = 10
    for c_out in (16, 32, 76):
        oh, ow, f1 = _same_conv_flops(h, w, 3, 2, c, c_out)
        f2 = _same_conv_flops(oh, ow, 3, 1, c_out, c_out)[2]
        f3 = _same_conv_flops(h, w, 1, 2, c, c_out)[2]  # projection shortcut
        expected += f1 + f2 + f3
        h, w, c = oh, ow, c_out
    expected += 2 * 76 * 2
    assert expected == 1_238_568
    flops = flops_per_cluster(module, (11, 20), batch=256)
    assert 1.0 <= flops / expected < 1.03


def test_perceptron_logit_difference_is_linear() -> None:
    module, variables = _init("perceptron")
    params = jax.tree_util.tree_map(
        lambda p: jax.random.normal(jax.random.key(2), p.shape), variables["params"]
    )
    kernel = params["dense"]["kernel"]  # [P*T, 2]
    bias = params["dense"]["bias"]

    def diff(x: jax.Array) -> jax.Array:
        logits = module.apply({"params": params}, x[None])
        return logits[0, 1] - logits[0, 0]

    x = jax.random.normal(jax.random.key(3), (11, 20))
    grad = jax.grad(diff)(x)
    w = (kernel[:, 1] - kernel[:, 0]).reshape(11, 20)
    np.testing.assert_allclose(grad, w, rtol=1e-5, atol=1e-6)
    # Exact linear decomposition: diff(x) = sum(w * x) + (b1 - b0), same gradient everywhere.
    np.testing.assert_allclose(diff(x), jnp.sum(w * x) + bias[1] - bias[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.grad(diff)(2.0 * x + 1.0), grad, rtol=1e-6)


BUILTIN_FACTS: dict[str, set[str]] = {
    "perceptron": {"weight_map"},
    "split_conv": {"kernel_figures", "gradient_attributions"},
    "resnet": {"gradient_attributions"},
    "xgboost": {"shap"},
}


def test_builtin_specs_keep_their_choices() -> None:
    """The per-model facts that used to live in name tables elsewhere, now in each file."""
    spec = models.model_spec
    # facts of these four files, not a list of the registry (a new model file must not
    # break this test)
    has = {n: {c for c in models.CAPABILITIES if spec(n).has(c)} for n in BUILTIN_FACTS}
    assert has == BUILTIN_FACTS
    assert (spec("perceptron").chunk, spec("perceptron").min_chunk) == (4096, 512)
    assert (spec("split_conv").chunk, spec("resnet").chunk) == (1024, 512)
    assert [n for n in model_names() if spec(n).inference_backend == "onnx"] == ["resnet"]
    assert spec("xgboost").backend == "xgboost" and spec("xgboost").onnx_graph is None
    with pytest.raises(models.registry.ModelLoadError, match="no linen module"):
        get_model("xgboost")


def test_a_file_with_only_model_gets_flax_defaults() -> None:
    """A plain linen module with no spec: attributions yes, no rewrite, default chunking."""
    import flax.linen as nn

    class Plain(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False):
            return nn.Dense(2)(x.reshape(x.shape[0], -1))

    spec = models.spec_of(Plain())
    assert spec.backend == "flax" and spec.gradient_attributions
    assert spec.fast_forward is None and spec.onnx_graph is None and spec.chunk is None
    assert not (spec.weight_map or spec.kernel_figures or spec.shap)
