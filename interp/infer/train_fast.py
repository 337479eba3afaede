"""A training step that uses the fast formulations of :mod:`interp.infer.fast`.

Same contract as :func:`interp.train.steps.make_train_step` (same ``TrainState``, optimiser,
weighted loss, index-gathered batches, donated state), but the model's logits come from
:func:`interp.infer.fast.model_logits_fn` (banded-matmul split conv). The gradients are the
same function of the same parameter tree up to float32 summation order, so the trainer can use
either step. Models without a rewrite fall back to ``module.apply`` (no dropout support here:
none of the registered models uses dropout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from interp.infer.fast import model_logits_fn
from interp.train.steps import TrainState, weighted_cross_entropy


def make_fast_train_step(
    module: nn.Module, tx: optax.GradientTransformation
) -> Callable[..., tuple[TrainState, jax.Array]]:
    """Jitted ``train_step(state, x_all, y_all, w_all, idx) -> (state, loss)``.

    Args:
        module: Linen model.
        tx: Optimiser (e.g. :func:`interp.train.steps.make_optimizer`).

    Returns:
        Pure jitted step: ``x_all`` float32 [N, P, T] preprocessed, ``y_all`` int32 [N],
        ``w_all`` float32 [N], ``idx`` int32 [B]; ``loss`` = weighted mean CE (nats).
    """
    logits_fn = model_logits_fn(module)

    def loss_fn(params: Any, x: jax.Array, y: jax.Array, w: jax.Array) -> jax.Array:
        total, norm = weighted_cross_entropy(logits_fn(params, x), y, w)
        return total / jnp.maximum(norm, 1e-12)

    def train_step(
        state: TrainState, x_all: jax.Array, y_all: jax.Array, w_all: jax.Array, idx: jax.Array
    ) -> tuple[TrainState, jax.Array]:
        x, y, w = x_all[idx], y_all[idx], w_all[idx]
        loss, grads = jax.value_and_grad(loss_fn)(state.params, x, y, w)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), loss

    return jax.jit(train_step, donate_argnums=0)
