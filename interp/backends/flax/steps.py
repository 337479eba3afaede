"""Pure, jitted training and evaluation steps (weighted softmax cross-entropy or weighted
reconstruction error, chosen by the model spec's objective; AdamW).

All training arrays live on the device once per run; a step receives int32 batch indices and
gathers its batch inside the jitted function, so the host only ships indices per step. The
dropout key of step ``s`` is ``fold_in(rng, s)``: a pure function of the saved state.

The schedule (learning rate, beta1, weight decay) is a jit argument, a packed float32 vector
(:func:`interp.backends.flax.schedule.one_cycle_hyper`), not constants of the compiled program:
one compiled step serves every run of a model whatever its learning rate or length, the LR
range finder included (:func:`interp.backends.flax.schedule.constant_hyper`); the trainer keeps
one per model configuration (:mod:`interp.backends.flax.step_cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from interp.backends.flax.schedule import hyper_at

Params = Any


@flax.struct.dataclass
class TrainState:
    """Everything a step changes.

    Attributes:
        step: int32 scalar, optimiser steps taken (also the schedule position).
        params: Model parameter tree.
        opt_state: Optax state (holds the schedule count and the Adam moments).
        rng: PRNG key data (uint32 [2]); dropout keys are folded from it per step.
    """

    step: jax.Array
    params: Params
    opt_state: Any
    rng: jax.Array


def weighted_cross_entropy(
    logits: jax.Array, labels: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Weighted softmax cross-entropy sums.

    Args:
        logits: float32 [B, 2].
        labels: int [B], 0 noise / 1 signal.
        weights: float32 [B] per-sample weights (class weight; 0 for padding).

    Returns:
        ``(sum_i w_i * ce_i, sum_i w_i)``; their ratio is the weighted mean loss (nats).
    """
    ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    return jnp.sum(weights * ce), jnp.sum(weights)


def decay_mask(params: Params) -> Params:
    """Weight decay on kernels (ndim >= 2) only, not on biases or norm scales."""
    return jax.tree_util.tree_map(lambda p: p.ndim >= 2, params)


def make_optimizer(trainable: Any = None) -> optax.GradientTransformation:
    """AdamW with weight decay on kernels only; its learning rate, beta1 and weight decay are
    injected hyperparameters that :func:`make_train_step` sets at every step from its
    ``hyper`` argument (1-cycle, Smith 2018: :func:`interp.backends.flax.schedule.hyper_at`).

    Args:
        trainable: ``None`` (every parameter trained) or a tree of bools shaped like the
            parameters: ``False`` leaves are frozen (their updates, weight decay included, are
            zero; ``optax.multi_transform`` with ``set_to_zero``).

    Returns:
        The optax transformation.
    """
    adamw = optax.inject_hyperparams(optax.adamw, static_args=("mask",))(
        learning_rate=0.0, b1=0.9, weight_decay=0.0, mask=decay_mask
    )
    if trainable is None:
        return adamw
    labels = jax.tree_util.tree_map(lambda t: "train" if t else "freeze", trainable)
    return optax.multi_transform({"train": adamw, "freeze": optax.set_to_zero()}, labels)


LogitsFn = Callable[[Params, jax.Array, jax.Array], jax.Array]
"""``logits(params, x [B, P, T] float32, dropout_key) -> float32 [B, C]`` (the key is
unused, and may be ``None``, when ``train`` is off)."""


def logits_fn(module: nn.Module, train: bool, formulation: str = "auto") -> LogitsFn:
    """The forward pass the steps differentiate or evaluate.

    Args:
        module: Linen model.
        train: Passed to ``module.apply`` (dropout on, with the given key).
        formulation: ``"auto"`` uses the model's fast rewrite where one exists
            (:func:`interp.backends.flax.formulation.rewritten_logits_fn`: banded-matmul split
            conv, 5x faster to train on the 2-core VM; hybrid-convolution ResNet, 1.3x);
            ``"apply"`` always runs ``module.apply`` (the reference).

    Returns:
        A traceable :data:`LogitsFn`.
    """
    from interp.backends.flax.formulation import rewritten_logits_fn

    rewrite = rewritten_logits_fn(module, formulation)
    if rewrite is not None:
        return lambda params, x, key: rewrite(params, x)

    def apply(params: Params, x: jax.Array, key: jax.Array | None) -> jax.Array:
        rngs = {"dropout": key} if train and key is not None else {}
        return module.apply({"params": params}, x, train=train, rngs=rngs)

    return apply


LossSums = Callable[..., tuple[jax.Array, jax.Array]]
"""``sums(params, x [B, P, T], y int [B], w float32 [B], key) -> (sum_i w_i l_i, sum_i w_i)``."""


