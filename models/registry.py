"""Model lookup by name, with no registration side effects (big_vision style).

A name is one of:

* a built-in model: the file ``models/<name>.py`` exporting ``SPEC`` (and ``Model`` for a Flax
  model; a file exporting only ``Model`` gets the plain Flax defaults), found with
  ``importlib.import_module``; :func:`model_names` lists them from the package folder, so a
  new model is one new file;
* an external model: ``"my_pkg.my_model:Model"`` (a linen class, or a :class:`ModelSpec`,
  in an importable module; the module's ``SPEC`` describes it, a plain Flax default if it has
  none);
* an entry point of the group :data:`ENTRY_POINT_GROUP` (``tpc_interp.models``) whose value is
  such a ``module:attr`` string.

A checkpoint stores ``{"name": name, "config": model_config(module)}`` (the ``module:attr``
string or the entry point name for an external model) and rebuilds the module with
``get_model(name, **config)``. Configs are the module's dataclass fields of simple types
(``parent`` and ``name`` excluded); tuples are written as lists and converted back to tuples by
:func:`get_model`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import flax.linen as nn

from interp.core.errors import TPCInterpError, UnknownNameError
from models.contract import ModelSpec

PACKAGE = "models"
ENTRY_POINT_GROUP = "tpc_interp.models"
"""``importlib.metadata`` entry point group of externally installed models."""

_EXCLUDED_FIELDS = ("parent", "name")
_EXTERNAL = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class ModelLoadError(TPCInterpError):
    """An external model string names something that cannot be imported or is not a model."""


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def model_names(backend: str | None = None) -> list[str]:
    """Sorted names of the built-in models (files of the ``models`` package exporting
    ``SPEC``), optionally only those of one backend (``"flax"``, ``"xgboost"``)."""
    names = []
    for info in pkgutil.iter_modules([str(_package_dir())]):
        if info.name.startswith("_") or info.ispkg:
            continue
        spec = _builtin_spec(importlib.import_module(f"{PACKAGE}.{info.name}"), info.name)
        if spec is not None and (backend is None or spec.backend == backend):
            names.append(info.name)
    return sorted(names)


def _is_module_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, nn.Module)


def _builtin_spec(module: ModuleType, name: str) -> ModelSpec | None:
    """A model file's ``SPEC``; a plain Flax default if it exports only ``Model``; else
    ``None`` (a helper file such as ``ops.py``)."""
    spec = getattr(module, "SPEC", None)
    if isinstance(spec, ModelSpec):
        return spec
    return ModelSpec(name=name) if _is_module_class(getattr(module, "Model", None)) else None


def _entry_point(name: str) -> importlib.metadata.EntryPoint | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep
    return None


def _import_external(target: str, name: str) -> tuple[ModuleType, Any]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(
            f"model '{name}': cannot import module '{module_name}': {exc}"
        ) from exc
    if not hasattr(module, attr):
        raise ModelLoadError(f"model '{name}': module '{module_name}' has no attribute '{attr}'")
    return module, getattr(module, attr)


def _resolve(name: str) -> tuple[ModelSpec, type[nn.Module] | None]:
    """(spec with ``name`` set, linen class or ``None`` for a module-less backend)."""
    if not isinstance(name, str) or not name:
        raise UnknownNameError("model", str(name), model_names())
    if _EXTERNAL.fullmatch(name):
        module, obj = _import_external(name, name)
    elif name.isidentifier() and (_package_dir() / f"{name}.py").is_file():
        module = importlib.import_module(f"{PACKAGE}.{name}")
        obj = _builtin_spec(module, name)
        if obj is None:
            raise UnknownNameError("model", name, model_names())
    elif (ep := _entry_point(name)) is not None:
        module, obj = _import_external(ep.value, name)
    else:
        raise UnknownNameError("model", name, model_names())
    if isinstance(obj, ModelSpec):
        spec, cls = obj, getattr(module, "Model", None)
    else:
        spec, cls = getattr(module, "SPEC", None), obj
        if not isinstance(spec, ModelSpec):
            spec = ModelSpec(name=name)
    if cls is not None and not _is_module_class(cls):
        raise ModelLoadError(f"model '{name}': {cls!r} is not a flax.linen.Module class")
    if spec.backend == "flax" and cls is None:
        raise ModelLoadError(f"model '{name}': a Flax model's file must export 'Model'")
    return dataclasses.replace(spec, name=name), cls


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a model name (built-in, ``module:attr`` or entry point).

    Raises:
        UnknownNameError: Unknown name (lists the built-in ones).
        ModelLoadError: An external name that cannot be imported or is not a model.
    """
    return _resolve(name)[0]


def is_model(name: str) -> bool:
    """Whether :func:`model_spec` finds ``name`` (never raises)."""
    try:
        model_spec(name)
    except TPCInterpError:
        return False
    return True


def model_class(name: str) -> type[nn.Module]:
    """The linen module class of a Flax model.

    Raises:
        UnknownNameError / ModelLoadError: As :func:`model_spec`; also for a model of a
            backend without a linen module (XGBoost).
    """
    spec, cls = _resolve(name)
    if cls is None:
        raise ModelLoadError(f"model '{name}' ({spec.backend}) has no linen module")
    return cls


def get_model(name: str, **config: Any) -> nn.Module:
    """Builds a Flax model.

    Args:
        name: Model name (see :func:`model_spec`).
        **config: Dataclass fields of the module (lists are converted to tuples).

    Returns:
        An unbound linen module.

    Raises:
        UnknownNameError: ``name`` is not a model.
    """
    cls = model_class(name)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return cls(**config)


def spec_of(module: nn.Module) -> ModelSpec:
    """The spec in the file that defines ``module``'s class (``SPEC``), else a plain Flax
    default named after the class: how the inference and export paths find a module's
    formulation without knowing its name."""
    cls = type(module)
    source = sys.modules.get(cls.__module__)
    spec = getattr(source, "SPEC", None)
    if isinstance(spec, ModelSpec) and getattr(source, "Model", cls) is cls:
        return spec
    return ModelSpec(name=f"{cls.__module__}:{cls.__name__}")


def model_config(module: nn.Module) -> dict[str, Any]:
    """JSON-serialisable config of a module (dataclass fields, tuples as lists).

    Args:
        module: A linen module.

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
