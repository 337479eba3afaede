"""Two-neuron softmax perceptron on the flattened window (442 params on 11x20).

Fast forward: with max preprocessing the normalisation is moved after the matmul
(:func:`max_logits`), on every platform (it only saves a pass over the input). Inference:
4,096 clusters per call, the rest of an event in exact power-of-two slices down to 512. On
the 2-core machine of ``benchmarks/speed.py`` 4,096 and 8,192 were level on float32 windows
(0.89-1.15x, four side-by-side runs) and 4,096 was 1.04-1.4x faster on uint8 ADC: XLA
converts an integer chunk to float32 before the matmul, and a 4,096-cluster float32 copy
(3.6 MB) stays in cache.

On uint8 ADC (how a ClusterSet keeps an 8-bit ADC) ``backend="auto"`` runs ONNX Runtime on
:func:`onnx_max_uint8_graph`, which multiplies the 8-bit windows as integers
(``MatMulInteger`` by four int8 digits of the weights, exact to float32 rounding): XLA:CPU has
no such kernel (its u8 x s8 dot was 2x slower than converting to float32). One event on the
2-core VM, three ``benchmarks/speed.py`` runs: 2.21 / 2.52 / 1.38 ms against 5.25 / 5.10 / 3.53
for the JAX path on uint8 and 6.5 / 8.3 / 4.6 on float32. ONNX Runtime calls of 32,768 clusters
(one event per call; ``onnx_chunk``): 2.1 ms against 3.1 ms in calls of 4,096, same run.
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
    return og.dense(g, _flat(g, x, pt), params["dense"])


def _flat(g: og.Graph, x: str, pt: tuple[int, int]) -> str:
    """[N, P, T] -> [N, P*T]."""
    return g.op("Reshape", [x, g.const([-1, pt[0] * pt[1]], "shape", np.int64)], "flat")


def onnx_max_uint8_graph(g: og.Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    """:func:`max_logits` on raw uint8 ADC in ONNX: ``(x @ W) / max(peak, 1e-6) + b``.

    ``x @ W`` comes from exact integer products of the 8-bit input
    (:func:`models.onnx_graph.uint8_matmul_t`), so 6.3 MB per event is read instead of 25 MB
    of float32. The peak is clipped at 1 in uint8, which gives the same logits as the float
    floor of 1e-6: a window whose peak is 0 has ``x @ W = 0``.

    Args:
        g: The graph.
        x: Name of the uint8 [N, P, T] raw ADC input.
        params: Perceptron params (``dense``).
        module, pt: The module (unused) and (P, T).

    Returns:
        Name of the float32 [N, 2] logits.
    """
    from onnx import TensorProto

    del module
    flat = _flat(g, x, pt)
    products = og.uint8_matmul_t(g, flat, og.arr(params, "dense", "kernel"))  # [2, N]
    peak = g.op("ReduceMax", [flat], "peak_adc", axes=[1], keepdims=0)  # [N] uint8
    peak = g.op("Clip", [peak, g.const(1, "one", np.uint8)], "peak_floor")
    peak = g.op("Cast", [peak], "peak", to=TensorProto.FLOAT)
    bias = og.arr(params, "dense", "bias")[:, None]  # [2, 1]
    logits_t = g.op("Add", [g.op("Div", [products, peak]), g.const(bias, "b")], "logits_t")
    return g.op("Transpose", [logits_t], "logits", perm=[1, 0])


SPEC = ModelSpec(
    name="perceptron",
    weight_map=True,
    gradient_attributions=False,
    raw_forwards={"max": max_logits},
    formulation={"cpu": "rewrite", "gpu": "rewrite", "tpu": "rewrite"},
    chunk=4096,
    min_chunk=512,
    onnx_chunk=32768,
    onnx_graph=onnx_graph,
    onnx_uint8_graphs={"max": onnx_max_uint8_graph},
    # uint8 ADC: ONNX Runtime's integer matmul; float32 windows: the JAX path (measured in
    # benchmarks/speed.py, see the module docstring)
    uint8_backends={"max": "onnx"},
    description="two-neuron softmax perceptron (442 params)",
    order=10,
    # the smoke profile skips the LR range finder (seconds)
    profile_overrides={"smoke": {"learning_rate": 3e-3}},
)
