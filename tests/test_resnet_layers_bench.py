"""``benchmarks/resnet_layers.py``: it times the ResNet's own convolutions, and each path
computes the same layer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from interp.backends.flax.random_params import random_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    path = ROOT / "benchmarks" / "resnet_layers.py"
    spec = importlib.util.spec_from_file_location("resnet_layers_bench", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["resnet_layers_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_convolution_once_and_every_path_agrees(bench) -> None:
    module = models.get_model("resnet")
    params = random_params(module, (11, 20), 0)
    x = np.random.default_rng(3).normal(size=(16, 11, 20)).astype(np.float32)
    rows = bench.layers(module, params, x)
    n_blocks = len(module.block_features)
    assert [r["name"] for r in rows][:4] == ["stem", "block1.conv1", "block1.conv2", "block1.proj"]
    assert len(rows) == 1 + 3 * n_blocks
    # each layer's input is the previous layers' output: the grid halves at every block
    grids = [tuple(r["x"].shape[1:3]) for r in rows if r["name"].endswith("conv1")]
    assert grids == [(11, 20), (6, 10), (3, 5)]
    # 11x20 grid: stem 19,800 + block 1 86,400 / 138,240 / 9,600 + block 2 69,120 / 138,240 /
    # 7,680 + block 3 131,328 / 311,904 / 14,592 multiply-adds (padding taps included)
    assert sum(bench.macs_per_cluster(r) for r in rows) == 926_904
    for r in rows:
        paths = {**bench.jax_paths(r), "onnxruntime": bench.onnx_path(r)}
        ref = np.asarray(paths["xla_conv"]())
        assert ref.shape[-1] == r["kernel"].shape[-1]
        if r["relu"]:
            assert ref.min() >= 0.0
        got = {"jax": np.asarray(paths["jax"]()),
               "onnxruntime": paths["onnxruntime"]()[0].transpose(0, 2, 3, 1)}  # fmt: skip
        for name, y in got.items():
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(),
                                       err_msg=f"{r['name']} {name}")  # fmt: skip
