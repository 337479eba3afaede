"""Classifiers for TPC cluster windows [B, P, T] -> logits [B, 2] (0 = noise, 1 = signal).

One file per model (``models/<name>.py``: ``Model`` and ``SPEC``), found by name through
:mod:`models.registry`; importing this package imports no model file.

Adding a model is one file: a linen ``Model`` taking float32 [B, P, T] and returning logits
[B, 2], and optionally a :class:`~models.contract.ModelSpec` ``SPEC`` (capabilities, a fast
forward, chunk sizes, an ONNX graph). With no spec it trains, evaluates, gets gradient
attributions, runs ``module.apply`` and exports to ONNX through the generic converter.
Shared kernels: :mod:`models.ops`; ONNX graph helpers: :mod:`models.onnx_graph`.
"""

from models.contract import CAPABILITIES, ModelSpec
from models.flops import flops_per_cluster, param_count
from models.registry import (
    get_model,
    is_model,
    model_class,
    model_config,
    model_names,
    model_spec,
    spec_of,
)

__all__ = [
    "CAPABILITIES",
    "ModelSpec",
    "flops_per_cluster",
    "get_model",
    "is_model",
    "model_class",
    "model_config",
    "model_names",
    "model_spec",
    "param_count",
    "spec_of",
]
