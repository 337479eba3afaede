"""Shared JAX kernels of the models' fast inference formulations (no Flax, no backends).

* :func:`same_pads`: XLA/Flax ``"SAME"`` padding of one axis (also used by the ONNX graphs).
* :func:`conv_same_1ch`: a single-channel "same" convolution as one banded matmul: the long
  kernel axis is contracted with a banded matrix built from the kernel (``[P, kw, P, F]`` or
  ``[T, kh, T, F]``) and the few taps of the short axis are taken as patches, so the conv is
  one matmul with K = 22 or 40 instead of an XLA convolution (which runs at a few % of peak on
  1-channel inputs).
* :func:`conv_hybrid`: any "same" convolution in the form measured fastest for its shape (the
  1-channel stem as shifted multiply-adds, grids of <= 6 positions as one dense matmul, the
  rest as XLA convolutions). im2col (patches-as-matmul) was measured 1.3-9x slower per layer.

All take float32 NHWC / [B, P, T] arrays and Flax ``nn.Conv`` kernels [kh, kw, C, F].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def same_pads(size: int, kernel: int, stride: int = 1) -> tuple[int, int]:
    """XLA/Flax ``"SAME"`` padding (low, high) of one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def banded_matrix(kernel_axis: jax.Array, size: int, lo: int) -> jax.Array:
    """Banded matrix of a 1-D "same" correlation along an axis of length ``size``.

    Args:
        kernel_axis: [k, ...] kernel, taps along axis 0.
        size: Axis length (input = output length, stride 1).
        lo: Low-side "same" padding.

    Returns:
        [size_in, size_out, ...] with ``M[q, p] = kernel[q - p + lo]`` inside the band, else 0.
    """
    k = kernel_axis.shape[0]
    q = np.arange(size)[:, None]
    p = np.arange(size)[None, :]
    tap = q - p + lo
    valid = (tap >= 0) & (tap < k)
    gathered = kernel_axis[np.clip(tap, 0, k - 1)]  # [size, size, ...]
    mask = valid.reshape(valid.shape + (1,) * (gathered.ndim - 2))
    return jnp.where(mask, gathered, 0.0)


