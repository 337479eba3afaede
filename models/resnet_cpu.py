"""The ResNet's CPU forward pass (``SPEC.fast_forward`` of :mod:`models.resnet`).

Three rewrites on top of :func:`models.ops.conv_hybrid`, all exact up to float32 summation
order and differentiable:

* **Projection folded into conv1** where conv1 has <= 16 channels in and out (block 1, 10 ->
  16). A block's 1x1 stride-s shortcut reads input position ``s * o``, which is one tap of
  the 3x3 stride-s ``conv1`` ("SAME": the tap at the low padding), so both run as one
  convolution with ``2F`` output channels (:func:`fold_projection`), which XLA:CPU hands to
  YNNPACK (next point) at no extra time; the 1x1 shortcut alone was a strided copy and a
  K = 10 matmul. Wider blocks keep a separate shortcut (folding doubles conv1's FLOPs).
* **Small-channel convolutions widened to 17 output channels.** XLA:CPU (jaxlib 0.10.2) runs a
  float32 convolution with YNNPACK only when ``max(C_in, C_out) > 16``
  (:data:`YNN_MIN_FEATURES`), else with Eigen; block 1's 16 -> 16 conv2 took 25 % less CPU
  time with one zero output channel added (:func:`conv_cpu`).
* **im2col on small grids** where it needs fewer FLOPs than ``conv_hybrid``'s dense Toeplitz
  matmul (block 3's stride-2 conv1, 3x5x32 -> 2x3x76: 263k instead of 438k FLOPs per
  cluster; :func:`conv_im2col`).

Measured on the 2-core VM (CPU ms per 1,024 clusters on one core, ``time.process_time``,
medians of 15 interleaved repeats, one run): ``conv_hybrid`` forward 31.5 (chunks of 1,024),
27.4 (chunks of 256), this file 24.1 (chunks of 256; YNNPACK's convolutions are faster on
small batches); ONNX Runtime (1 thread, chunks of 256) 21.1. Tried and dropped: per-output-
column dense matmuls for the 2x3 / 3x5 grids (fewer FLOPs, slower: the slices break
YNNPACK's fusion of block 3 and the head), im2col for block 2 (+3 ms), folding the
projection of block 2 (+1 ms), the spatial axes swapped (+10 %), the batch split into
independent halves inside one call (no gain).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.ops import DENSE_MAX_POSITIONS, conv_hybrid, same_pads

YNN_MIN_FEATURES = 17
"""XLA:CPU hands a float32 convolution to YNNPACK when ``max(C_in, C_out) >=`` this."""


def fold_projection(
    conv1: jax.Array, proj: jax.Array, hw: tuple[int, int], stride: int
) -> jax.Array:
    """``conv1`` and a 1x1 projection with the same stride as one kernel.

    Args:
        conv1: float32 [kh, kw, C, F] ("SAME", stride ``stride``).
        proj: float32 [1, 1, C, Fp] (1x1, stride ``stride``; "SAME" pads nothing).
        hw: Input grid (H, W) of both.
        stride: Their common stride.

    Returns:
        float32 [kh, kw, C, F + Fp]: output channels ``:F`` are ``conv1``, ``F:`` the
        projection, placed at the tap that reads input position ``stride * o``.

    Raises:
        ValueError: ``proj`` is not 1x1, or the "SAME" padding of ``conv1`` leaves no tap on
            ``stride * o``.
    """
    kh, kw = int(conv1.shape[0]), int(conv1.shape[1])
    if tuple(proj.shape[:2]) != (1, 1) or proj.shape[2] != conv1.shape[2]:
        raise ValueError(f"proj kernel must be [1, 1, {conv1.shape[2]}, F], got {proj.shape}")
    ti, tj = same_pads(hw[0], kh, stride)[0], same_pads(hw[1], kw, stride)[0]
    if ti >= kh or tj >= kw:
        raise ValueError(f"no tap of a {kh}x{kw} stride-{stride} conv on {hw} reads s*o")
    taps = jnp.zeros((kh, kw, *proj.shape[2:]), proj.dtype).at[ti, tj].set(proj[0, 0])
    return jnp.concatenate([conv1, taps], axis=-1)


def conv_im2col(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int = 1) -> jax.Array:
    """ "SAME" convolution as one matmul over gathered patches (for small grids).

    Args:
        x: float32 [B, H, W, C].
        kernel: float32 [kh, kw, C, F].
        bias: float32 [F].
        stride: Same stride on both axes.

    Returns:
        float32 [B, Ho, Wo, F]: ``[B * Ho * Wo, kh * kw * C] @ [kh * kw * C, F]``.
    """
    B, H, W, C = (int(d) for d in x.shape)
    kh, kw, _, F = (int(d) for d in kernel.shape)
    Ho, Wo = -(-H // stride), -(-W // stride)
    xp = jnp.pad(x, ((0, 0), same_pads(H, kh, stride), same_pads(W, kw, stride), (0, 0)))
    hi, wi = stride * (Ho - 1) + 1, stride * (Wo - 1) + 1
    taps = [xp[:, i : i + hi : stride, j : j + wi : stride] for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(taps, axis=-1).reshape(B * Ho * Wo, kh * kw * C)
    return (patches @ kernel.reshape(kh * kw * C, F) + bias).reshape(B, Ho, Wo, F)


def conv_cpu(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int = 1) -> jax.Array:
    """:func:`models.ops.conv_hybrid`, with two branches changed (see the module docstring).

    * The dense-matmul branch (<= 6 output positions) runs as :func:`conv_im2col` when that
      needs fewer FLOPs (``kh * kw < H * W``: the Toeplitz matrix holds every input position
      per output, im2col only the kernel's taps).
    * The XLA-convolution branch (> 6 output positions, a kernel larger than 1x1 on a
      multi-channel input) gets zero output channels up to :data:`YNN_MIN_FEATURES` when
      both channel counts are below it, and the result is sliced back.

    Args:
        x: float32 [B, H, W, C].
        kernel: float32 [kh, kw, C, F].
        bias: float32 [F].
        stride: Same stride on both axes.

    Returns:
        float32 [B, ceil(H / stride), ceil(W / stride), F].
    """
    _, H, W, C = (int(d) for d in x.shape)
    kh, kw, _, F = (int(d) for d in kernel.shape)
    positions = -(-H // stride) * -(-W // stride)
    xla_conv = (kh, kw) != (1, 1) and not (C == 1 and stride == 1)
    if xla_conv and positions <= DENSE_MAX_POSITIONS:
        return (
            conv_im2col(x, kernel, bias, stride)
            if kh * kw < H * W
            else conv_hybrid(x, kernel, bias, stride)
        )
    if not xla_conv or max(C, F) >= YNN_MIN_FEATURES:
        return conv_hybrid(x, kernel, bias, stride)
    wide = jnp.pad(kernel, ((0, 0), (0, 0), (0, 0), (0, YNN_MIN_FEATURES - F)))
    y = jax.lax.conv_general_dilated(
        x, wide, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y[..., :F] + bias


def fast_forward(module: nn.Module) -> Any:
    """``ResNet`` forward for XLA:CPU (see the module docstring).

    Args:
        module: A :class:`models.resnet.ResNet` (any ``stem_features``/``block_*`` config).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``, equal to ``module.apply`` up
        to float32 summation order.
    """
    strides = tuple(int(s) for s in module.block_strides)
    features = tuple(int(f) for f in module.block_features)

    def fn(params: Any, x: jax.Array) -> jax.Array:
        stem = params["stem_conv"]
        h = nn.relu(conv_cpu(x[..., None], stem["kernel"], stem["bias"]))
        for i, (f, s) in enumerate(zip(features, strides, strict=True)):
            bp = params[f"res_block{i + 1}"]
            hw = (int(h.shape[1]), int(h.shape[2]))
            positions = -(-hw[0] // s) * -(-hw[1] // s)
            c1 = bp["conv1"]
            narrow = max(int(h.shape[-1]), f) < YNN_MIN_FEATURES
            if "proj" in bp and positions > DENSE_MAX_POSITIONS and narrow:
                k = fold_projection(c1["kernel"], bp["proj"]["kernel"], hw, s)
                y = conv_cpu(h, k, jnp.concatenate([c1["bias"], bp["proj"]["bias"]]), s)
                a, short = y[..., :f], y[..., f:]
            else:
                a = conv_cpu(h, c1["kernel"], c1["bias"], s)
                short = h
                if "proj" in bp:
                    short = conv_cpu(h, bp["proj"]["kernel"], bp["proj"]["bias"], s)
            a = conv_cpu(nn.relu(a), bp["conv2"]["kernel"], bp["conv2"]["bias"])
            h = nn.relu(a + short)
        return jnp.mean(h, axis=(1, 2)) @ params["dense"]["kernel"] + params["dense"]["bias"]

    return fn
