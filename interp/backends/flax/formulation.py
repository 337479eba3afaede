"""Which forward pass a Flax model runs: its spec's rewrite or ``module.apply``.

A model's file declares an optional rewrite of its forward pass (``SPEC.fast_forward``, e.g.
the banded-matmul split conv or the hybrid-convolution ResNet; ``SPEC.raw_forwards`` for one
that also absorbs the preprocessing, e.g. the perceptron's max moved after its matmul) and
which formulation ``"auto"`` picks per platform (``SPEC.formulation``: the rewrites on CPU,
cuDNN convolutions on GPU, because XLA:CPU runs 1-channel and small-grid convolutions at a few
% of peak, see ``docs/speed.md``). A model with no rewrite runs ``module.apply``. The spec is
found from the module's own file (:func:`models.spec_of`), never from its name or class.

All formulations return float32 logits [B, 2] equal to ``module.apply`` on preprocessed inputs
up to float32 summation order (tested to 1e-5 relative).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

import models
from interp.backends.flax.platform import current_platform

Params = Any
Forward = Callable[[Params, jax.Array], jax.Array]

FORMULATIONS = ("auto", "rewrite", "apply")
"""``auto``: the formulation the model's ``SPEC.formulation`` lists for the platform the
computation runs on; ``rewrite``: the model's rewrite (``SPEC.fast_forward`` or
``SPEC.raw_forwards``), ``apply`` where there is none; ``apply``: ``module.apply`` (the
reference)."""


def platform_table() -> dict[str, dict[str, str]]:
    """Platform -> built-in Flax model -> ``"rewrite"`` / ``"apply"`` (from the specs; what
    ``formulation="auto"`` picks; models or platforms not listed run ``module.apply``)."""
    out: dict[str, dict[str, str]] = {}
    for name in models.model_names("flax"):
        for platform, choice in models.model_spec(name).formulation.items():
            out.setdefault(platform, {})[name] = choice
    return out


def platform_formulation(module: nn.Module, platform: str | None = None) -> str:
    """``"rewrite"`` or ``"apply"``: what ``formulation="auto"`` runs for a module.

    Args:
        module: Linen module.
        platform: ``"cpu"``, ``"gpu"``, ``"tpu"``...; ``None``: :func:`current_platform`.

    Returns:
        The module's ``SPEC.formulation`` entry, ``"apply"`` if there is none.
    """
    platform = current_platform() if platform is None else str(platform)
    return models.spec_of(module).formulation.get(platform, "apply")


def resolve_formulation(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> str:
    """``formulation`` with ``"auto"`` replaced by :func:`platform_formulation`.

    Raises:
        ValueError: Unknown formulation.
    """
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got '{formulation}'")
    return platform_formulation(module, platform) if formulation == "auto" else formulation


def rewritten_logits_fn(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> Forward | None:
    """The rewrite of a module's forward pass selected by ``formulation``, if there is one.

    A rewrite is the same function of the same parameter tree as ``module.apply`` (up to
    float32 summation order) and is valid in training too: the rewritten models have no
    train-time behaviour (no dropout, no batch statistics).

    Args:
        module: Linen module.
        formulation: One of :data:`FORMULATIONS`.
        platform: Platform for ``"auto"`` (:func:`platform_formulation`; ``None``: JAX's
            default backend).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``, or ``None`` (use ``apply``;
        also for a model whose rewrite needs the raw input, ``SPEC.raw_forwards``, see
        :func:`interp.backends.flax.fused.fused_jit`).

    Raises:
        ValueError: Unknown formulation.
    """
    if resolve_formulation(module, formulation, platform) != "rewrite":
        return None
    factory = models.spec_of(module).fast_forward
    return None if factory is None else factory(module)


def model_logits_fn(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> Forward:
    """Un-jitted inference ``logits(params, x_preprocessed)`` for a module.

    Args:
        module: Linen module.
        formulation: See :data:`FORMULATIONS`.
        platform: Platform for ``"auto"`` (see :func:`platform_formulation`).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``.
    """
    rewrite = rewritten_logits_fn(module, formulation, platform)
    if rewrite is not None:
        return rewrite

    def apply(params: Params, x: jax.Array) -> jax.Array:
        return module.apply({"params": params}, x, train=False).astype(jnp.float32)

    return apply
