"""JAX twins of the preprocessing methods, fused into the jitted forward pass.

The inference path is split by job: :mod:`~interp.backends.flax.formulation` (rewrite or
``module.apply``, from the model's spec), :mod:`~interp.backends.flax.fused` (preprocessing +
model in one compiled call, the jit cache), :mod:`~interp.backends.flax.adc` (input dtypes),
:mod:`~interp.backends.flax.tuning` (chunk sizes, backend), :mod:`~interp.backends.flax.chunking`
(the chunk plan), :mod:`~interp.backends.flax.platform`; the shared convolution kernels are in
:mod:`models.ops` and each model's rewrite in its own file.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interp.data.preprocess import Preprocessor

_EPS = 1e-6  # same as interp.data.preprocess


def preprocess_constants(pre: Preprocessor | None) -> dict[str, np.ndarray]:
    """Fitted constants of a preprocessor as float32 arrays (jit arguments, not closures).

    Passing them as arguments lets one compiled forward serve every classifier that shares a
    model config and preprocessing method (tests and studies build many of them).
    """
    if pre is None:
        return {}
    if pre.method == "log":
        return {"denom": np.asarray(np.log1p(pre.scale), np.float32)}
    if pre.method == "standardise":
        assert pre.mean is not None and pre.std is not None
        return {"mean": np.asarray(pre.mean, np.float32), "std": np.asarray(pre.std, np.float32)}
    return {}


def jax_preprocess_method(method: str | None) -> Callable[[jax.Array, dict], jax.Array]:
    """``jax.numpy`` twin of a preprocessing method, ``fn(raw, constants) -> inputs``.

    Args:
        method: One of :data:`interp.data.preprocess.PREPROCESSORS`, or ``None`` (identity).

    Returns:
        ``fn(raw [B, P, T] any real dtype (ADC), preprocess_constants(pre)) -> float32
        [B, P, T]``.

    Raises:
        ValueError: Unknown method.
    """

    def identity(x: jax.Array, c: dict) -> jax.Array:
        return x.astype(jnp.float32)

    def by_max(x: jax.Array, c: dict) -> jax.Array:
        x = x.astype(jnp.float32)
        return x / jnp.maximum(jnp.max(x, axis=(1, 2), keepdims=True), _EPS)

    def by_log(x: jax.Array, c: dict) -> jax.Array:
        return jnp.log1p(jnp.maximum(x.astype(jnp.float32), 0.0)) / c["denom"]

    def by_std(x: jax.Array, c: dict) -> jax.Array:
        return (x.astype(jnp.float32) - c["mean"]) / c["std"]

    def by_adc(x: jax.Array, c: dict) -> jax.Array:
        return x.astype(jnp.float32) / np.float32(255.0)

    table = {None: identity, "max": by_max, "log": by_log, "standardise": by_std, "none": by_adc}
    if method not in table:
        raise ValueError(f"no jax preprocessing for method '{method}'")
    return table[method]


def jax_preprocess(pre: Preprocessor | None) -> Callable[[jax.Array], jax.Array]:
    """``jax.numpy`` twin of a fitted :class:`Preprocessor` (traceable, for fusion).

    Args:
        pre: Fitted preprocessor, or ``None`` for the identity (inputs already preprocessed).

    Returns:
        A function mapping raw windows [B, P, T] (any real dtype, ADC) to float32 [B, P, T].
    """
    fn = jax_preprocess_method(None if pre is None else pre.method)
    consts = preprocess_constants(pre)
    return lambda x: fn(x, consts)
