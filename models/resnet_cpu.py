"""The ResNet's CPU forward pass (``SPEC.fast_forward`` of :mod:`models.resnet`).

Every convolution as :func:`models.ops.conv_hybrid` runs it, except on small grids
(<= :data:`models.ops.DENSE_MAX_POSITIONS` output positions) where im2col needs fewer FLOPs
than ``conv_hybrid``'s dense Toeplitz matmul (``kh * kw < H * W``): block 3's stride-2 conv1,
3x5x32 -> 2x3x76, runs as one ``[B * 6, 288] @ [288, 76]`` matmul (263k FLOPs per cluster
instead of 438k; :func:`conv_im2col`). Exact up to float32 summation order and
differentiable (the trainer uses it too).

Measured on the 2-core VM (seconds per 28,764-cluster event, one run, medians of 9
interleaved repeats, load 2.4-2.7): ``conv_hybrid`` forward 0.566, this file 0.542.

Tried and dropped (same runs and single-core CPU time, ``time.process_time``, ms per 1,024
clusters):

* the 1x1 projection folded into conv1 as extra output channels (it reads one tap of the
  3x3 stride-2 conv) and the 16-channel convolutions widened to 17 output channels, so that
  XLA:CPU (jaxlib 0.10.2, ``max(C_in, C_out) > 16``) runs them with YNNPACK instead of
  Eigen, in chunks of 256: 32.4 -> 25.7 ms of one core's CPU time, but YNNPACK's
  convolutions run on one thread, so with two idle cores the forward took 0.65-0.69 s per
  event against 0.55-0.59 (faster only while another job holds the second core: 0.78-0.84
  against 0.90-0.95);
* per-output-column dense matmuls for the 2x3 / 3x5 grids (fewer FLOPs, slower: the slices
  break YNNPACK's fusion of block 3 and the head); im2col for block 2 (+3 ms); the spatial
  axes swapped (+10 %); the batch split into independent halves inside one call or over two
  Python threads (no gain).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.ops import DENSE_MAX_POSITIONS, conv_hybrid, same_pads


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
    """:func:`models.ops.conv_hybrid`, with :func:`conv_im2col` where it needs fewer FLOPs.

    That is a grid of <= :data:`~models.ops.DENSE_MAX_POSITIONS` output positions (which
    ``conv_hybrid`` runs as a dense Toeplitz matmul holding every input position per output)
    whose kernel has fewer taps than the input has positions, for a kernel larger than 1x1
    on a multi-channel or strided input (the other ``conv_hybrid`` branches stay).

    Args:
        x: float32 [B, H, W, C].
        kernel: float32 [kh, kw, C, F].
        bias: float32 [F].
        stride: Same stride on both axes.

    Returns:
        float32 [B, ceil(H / stride), ceil(W / stride), F].
    """
    _, H, W, C = (int(d) for d in x.shape)
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    positions = -(-H // stride) * -(-W // stride)
    general = (kh, kw) != (1, 1) and not (C == 1 and stride == 1)
    if general and positions <= DENSE_MAX_POSITIONS and kh * kw < H * W:
        return conv_im2col(x, kernel, bias, stride)
    return conv_hybrid(x, kernel, bias, stride)


def fast_forward(module: nn.Module) -> Any:
    """``ResNet`` forward for XLA:CPU with every convolution as :func:`conv_cpu`.

    Args:
        module: A :class:`models.resnet.ResNet` (any ``stem_features``/``block_*`` config).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``, equal to ``module.apply`` up
        to float32 summation order.
    """
    strides = tuple(int(s) for s in module.block_strides)
    features = tuple(int(f) for f in module.block_features)

    def fn(params: Any, x: jax.Array) -> jax.Array:
        def conv(h: jax.Array, p: Any, s: int = 1) -> jax.Array:
            return conv_cpu(h, p["kernel"], p["bias"], s)

        h = nn.relu(conv(x[..., None], params["stem_conv"]))
        for i, (f, s) in enumerate(zip(features, strides, strict=True)):
            bp = params[f"res_block{i + 1}"]
            a = conv(nn.relu(conv(h, bp["conv1"], s)), bp["conv2"])
            short = conv(h, bp["proj"], s) if (s != 1 or h.shape[-1] != f) else h
            h = nn.relu(a + short)
        return jnp.mean(h, axis=(1, 2)) @ params["dense"]["kernel"] + params["dense"]["bias"]

    return fn
