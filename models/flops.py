"""Parameter counts and XLA-measured forward FLOPs."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def param_count(params: Any) -> int:
    """Total number of scalars in a param pytree."""
    return int(sum(int(p.size) for p in jax.tree_util.tree_leaves(params)))


def flops_per_cluster(
    module: nn.Module, window: tuple[int, int] = (11, 20), batch: int = 256
) -> float:
    """Forward FLOPs per cluster from XLA's cost analysis of the compiled apply.

    Args:
        module: Unbound linen module.
        window: (P, T) window shape.
        batch: Batch size compiled for; the result is divided by it.

    Returns:
        FLOPs per cluster (float).
    """
    x = jnp.zeros((batch, *window), jnp.float32)
    params = jax.jit(module.init)(jax.random.key(0), x[:1])["params"]
    fn = jax.jit(lambda p, x: module.apply({"params": p}, x))
    cost = fn.lower(params, x).compile().cost_analysis()
    if isinstance(cost, list | tuple):  # older jax returned one dict per device
        cost = cost[0]
    return float(cost["flops"]) / batch
