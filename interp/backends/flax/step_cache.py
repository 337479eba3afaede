"""One compiled training step per model configuration, shared by every run of a process.

A study trains the same architecture many times: seeds, folds, chambers, the fine-tuning
curves (n = 300 ... 30k clusters, three curves, both directions). Building a fresh
``jax.jit`` per run retraces and recompiles the step every time (5-6 s of a 6 s ResNet
fine-tuning run on the 2-core VM). Here the jitted functions are kept per

* the module's class and configuration (:func:`~interp.backends.flax.compile_cache.module_key`),
* the objective, and which parameters are frozen (the optimiser's structure),

and everything that varies between runs is an argument: the schedule (a packed vector,
:func:`interp.backends.flax.schedule.one_cycle_hyper`), the parameters, and the training arrays,
whose row count is bucketed (:func:`padded_rows`, zero-weight padding rows) so runs of similar
size share one compiled shape. Batch shapes stay the run's own
(:mod:`interp.backends.flax.batching`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import optax

from interp.backends.flax.compile_cache import module_key
from interp.backends.flax.steps import make_eval_step, make_optimizer, make_train_step

_MIN_ROWS = 1 << 15
"""Training arrays smaller than this many rows are padded to it (one shape for small runs)."""

_CACHE: dict[tuple[Any, ...], Any] = {}


def frozen_key(trainable: Any) -> Any:
    """Hashable form of a trainable mask (``None`` when every leaf is trained: the plain
    optimiser, whose runs then share a step with unmasked ones)."""
    if trainable is None:
        return None
    leaves, treedef = jax.tree_util.tree_flatten(trainable)
    leaves = tuple(bool(t) for t in leaves)
    return None if all(leaves) else (treedef, leaves)


def _trainable(key: Any) -> Any:
    return None if key is None else jax.tree_util.tree_unflatten(key[0], list(key[1]))


def _cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def optimizer(trainable: Any = None) -> optax.GradientTransformation:
    """:func:`~interp.backends.flax.steps.make_optimizer` for a trainable mask (shared)."""
    key = frozen_key(trainable)
    return _cached(("tx", key), lambda: make_optimizer(_trainable(key)))


def optimizer_init(trainable: Any = None) -> Callable[[Any], Any]:
    """Jitted ``init(params) -> opt_state`` of :func:`optimizer` (one compiled program instead
    of many eager ops; shared)."""
    key = frozen_key(trainable)
    return _cached(("tx_init", key), lambda: jax.jit(optimizer(trainable).init))


def train_step(
    module: nn.Module, objective: str = "classify", trainable: Any = None
) -> Callable[..., Any]:
    """The jitted :func:`~interp.backends.flax.steps.make_train_step` of (module configuration,
    objective, frozen leaves), fast formulation (``"auto"``); shared across runs."""
    key = ("train", module_key(module), objective, frozen_key(trainable))
    return _cached(key, lambda: make_train_step(module, optimizer(trainable), objective=objective))


def eval_step(module: nn.Module, objective: str = "classify") -> Callable[..., Any]:
    """The jitted :func:`~interp.backends.flax.steps.make_eval_step` of (module configuration,
    objective); shared across runs."""
    key = ("eval", module_key(module), objective)
    return _cached(key, lambda: make_eval_step(module, objective=objective))


def init_params(module: nn.Module) -> Callable[[jax.Array, jax.Array], Any]:
    """Jitted ``init(key, x [1, P, T]) -> params`` of a module configuration (shared)."""

    def build() -> Callable[[jax.Array, jax.Array], Any]:
        return jax.jit(lambda k, x: module.init({"params": k}, x, train=False)["params"])

    return _cached(("init", module_key(module)), build)


def padded_rows(n: int) -> int:
    """Rows of the device training arrays for ``n`` clusters: at least ``n + 1`` (so a padding
    row exists), at least 32,768, rounded up to an eighth of the next power of two (<= 12.5 %
    padding above 32k), so runs of similar size compile one shape."""
    need = int(n) + 1
    if need <= _MIN_ROWS:
        return _MIN_ROWS
    step = 1 << max(need.bit_length() - 3, 0)
    return -(-need // step) * step


def padded_inputs(
    pre: Callable[[np.ndarray], np.ndarray], charge: np.ndarray, rows: int, chunk: int = 1 << 16
) -> np.ndarray:
    """float32 [rows, P, T]: ``pre(charge)`` [N, P, T] followed by zero rows, preprocessed in
    chunks of ``chunk`` windows straight into the padded array (the preprocessing is per
    window), so no second full-size copy is ever held."""
    n = len(charge)
    out = np.zeros((rows, *charge.shape[1:]), np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        out[start:stop] = pre(charge[start:stop])
    return out


def clear() -> None:
    """Drops every cached step (tests; a long-lived process changing models)."""
    _CACHE.clear()


__all__ = [
    "clear",
    "eval_step",
    "frozen_key",
    "init_params",
    "optimizer",
    "optimizer_init",
    "padded_inputs",
    "padded_rows",
    "train_step",
]
