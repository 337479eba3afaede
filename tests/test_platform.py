"""Formulation per platform: the table, the GPU code path run on CPU, and a GPU smoke test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import models
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.formulation import (
    platform_formulation,
    platform_table,
    rewritten_logits_fn,
)
from interp.backends.flax.fused import make_fused_forward
from interp.backends.flax.platform import current_platform
from interp.backends.flax.random_params import random_params
from interp.backends.flax.steps import make_forward
from interp.data.preprocess import fit_preprocessor

ROOT = Path(__file__).resolve().parents[1]


def _charge(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.minimum(rng.gamma(1.0, 30.0, (n, 11, 20)).round(), 255.0).astype(np.float32)


def _gpu() -> jax.Device | None:
    try:
        devs = jax.devices("gpu")
    except RuntimeError:
        return None
    return devs[0] if devs else None


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("platform", ["cpu", "gpu", "tpu", "METAL_OR_OTHER"])
def test_auto_formulation_follows_the_platform_table(name: str, platform: str) -> None:
    module = models.get_model(name)
    want = platform_table().get(platform, {}).get(name, "apply")
    assert platform_formulation(module, platform) == want
    has_rewrite = rewritten_logits_fn(module, "auto", platform) is not None
    # a rewrite on raw input (the perceptron's) lives in the fused forward
    assert has_rewrite == (want == "rewrite" and models.model_spec(name).fast_forward is not None)


def test_table_choices() -> None:
    # CPU: every registered model has its rewrite; GPU: the convolutions run as convolutions
    table = platform_table()
    assert set(table["cpu"].values()) == {"rewrite"}
    assert table["gpu"]["resnet"] == table["gpu"]["split_conv"]
    assert table["gpu"]["resnet"] == "apply"


def test_current_platform_follows_default_device() -> None:
    assert current_platform() == jax.default_backend()
    with jax.default_device(jax.devices("cpu")[0]):
        assert current_platform() == "cpu"


@pytest.mark.parametrize("name", models.model_names("flax"))
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_gpu_formulation_on_cpu_equals_reference(name: str, precision: str) -> None:
    """The forward a GPU runs (platform forced to "gpu"), executed on the CPU."""
    x = _charge()
    module = models.get_model(name)
    params = random_params(module, (11, 20), 1)
    pre = fit_preprocessor("max", x)
    ref = np.asarray(make_forward(module)(params, pre(x)))
    got = np.asarray(
        make_fused_forward(module, pre, precision=precision, platform="gpu")(params, x)
    )
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    assert rel <= (1e-5 if precision == "float32" else 5e-2), rel


def _speed_module():
    spec = importlib.util.spec_from_file_location("speed_bench", ROOT / "benchmarks" / "speed.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["speed_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_speed_gpu_rows_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/speed.py``'s GPU column code path, on the CPU device (small event)."""
    speed = _speed_module()
    monkeypatch.setattr(speed, "GPU_CHUNK", 256)
    x = _charge(200)
    r = speed.bench_gpu("split_conv", x, None, 1, jax.devices("cpu")[0])
    kinds = {f"{f}/{p}/{k}" for f in ("apply", "rewrite") for p in ("float32", "bfloat16",
             "float16") for k in ("host", "host_uint8", "device")}  # fmt: skip
    assert set(r["rows"]) == kinds | {"toolkit"}
    for row, v in r["rows"].items():
        assert v["s_per_event"] > 0 and v["clusters_per_s"] > 0
        tol = 1e-5 if "float32" in row or row == "toolkit" else 5e-2
        assert v["rel_err_vs_cpu_reference"] <= tol, (row, v)
    if _gpu() is None:
        assert speed.gpu_device() is None


@pytest.mark.skipif(_gpu() is None, reason="no GPU visible to JAX (install '.[cuda]')")
@pytest.mark.parametrize("name", models.model_names("flax"))
def test_gpu_smoke(name: str) -> None:
    gpu = _gpu()
    x = _charge(3000)
    module = models.get_model(name)
    clf = FlaxClassifier(name, module, random_params(module), fit_preprocessor("max", x), "VTPC2")
    clf.backend = "jax"
    with jax.default_device(jax.devices("cpu")[0]):
        ref = clf.logits(x)
    clf._fused_key = None
    with jax.default_device(gpu):
        assert current_platform() == "gpu"
        got = clf.logits(x)
        clf.precision = "bfloat16"
        half = clf.logits(x)
    # TF32 matmuls on recent GPUs: ~1e-3 relative
    assert float(np.abs(got - ref).max() / np.abs(ref).max()) < 1e-2
    assert float(np.abs(half - ref).max() / np.abs(ref).max()) < 5e-2
