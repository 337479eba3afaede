"""The platform JAX computations run on, and XLA:CPU flags."""

from __future__ import annotations

import os

import jax


def current_platform() -> str:
    """Platform new computations run on: that of ``jax.default_device`` when one is set (the
    ``with jax.default_device(...)`` context), else ``jax.default_backend()``."""
    dev = jax.config.jax_default_device
    if dev is None:
        return jax.default_backend()
    return str(getattr(dev, "platform", dev))


def set_xla_cpu_flags(*flags: str) -> bool:
    """Appends XLA flags to ``XLA_FLAGS`` if the XLA backend is not initialised yet.

    Args:
        *flags: e.g. ``"--xla_cpu_use_xnnpack=true"``.

    Returns:
        ``True`` if set (effective), ``False`` if jax's backend already started (no effect).
    """
    from jax._src import xla_bridge

    if getattr(xla_bridge, "_backends", None):
        return False
    current = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = " ".join([current, *flags]).strip()
    return True
