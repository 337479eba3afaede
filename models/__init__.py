"""Classifiers for TPC cluster windows [B, P, T] -> logits [B, 2] (0 = noise, 1 = signal).

One file per model (``models/<name>.py``: ``Model`` and ``SPEC``), found by name through
:mod:`models.registry`; importing this package imports no model file.
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