def conv_same_1ch(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> tuple[jax.Array, str]:
    """Single-channel stride-1 "same" 2-D convolution as one plain 2-D banded matmul.

    The long kernel axis is contracted with a banded matrix, the short one is gathered as
    patches laid out so that the matmul needs no transposes: ``[B*T, kw*P] @ [kw*P, P*F]``
    (pads contracted) or ``[B*P, kh*T] @ [kh*T, T*F]`` (time contracted).

    Args:
        x: float32 [B, P, T] (one input channel).
        kernel: float32 [kh, kw, 1, F] (Flax ``nn.Conv`` layout).
        bias: float32 [F].

    Returns:
        ``(y, layout)``: ``y`` float32 [B, T, P, F] (``layout == "btpf"``, contraction along
        pads) when ``kh >= kw``, else [B, P, T, F] (``"bptf"``, contraction along time).
    """
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    B, P, T = x.shape
    w = kernel[:, :, 0, :]  # [kh, kw, F]
    F = int(w.shape[-1])
    ph, pw = same_pads(P, kh), same_pads(T, kw)
    if kh >= kw:
        xt = jnp.pad(jnp.swapaxes(x, 1, 2), ((0, 0), pw, (0, 0)))  # [B, T+kw-1, P]
        patches = jnp.stack([xt[:, j : j + T, :] for j in range(kw)], axis=2)  # [B,T,kw,P]
        band = banded_matrix(w, P, ph[0])  # [P_in, P_out, kw, F]
        band = jnp.transpose(band, (2, 0, 1, 3)).reshape(kw * P, P * F)
        y = patches.reshape(B * T, kw * P) @ band + jnp.tile(bias, P)
        return y.reshape(B, T, P, F), "btpf"
    xp = jnp.pad(x, ((0, 0), ph, (0, 0)))  # [B, P+kh-1, T]
    patches = jnp.stack([xp[:, i : i + P, :] for i in range(kh)], axis=2)  # [B,P,kh,T]
    band = banded_matrix(jnp.swapaxes(w, 0, 1), T, pw[0])  # [T_in, T_out, kh, F]
    band = jnp.transpose(band, (2, 0, 1, 3)).reshape(kh * T, T * F)
    y = patches.reshape(B * P, kh * T) @ band + jnp.tile(bias, T)
    return y.reshape(B, P, T, F), "bptf"


def conv_shift_add_1ch(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """Single-input-channel stride-1 "same" convolution as ``kh * kw`` shifted multiply-adds.

    One elementwise XLA fusion instead of a convolution with K = 1 input channel (which runs
    at ~2 GFLOP/s on the 2-core VM): the ResNet stem, 3x faster.

    Args:
        x: float32 [B, H, W] (the single input channel squeezed).
        kernel: float32 [kh, kw, 1, F].
        bias: float32 [F].

    Returns:
        float32 [B, H, W, F].
    """
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    H, W = int(x.shape[1]), int(x.shape[2])
    xp = jnp.pad(x, ((0, 0), same_pads(H, kh), same_pads(W, kw)))
    out = bias
    for i in range(kh):
        for j in range(kw):
            out = out + xp[:, i : i + H, j : j + W, None] * kernel[i, j, 0]
    return out


def conv_dense_matrix(kernel: jax.Array, hw: tuple[int, int], stride: int) -> jax.Array:
    """A "same" 2-D convolution on an (H, W) grid as one dense (Toeplitz) matrix.

    Args:
        kernel: float32 [kh, kw, C, F] (Flax ``nn.Conv`` layout).
        hw: Input grid (H, W).
        stride: Same stride on both axes.

    Returns:
        float32 [H * W * C, Ho * Wo * F] with ``x.reshape(B, -1) @ M`` equal to the convolution
        (flattened NHWC), Ho = ceil(H / stride), Wo = ceil(W / stride). Linear in ``kernel``
        (a gather), so it is differentiable.
    """
    kh, kw, C, F = (int(d) for d in kernel.shape)
    H, W = hw
    Ho, Wo = -(-H // stride), -(-W // stride)
    th = np.arange(H)[:, None] - stride * np.arange(Ho)[None, :] + same_pads(H, kh, stride)[0]
    tw = np.arange(W)[:, None] - stride * np.arange(Wo)[None, :] + same_pads(W, kw, stride)[0]
    valid = ((th >= 0) & (th < kh))[:, :, None, None] & ((tw >= 0) & (tw < kw))[None, None]
    taps = kernel[np.clip(th, 0, kh - 1)][:, :, np.clip(tw, 0, kw - 1)]  # [H, Ho, W, Wo, C, F]
    m = jnp.where(valid[..., None, None], taps, 0.0)
    return jnp.transpose(m, (0, 2, 4, 1, 3, 5)).reshape(H * W * C, Ho * Wo * F)


DENSE_MAX_POSITIONS = 6
"""Output grids of at most this many positions run as a dense matmul (:func:`conv_hybrid`)."""


def conv_hybrid(x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int = 1) -> jax.Array:
    """ "SAME" convolution (NHWC) in the form XLA:CPU runs fastest for its shape.

    Measured per layer of the ResNet on the 2-core VM (ms per 4,096 clusters): a 1x1 kernel
    runs as a strided slice and a matmul (the 3x5x32 -> 2x3x76 projection: 5 as an XLA
    convolution, 3); a 1-channel input as shifted multiply-adds (:func:`conv_shift_add_1ch`;
    stem 52 -> 7-20); an output grid of <= :data:`DENSE_MAX_POSITIONS` positions as one
    dense matmul (:func:`conv_dense_matrix`; the 2x3x76 -> 2x3x76 conv: 138-348 as an XLA
    convolution, 17-19 as a matmul, which has 2/3 of the convolution's FLOPs once the zero
    padding is dropped); everything else as XLA's convolution.

    Args:
        x: float32 [B, H, W, C].
        kernel: float32 [kh, kw, C, F].
        bias: float32 [F].
        stride: Same stride on both axes.

    Returns:
        float32 [B, ceil(H / stride), ceil(W / stride), F].
    """
    B, H, W, C = (int(d) for d in x.shape)
    Ho, Wo = -(-H // stride), -(-W // stride)
    if kernel.shape[0] == kernel.shape[1] == 1:  # 1x1 ("SAME" pads nothing): strided matmul
        return x[:, ::stride, ::stride] @ kernel[0, 0] + bias
    if C == 1 and stride == 1:
        return conv_shift_add_1ch(x[..., 0], kernel, bias)
    if Ho * Wo <= DENSE_MAX_POSITIONS:
        m = conv_dense_matrix(kernel, (H, W), stride)
        y = x.reshape(B, H * W * C) @ m + jnp.tile(bias, Ho * Wo)
        return y.reshape(B, Ho, Wo, -1)
    y = jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y + bias
