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

import os
from pathlib import Path
from typing import Any

from interp.backends.flax.config import PROFILES, TrainConfig, profile

CACHE_ENV = "TPC_INTERP_JAX_CACHE"
"""Environment variable overriding the compilation-cache folder (``off`` disables it)."""

_cache_dir: Path | None = None


def default_cache_dir() -> Path:
    """``$TPC_INTERP_JAX_CACHE`` or ``~/.cache/tpc-interp/jax``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tpc-interp" / "jax"


def enable_compilation_cache(directory: str | Path | None = None) -> Path | None:
    """Enables JAX's persistent compilation cache (idempotent).

    Args:
        directory: Cache folder; defaults to :func:`default_cache_dir`.

    Returns:
        The cache folder in use, or ``None`` if disabled (``TPC_INTERP_JAX_CACHE=off``) or the
        folder cannot be created (the cache is an optimisation, never a failure).
    """
    global _cache_dir
    if directory is None and os.environ.get(CACHE_ENV, "").lower() in ("off", "0", "none"):
        return None
    path = Path(directory).expanduser() if directory is not None else default_cache_dir()
    if _cache_dir == path:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    # Cache even quick compilations: small models compile in well under the 1 s default.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _cache_dir = path
    return path


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
    "enable_compilation_cache",
    "load_flax_classifier",
    "profile",
    "train_flax",
]
