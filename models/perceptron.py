"""Two-neuron softmax perceptron on the flattened window (442 params on 11x20).

Fast forward: with max preprocessing the normalisation is moved after the matmul
(:func:`max_logits`), on every platform (it only saves a pass over the input). Inference:
4,096 clusters per call, the rest of an event in exact power-of-two slices down to 512. On
the 2-core machine of ``benchmarks/speed.py`` 4,096 and 8,192 were level on float32 windows
(0.89-1.15x, four side-by-side runs) and 4,096 was 1.04-1.4x faster on uint8 ADC: XLA
converts an integer chunk to float32 before the matmul, and a 4,096-cluster float32 copy
(3.6 MB) stays in cache.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models import onnx_graph as og
from models.contract import ModelSpec

_EPS = 1e-6  # same as interp.data.preprocess


class Perceptron(nn.Module):
    """Flatten -> Dense(2). Logits are linear in the input, ``2 * (P * T + 1)`` params.

    Intermediates: ``"flat_input"`` [B, P*T].
    """

    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        flat = jnp.reshape(x.astype(jnp.float32), (x.shape[0], -1))
        self.sow("intermediates", "flat_input", flat)
        return nn.Dense(self.num_classes, name="dense")(flat)


Model = Perceptron


def max_logits(params: Any, raw: jax.Array) -> jax.Array:
    """Perceptron on max-normalised windows with the normalisation moved after the matmul.

    ``(x / m) @ W + b == (x @ W) / m + b`` (m = per-cluster max, floored at 1e-6): one pass
    over the raw input, no normalised copy.

    Args:
        params: Perceptron params (``dense``).
        raw: [B, P, T] raw ADC, float or 8/16-bit integer.

    Returns:
        float32 [B, C] logits.
    """
    x = raw.reshape(raw.shape[0], -1)
    # the max is taken in the input dtype (exact; 1 byte per value for uint8 ADC) and the
    # conversion to float32 is fused into the matmul's operand
    peak = jnp.maximum(jnp.max(x, axis=1, keepdims=True).astype(jnp.float32), _EPS)
    return (x.astype(jnp.float32) @ params["dense"]["kernel"]) / peak + params["dense"]["bias"]


def onnx_graph(g: og.Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    """Reshape [N, P*T] -> Gemm."""
    flat = g.op("Reshape", [x, g.const([-1, pt[0] * pt[1]], "shape", np.int64)], "flat")
    return og.dense(g, flat, params["dense"])


SPEC = ModelSpec(
    name="perceptron",
    weight_map=True,
    gradient_attributions=False,
    raw_forwards={"max": max_logits},
    formulation={"cpu": "rewrite", "gpu": "rewrite", "tpu": "rewrite"},
    chunk=4096,
    min_chunk=512,
    onnx_graph=onnx_graph,
    description="two-neuron softmax perceptron (442 params)",
    order=10,
    # the smoke profile skips the LR range finder (seconds)
    profile_overrides={"smoke": {"learning_rate": 3e-3}},
)
