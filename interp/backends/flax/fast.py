"""JAX forms of the preprocessing methods, fused into the jitted forward pass.

The forms are rendered from the one definition, :data:`interp.data.preprocess.STEPS`.

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

from interp.data import preprocess
from interp.data.preprocess import Preprocessor


def preprocess_constants(pre: Preprocessor | None) -> dict[str, np.ndarray]:
    """Fitted constants of a preprocessor as float32 arrays (jit arguments, not closures).

    Passing them as arguments lets one compiled forward serve every classifier that shares a
    model config and preprocessing method (tests and studies build many of them).
    """
    return preprocess.float32_constants(pre)


def jax_preprocess_method(method: str | None) -> Callable[[jax.Array, dict], jax.Array]:
    """``jax.numpy`` form of a preprocessing method, ``fn(raw, constants) -> inputs``, rendered
    from its steps (:data:`interp.data.preprocess.STEPS`).

    Args:
        method: One of :data:`interp.data.preprocess.PREPROCESSORS`, or ``None`` (identity).

    Returns:
        ``fn(raw [B, P, T] any real dtype (ADC), preprocess_constants(pre)) -> float32
        [B, P, T]``.

    Raises:
        UnknownNameError: Unknown method.
    """
    return preprocess.array_function(method, jnp)


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
