"""JAX's persistent compilation cache, pointed at ``$TPC_INTERP_JAX_CACHE``.

:func:`enable_compilation_cache` (called by :func:`~interp.backends.flax.trainer.train_flax`)
makes compiled XLA programs reusable across processes; ``TPC_INTERP_JAX_CACHE=off`` disables it.
:func:`module_key` is the key of a module configuration in the in-process caches of jitted
functions (:mod:`~interp.backends.flax.fused`, :mod:`~interp.backends.flax.step_cache`).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TPC_INTERP_JAX_CACHE"
"""Environment variable overriding the compilation-cache folder (``off`` disables it)."""

_cache_dir: Path | None = None


def module_key(module: object) -> tuple[str, str]:
    """``(qualified class name, repr)`` of a linen module: equal for two modules of the same
    class and configuration, so their jitted functions can be shared."""
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}", repr(module)


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
