"""Model registry: name -> linen module class, and JSON-serialisable configs.

A checkpoint stores ``{"name": name, "config": model_config(module)}`` and rebuilds the
module with ``get_model(name, **config)``. Configs are the module's dataclass fields of
simple types (``parent`` and ``name`` excluded); tuples are written as lists and converted
back to tuples by :func:`get_model`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn

from interp.core.errors import UnknownNameError

_REGISTRY: dict[str, type[nn.Module]] = {}
_EXCLUDED_FIELDS = ("parent", "name")


def register_model(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator registering a linen module under ``name``.

    Args:
        name: Registry key, e.g. ``"resnet"``.

    Returns:
        The decorator, which returns the class unchanged.
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model '{name}' is already registered")
        _REGISTRY[name] = cls
        return cls

    return decorator


def model_names() -> list[str]:
    """Sorted names of all registered models."""
    return sorted(_REGISTRY)


def get_model(name: str, **config: Any) -> nn.Module:
    """Builds a registered model.

    Args:
        name: Registry key.
        **config: Dataclass fields of the module (lists are converted to tuples).

    Returns:
        An unbound linen module.

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    if name not in _REGISTRY:
        raise UnknownNameError("model", name, model_names())
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return _REGISTRY[name](**config)


def model_config(module: nn.Module) -> dict[str, Any]:
    """JSON-serialisable config of a module (dataclass fields, tuples as lists).

    Args:
        module: A registered linen module.

    Returns:
        Dict such that ``get_model(name, **config)`` rebuilds an equivalent module.
    """
    out: dict[str, Any] = {}
    for field in dataclasses.fields(module):
        if field.name in _EXCLUDED_FIELDS:
            continue
        value = getattr(module, field.name)
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out
