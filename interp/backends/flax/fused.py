"""Preprocessing fused into the jitted forward pass: raw ADC windows in, logits out of one
compiled XLA call (no numpy temporaries, no host-side padding of preprocessed data).

:func:`fused_jit` caches one jitted function per (module class and config, preprocessing
method, resolved formulation, precision); fitted constants are jit arguments, so one compiled
forward serves every classifier sharing them. :data:`PRECISIONS` casts params and
preprocessed inputs to bfloat16 / float16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

import models
from interp.backends.flax.compile_cache import module_key
from interp.backends.flax.fast import jax_preprocess_method, preprocess_constants
from interp.backends.flax.formulation import Forward, Params, model_logits_fn, resolve_formulation
from interp.data.preprocess import Preprocessor

PRECISIONS = ("float32", "bfloat16", "float16")
"""Compute dtypes of the JAX inference path: params and preprocessed inputs are cast to it
inside the compiled call (preprocessing itself and the returned logits stay float32).
``int8`` is ONNX Runtime's (:func:`interp.backends.onnx.export.quantize_int8`)."""


def _cast_tree(tree: Params, dtype: Any) -> Params:
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), tree)


_FUSED_CACHE: dict[tuple[str, str, str | None, str, str], Callable[..., jax.Array]] = {}


def fused_jit(
    module: nn.Module,
    method: str | None,
    formulation: str = "auto",
    precision: str = "float32",
    platform: str | None = None,
) -> Callable[..., jax.Array]:
    """Jitted ``forward(params, constants, raw) -> logits``, cached by (module config,
    preprocessing method, resolved formulation, precision).

    Args:
        module: Linen module.
        method: Preprocessing method (:data:`interp.data.preprocess.PREPROCESSORS`) or ``None``.
        formulation: See :data:`~interp.backends.flax.formulation.FORMULATIONS`; ``"auto"``
            is resolved for ``platform``.
        precision: One of :data:`PRECISIONS`.
        platform: Platform the call will run on (``None``: JAX's default backend).

    Returns:
        ``forward(params, preprocess_constants(pre), raw [B, P, T] ADC) -> float32 [B, C]``;
        the arguments may be sharded (``interp.backends.flax.mesh``); ``raw`` may be float or
        an integer ADC dtype (:data:`~interp.backends.flax.adc.INTEGER_ADC_DTYPES`).

    Raises:
        ValueError: Unknown formulation or precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
    resolved = resolve_formulation(module, formulation, platform)
    key = (*module_key(module), method, resolved, precision)
    if key not in _FUSED_CACHE:
        dtype = jnp.dtype(precision)
        raw_forward = models.spec_of(module).raw_forwards.get(method or "")
        if resolved == "rewrite" and raw_forward is not None and precision == "float32":
            # (reduced precision normalises first: x @ W of raw ADC overflows float16)
            fn = lambda params, consts, raw: raw_forward(params, raw)  # noqa: E731
        else:
            prep = jax_preprocess_method(method)
            logits = model_logits_fn(module, resolved)

            def fn(params: Params, consts: dict, raw: jax.Array) -> jax.Array:
                x = prep(raw, consts)
                if precision != "float32":
                    params, x = _cast_tree(params, dtype), x.astype(dtype)
                return logits(params, x).astype(jnp.float32)

        _FUSED_CACHE[key] = jax.jit(fn)
    return _FUSED_CACHE[key]


def make_fused_forward(
    module: nn.Module,
    pre: Preprocessor | None,
    formulation: str = "auto",
    precision: str = "float32",
    platform: str | None = None,
) -> Forward:
    """Jitted ``forward(params, raw) -> logits``: preprocessing + model in one XLA call.

    The jitted function is shared (:func:`fused_jit`); fitted constants are passed as
    arguments.

    Args:
        module: Linen module.
        pre: Fitted preprocessor (``None``: inputs are already preprocessed).
        formulation: See :data:`~interp.backends.flax.formulation.FORMULATIONS`.
        precision: See :data:`PRECISIONS`.
        platform: See :func:`fused_jit`.

    Returns:
        ``forward(params, raw [B, P, T] ADC) -> float32 [B, C]``.
    """
    method = None if pre is None else pre.method
    jitted = fused_jit(module, method, formulation, precision, platform)
    consts = jax.device_put(preprocess_constants(pre))
    return lambda params, raw: jitted(params, consts, raw)