def loss_sums_fn(
    module: nn.Module, train: bool, formulation: str = "auto", objective: str = "classify"
) -> LossSums:
    """The per-sample loss of an objective (:data:`models.contract.OBJECTIVES`) as weighted sums.

    Args:
        module: Linen model.
        train: Passed to the forward pass (dropout).
        formulation: Forward pass of the classifier, see :func:`logits_fn`.
        objective: ``"classify"``: softmax cross-entropy of the logits (nats);
            ``"reconstruct"``: the mean squared error over the window's pixels between
            ``x`` and ``module.reconstruct(x)`` (preprocessed units squared).

    Returns:
        A traceable :data:`LossSums`.

    Raises:
        ValueError: Unknown objective.
    """
    if objective == "classify":
        logits = logits_fn(module, train=train, formulation=formulation)

        def classify(params: Params, x: jax.Array, y: jax.Array, w: jax.Array, key: Any) -> Any:
            return weighted_cross_entropy(logits(params, x, key), y, w)

        return classify
    if objective == "reconstruct":

        def reconstruct(params: Params, x: jax.Array, y: jax.Array, w: jax.Array, key: Any) -> Any:
            del y, key
            r = module.apply({"params": params}, x, method="reconstruct")
            e = jnp.mean(jnp.square(x - r).reshape(x.shape[0], -1), axis=-1)
            return jnp.sum(w * e), jnp.sum(w)

        return reconstruct
    raise ValueError(f"unknown training objective '{objective}'; known: classify, reconstruct")


def _loss(
    sums: LossSums, params: Params, x: jax.Array, y: jax.Array, w: jax.Array, key: Any
) -> Any:
    total, norm = sums(params, x, y, w, key)
    return total / jnp.maximum(norm, 1e-12)


def make_train_step(
    module: nn.Module,
    tx: optax.GradientTransformation,
    formulation: str = "auto",
    objective: str = "classify",
) -> Callable[..., tuple[TrainState, jax.Array]]:
    """Jitted ``train_step(state, x_all, y_all, w_all, idx, hyper) -> (state, loss)``.

    Args:
        module: Linen model; ``apply(..., train=True)`` -> logits [B, 2].
        tx: Optimiser from :func:`make_optimizer`.
        formulation: Forward pass to differentiate, see :func:`logits_fn`.
        objective: The loss, see :func:`loss_sums_fn`.

    Returns:
        A jitted pure function. ``x_all`` float32 [N, P, T] (preprocessed; rows past the
        training clusters may be zero padding with weight 0), ``y_all`` int32 [N], ``w_all``
        float32 [N] per-sample class weights, ``idx`` int32 [B], ``hyper`` float32 [10] the
        run's schedule (:func:`~interp.backends.flax.schedule.one_cycle_hyper`, evaluated at
        ``state.step``). ``loss`` is the weighted mean loss of the batch (cross-entropy in
        nats, or the reconstruction error). ``state`` is donated.
    """

    sums = loss_sums_fn(module, True, formulation, objective)

    def train_step(
        state: TrainState,
        x_all: jax.Array,
        y_all: jax.Array,
        w_all: jax.Array,
        idx: jax.Array,
        hyper: jax.Array,
    ) -> tuple[TrainState, jax.Array]:
        x, y, w = x_all[idx], y_all[idx], w_all[idx]
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        loss, grads = jax.value_and_grad(lambda p: _loss(sums, p, x, y, w, key))(state.params)
        opt_state = optax.tree_utils.tree_set(state.opt_state, **hyper_at(hyper, state.step))
        updates, opt_state = tx.update(grads, opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), loss

    return jax.jit(train_step, donate_argnums=0)


def make_eval_step(
    module: nn.Module, formulation: str = "auto", objective: str = "classify"
) -> Callable[..., dict[str, jax.Array]]:
    """Jitted ``eval_step(params, x, y, w, valid) -> sums``.

    Args:
        module: Linen model.
        formulation: Forward pass, see :func:`logits_fn`.
        objective: The loss, see :func:`loss_sums_fn` (the hits always come from the logits).

    Returns:
        A jitted pure function of ``x`` float32 [B, P, T], ``y`` int32 [B], ``w`` float32 [B]
        (class weights, 0 on padding), ``valid`` float32 [B] (1 real, 0 padding), returning
        the sums ``loss`` (weighted loss of the objective), ``weight``, ``correct``,
        ``count``, and per class ``correct_noise``/``count_noise``/``correct_signal``/
        ``count_signal``.
    """

    forward = logits_fn(module, train=False, formulation=formulation)
    sums = None if objective == "classify" else loss_sums_fn(module, False, formulation, objective)

    def eval_step(
        params: Params, x: jax.Array, y: jax.Array, w: jax.Array, valid: jax.Array
    ) -> dict[str, jax.Array]:
        logits = forward(params, x, None)
        if sums is None:
            loss, weight = weighted_cross_entropy(logits, y, w)
        else:
            loss, weight = sums(params, x, y, w, None)
        hit = (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32) * valid
        sig = (y == 1).astype(jnp.float32) * valid
        noise = valid - sig
        return {
            "loss": loss,
            "weight": weight,
            "correct": hit.sum(),
            "count": valid.sum(),
            "correct_noise": (hit * noise).sum(),
            "count_noise": noise.sum(),
            "correct_signal": (hit * sig).sum(),
            "count_signal": sig.sum(),
        }

    return jax.jit(eval_step)


def make_forward(module: nn.Module) -> Callable[[Params, jax.Array], jax.Array]:
    """Jitted reference inference ``forward(params, x) -> logits`` float32 [B, 2]
    (``module.apply`` on preprocessed inputs; the fast paths are tested against it)."""

    def forward(params: Params, x: jax.Array) -> jax.Array:
        return module.apply({"params": params}, x, train=False).astype(jnp.float32)

    return jax.jit(forward)
