"""Measured per-model inference choices, read from the model's spec: clusters per compiled
call and the inference backend (``benchmarks/speed.py`` measures them).

The numbers live in each model's file (``SPEC.chunk``, ``SPEC.min_chunk``,
``SPEC.onnx_chunk``, ``SPEC.streams``, ``SPEC.inference_backend``, ``SPEC.uint8_backends``; see
e.g. ``models/split_conv.py`` for why 1,024); a model that declares none gets
:data:`DEFAULT_CHUNK` and JAX.
"""

from __future__ import annotations

import importlib.util

import models
from interp.core.cpus import usable_cpus
from interp.core.errors import TPCInterpError
from models.contract import ModelSpec

DEFAULT_CHUNK = 4096
"""Clusters per compiled call (see ``benchmarks/speed.py``: 2k-8k are within noise)."""

BACKENDS = ("auto", "jax", "onnx")
"""Values of ``FlaxClassifier.backend``; ``auto`` is :func:`preferred_backend`."""


def _spec(name: str) -> ModelSpec:
    try:
        return models.model_spec(name)
    except TPCInterpError:  # not a model (e.g. an unloadable external one): the defaults
        return ModelSpec(name=str(name))


def preferred_chunk(name: str) -> int:
    """Measured best clusters per call for a model (``SPEC.chunk``, else
    :data:`DEFAULT_CHUNK`)."""
    return int(_spec(name).chunk or DEFAULT_CHUNK)


def preferred_onnx_chunk(name: str) -> int:
    """Measured best clusters per ONNX Runtime call for a model (``SPEC.onnx_chunk``, else
    :func:`preferred_chunk`)."""
    return int(_spec(name).onnx_chunk or preferred_chunk(name))


def preferred_min_chunk(name: str) -> int:
    """Smallest unpadded call for a model (see
    :func:`interp.backends.flax.chunking.ladder_chunks`): ``SPEC.min_chunk``, else
    :func:`preferred_chunk` (one padded tail call)."""
    spec = _spec(name)
    return int(spec.min_chunk or spec.chunk or DEFAULT_CHUNK)


def preferred_streams(name: str, platform: str) -> int:
    """Inference calls in flight at once for a model on ``platform`` (``SPEC.streams``, else
    1), at most the CPUs this process may use on ``"cpu"``."""
    wanted = int(_spec(name).streams.get(platform, 1))  # >= 1 (ModelSpec checks)
    return min(wanted, usable_cpus()) if platform == "cpu" else wanted


def preferred_backend(name: str, uint8_method: str | None = None) -> str:
    """Inference backend ``"jax"`` or ``"onnx"`` chosen by ``backend="auto"`` for a model:
    ``SPEC.inference_backend`` (on uint8 ADC preprocessed by ``uint8_method``:
    ``SPEC.uint8_backends[uint8_method]`` when listed), ``"jax"`` when ONNX Runtime is not
    installed."""
    spec = _spec(name)
    choice = spec.uint8_backends.get(uint8_method or "", spec.inference_backend)
    if choice == "onnx":
        if any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "onnx")):
            return "jax"
    return choice
