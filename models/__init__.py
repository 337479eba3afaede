"""Classifiers for TPC cluster windows [B, P, T] -> logits [B, 2] (0 = noise, 1 = signal).

Importing this package registers ``perceptron``, ``split_conv`` and ``resnet``.
"""

from models import perceptron, resnet, split_conv  # noqa: F401  (registration)
from models.flops import flops_per_cluster, param_count
from models.registry import get_model, model_config, model_names, register_model

__all__ = [
    "flops_per_cluster",
    "get_model",
    "model_config",
    "model_names",
    "param_count",
    "register_model",
]
