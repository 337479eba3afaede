"""Lean ResNet: stem, 3 downsampling residual blocks, global average pooling, dense.

Default widths (10; 16, 32, 76) give exactly 95,170 params independent of the window shape
(the published count). Every block halves the grid with a stride-2 conv (11x20 -> 6x10 ->
3x5 -> 2x3), so the forward pass costs ~1.9 MFLOP per cluster on 11x20. No normalisation,
so the only collection is ``params``; the second conv of every residual branch is
zero-initialised (SkipInit-style) so each block starts as its shortcut, which keeps the
un-normalised network well conditioned at initialisation.

Fast forward (CPU): every convolution in the form measured fastest for its shape
(:func:`models.ops.conv_hybrid`; 2.9x faster than ``module.apply``); GPU/TPU run
``module.apply``. Inference: ONNX Runtime when installed (1.4-1.9x faster than XLA:CPU's
convolutions on the 2-core VM), 512 clusters per call: ONNX Runtime (the toolkit's session,
no spinning threads) ran 1.07-1.16x faster per event than at 1,024 in 5 side-by-side runs
(0.30-0.34 s vs 0.35-0.38 s), the JAX path within +-5 % of 1,024.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import onnx_graph as og
from models.contract import ModelSpec
from models.ops import conv_hybrid


class ResidualBlock(nn.Module):
    """conv3x3(stride) -> relu -> conv3x3 -> + shortcut -> relu.

    The shortcut is identity, or a 1x1 conv with the same stride when shape changes.
    Input [B, H, W, C_in] -> output [B, ceil(H/s), ceil(W/s), features].
    """

    features: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Args: x [B, H, W, C]. Returns [B, H', W', features]."""
        s = (self.stride, self.stride)
        h = nn.Conv(self.features, (3, 3), strides=s, padding="SAME", name="conv1")(x)
        h = nn.relu(h)
        h = nn.Conv(
            self.features,
            (3, 3),
            padding="SAME",
            kernel_init=nn.initializers.zeros,
            name="conv2",
        )(h)
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = nn.Conv(self.features, (1, 1), strides=s, padding="SAME", name="proj")(x)
        return nn.relu(h + shortcut)


class ResNet(nn.Module):
    """Stem conv -> 3 residual blocks -> global average pool -> Dense(2).

    Intermediates: ``"stem"`` [B, P, T, 10], ``"block1".."block3"`` feature maps,
    ``"pooled"`` [B, 76].
    """

    stem_features: int = 10
    block_features: tuple[int, ...] = (16, 32, 76)
    block_strides: tuple[int, ...] = (2, 2, 2)
    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        if len(self.block_features) != len(self.block_strides):
            raise ValueError("block_features and block_strides must have the same length")
        h = x.astype(jnp.float32)[..., None]
        h = nn.relu(nn.Conv(self.stem_features, (3, 3), padding="SAME", name="stem_conv")(h))
        self.sow("intermediates", "stem", h)
        for i, (f, s) in enumerate(zip(self.block_features, self.block_strides, strict=True)):
            h = ResidualBlock(f, s, name=f"res_block{i + 1}")(h)
            self.sow("intermediates", f"block{i + 1}", h)
        pooled = jnp.mean(h, axis=(1, 2))
        self.sow("intermediates", "pooled", pooled)
        return nn.Dense(self.num_classes, name="dense")(pooled)


Model = ResNet


def fast_forward(module: nn.Module) -> Any:
    """``ResNet`` forward with every convolution in its fastest form (:func:`conv_hybrid`).

    Args:
        module: A :class:`ResNet` (any ``stem_features``/``block_*`` config).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``.
    """
    strides = tuple(int(s) for s in module.block_strides)
    features = tuple(int(f) for f in module.block_features)

    def fn(params: Any, x: jax.Array) -> jax.Array:
        def conv(h: jax.Array, p: Any, s: int = 1) -> jax.Array:
            return conv_hybrid(h, p["kernel"], p["bias"], s)

        h = nn.relu(conv(x[..., None], params["stem_conv"]))
        for i, (f, s) in enumerate(zip(features, strides, strict=True)):
            bp = params[f"res_block{i + 1}"]
            a = conv(nn.relu(conv(h, bp["conv1"], s)), bp["conv2"])
            short = conv(h, bp["proj"], s) if (s != 1 or h.shape[-1] != f) else h
            h = nn.relu(a + short)
        return jnp.mean(h, axis=(1, 2)) @ params["dense"]["kernel"] + params["dense"]["bias"]

    return fn


def onnx_graph(g: og.Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    """Stem Conv -> residual blocks (Conv, Relu, Conv, Add) -> GlobalAveragePool -> Gemm."""
    h = og.unsqueeze_channel(g, x)
    h, hw = og.conv(g, h, params["stem_conv"], pt)
    h = g.op("Relu", [h])
    c_in = int(og.arr(params, "stem_conv", "kernel").shape[-1])
    for i, (f, s) in enumerate(zip(module.block_features, module.block_strides, strict=True)):
        bp = params.get(f"res_block{i + 1}")
        if bp is None:
            raise og.UnsupportedModelError(f"resnet params lack 'res_block{i + 1}'")
        a, hw2 = og.conv(g, h, bp["conv1"], hw, int(s))
        a, _ = og.conv(g, g.op("Relu", [a]), bp["conv2"], hw2)
        short = h
        if int(s) != 1 or c_in != int(f):
            short, _ = og.conv(g, h, bp["proj"], hw, int(s))
        h, hw, c_in = g.op("Relu", [g.op("Add", [a, short])]), hw2, int(f)
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [h])], "pooled", axis=1)
    return og.dense(g, pooled, params["dense"])


SPEC = ModelSpec(
    name="resnet",
    fast_forward=fast_forward,
    formulation={"cpu": "rewrite", "gpu": "apply", "tpu": "apply"},
    chunk=512,
    # two 512-cluster calls in flight on 2 CPU cores: one leaves a core idle (XLA CPU/wall
    # 1.68); JAX 1.86 -> 1.00 s/event, ONNX Runtime 1.38 -> 0.88 (2026-12-03, same run)
    streams={"cpu": 2},
    inference_backend="onnx",
    onnx_graph=onnx_graph,
    description="lean residual network (95,170 params)",
    order=40,
    # the smoke profile skips the LR range finder (seconds); quick caps the epochs of the
    # slower networks
    profile_overrides={
        "smoke": {"learning_rate": 3e-3},
        "quick": {"max_epochs": 5},
        # batch 1,024: 1.3x the samples/s of 256 on 2 CPU cores (benchmarks/train_throughput.py)
        "full": {"max_epochs": 4, "batch_size": 1024},
    },
)
