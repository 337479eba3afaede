"""Training of the Flax models (and, in sibling modules, other backends).

Importing this package is cheap (no jax import). Modules:

* :mod:`interp.backends.flax.config`: :class:`TrainConfig` and the ``smoke``/``quick``/``full``
  profiles.
* :mod:`interp.backends.flax.schedule`: 1-cycle schedules and the LR range finder.
* :mod:`interp.backends.flax.steps`: pure jitted ``train_step``/``eval_step``.
* :mod:`interp.backends.flax.batching`: deterministic (seed, epoch) shuffling.
* :mod:`interp.backends.flax.checkpoint`: msgpack checkpoints, atomic, no pickle.
* :mod:`interp.backends.flax.trainer`: :func:`train_flax`, and the backend contract of
  :mod:`interp.backends.classifier` (``trainer``, ``load``, ``CONFIG_CLASS``).
* :mod:`interp.backends.flax.classifier`: :class:`FlaxClassifier` (saved, loaded, scored).
* Inference: :mod:`~interp.backends.flax.fused` (preprocessing + model in one jitted call),
  :mod:`~interp.backends.flax.formulation` (the model spec's rewrite or ``module.apply``),
  :mod:`~interp.backends.flax.tuning` (chunk sizes and backend from the spec),
  :mod:`~interp.backends.flax.chunking` (the chunk plan), :mod:`~interp.backends.flax.adc`,
  :mod:`~interp.backends.flax.platform`, :mod:`~interp.backends.flax.fast` (JAX
  preprocessing).

Compilation cache: :func:`enable_compilation_cache` points JAX's persistent compilation cache
at ``$TPC_INTERP_JAX_CACHE`` (default ``~/.cache/tpc-interp/jax``); :func:`train_flax` calls
it. Compiled XLA programs are then reused across processes, which cuts the start-up of the
CLI and of the test suite from several seconds of compilation per model to well under one.
Set ``TPC_INTERP_JAX_CACHE=off`` to disable it.
"""

from __future__ import annotations

from typing import Any

from interp.backends.flax.compile_cache import (
    CACHE_ENV,
    default_cache_dir,
    enable_compilation_cache,
)
from interp.backends.flax.config import PROFILES, TrainConfig, profile


def __getattr__(name: str) -> Any:  # lazy: importing jax costs seconds
    if name in ("train_flax", "FlaxClassifier", "load_flax_classifier"):
        from interp.backends.flax import trainer as flax_trainer

        return getattr(flax_trainer, name)
    raise AttributeError(f"module 'interp.backends.flax' has no attribute {name!r}")


__all__ = [
    "CACHE_ENV",
    "PROFILES",
    "FlaxClassifier",
    "TrainConfig",
    "default_cache_dir",
    "enable_compilation_cache",
    "load_flax_classifier",
    "profile",
    "train_flax",
]
