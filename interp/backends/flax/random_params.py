"""Random parameters of a module's shapes without running ``init`` (tests and benchmarks)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def random_params(module: nn.Module, window: tuple[int, int] = (11, 20), seed: int = 0) -> Any:
    """Random parameters of the module's shapes without running ``init`` (seconds for ResNet).

    Kernels (ndim >= 2) ~ N(0, 1/fan_in), fan_in = prod(shape[:-1]); biases ~ N(0, 0.05^2).
    For tests and benchmarks; every leaf is non-zero (unlike ResNet's zero-init conv2).

    Args:
        module: Linen module.
        window: (P, T) input window.
        seed: numpy seed.

    Returns:
        Param tree of float32 numpy arrays.
    """
    x = jax.ShapeDtypeStruct((1, *window), jnp.float32)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), x)["params"]
    rng = np.random.default_rng(seed)

    def draw(s: jax.ShapeDtypeStruct) -> np.ndarray:
        if len(s.shape) >= 2:
            scale = 1.0 / np.sqrt(float(np.prod(s.shape[:-1])))
        else:
            scale = 0.05
        return (scale * rng.standard_normal(s.shape)).astype(np.float32)

    return jax.tree_util.tree_map(draw, shapes)
