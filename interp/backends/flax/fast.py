"""Fast CPU inference formulations: preprocessing fused into the jitted forward pass.

* Preprocessing (:class:`~interp.data.preprocess.Preprocessor`) is re-expressed in ``jax.numpy`` and
  fused into the same XLA computation as the model, so raw ADC windows go in and logits come
  out of one compiled call (no numpy temporaries, no host-side padding of preprocessed data).
* The split convolution is rewritten as two *banded matmuls*: each single-channel "same"
  convolution contracts its long kernel axis with a banded matrix built from the kernel
  (``[P, kw, P, F]`` or ``[T, kh, T, F]``) and takes the few taps of its short axis as patches,
  so the whole conv is one matmul with K = 22 or 40 instead of an XLA convolution (which runs
  at a few % of peak on 1-channel inputs). The dense head is split per branch so the concat and
  the transpose to the (P, T, 2F) flatten order are never materialised.
* The ResNet runs each convolution in the form measured fastest for its shape
  (:func:`conv_hybrid`): the 1-channel stem as shifted multiply-adds, convolutions onto a
  grid of <= 6 positions as one dense matmul, the rest as XLA convolutions (2.9x faster
  than ``module.apply``). im2col (patches-as-matmul) was measured 1.3-9x slower per layer.
* Other models (the perceptron, anything registered later) run their own ``module.apply``;
  the perceptron's max normalisation is moved after its matmul.
* :func:`preferred_chunk` / :func:`preferred_min_chunk` / :func:`preferred_backend` hold the
  measured per-model choices used by ``FlaxClassifier.logits`` (chunk sizes, backend).
* ``formulation="auto"`` picks rewrite or ``module.apply`` per model and platform
  (:data:`PLATFORM_FORMULATION`: the rewrites on CPU, cuDNN convolutions on GPU).
* Raw windows may be float or 8/16-bit integer ADC (:data:`INTEGER_ADC_DTYPES`), converted
  to float32 inside the compiled call; :data:`PRECISIONS` casts params and preprocessed inputs
  to bfloat16 / float16.

All formulations return float32 logits [B, 2] equal to ``module.apply`` on preprocessed inputs
up to float32 summation order (tested to 1e-5 relative).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from interp.core.aligned import as_aligned
from interp.data import preprocess
from interp.data.preprocess import Preprocessor

Params = Any
Forward = Callable[[Params, jax.Array], jax.Array]

DEFAULT_CHUNK = 4096
"""Clusters per compiled call (see ``benchmarks/speed.py``: 2k-8k are within noise)."""
_EPS = 1e-6  # same as interp.data.preprocess


INTEGER_ADC_DTYPES = (np.uint8, np.int8, np.uint16, np.int16)
"""Integer ADC dtypes the fused forward reads as they are (converted to float32 inside the
compiled call, exactly): an 8-bit event is 6.3 MB instead of 25 MB of float32."""


def as_model_input(charge: np.ndarray) -> np.ndarray:
    """Raw windows as the fused forward takes them: float16/float32 and the 8/16-bit integer
    ADC dtypes (:data:`INTEGER_ADC_DTYPES`) kept, anything else converted to float32, 64-byte
    aligned (one copy at most; see :mod:`interp.core.aligned`)."""
    charge = np.asarray(charge)
    keep = (
        np.issubdtype(charge.dtype, np.floating) and charge.dtype != np.float64
    ) or charge.dtype in INTEGER_ADC_DTYPES
    return as_aligned(charge, None if keep else np.float32)


def compact_adc(charge: np.ndarray) -> np.ndarray:
    """ADC windows in the smallest integer dtype that holds them exactly, else unchanged.

    uint8 when every value is an integer in [0, 255] (the NA61 ADC's range), uint16 for
    [0, 65535]; anything else (negative, fractional, larger) is returned as it is. The
    conversion reads the array once; it pays off when the same windows are scored more than
    once, or when they are stored this way (``FlaxClassifier.logits`` reads integer ADC as
    it is, see :func:`as_model_input`).

    Args:
        charge: [N, P, T] real ADC.

    Returns:
        [N, P, T] uint8, uint16 or the input dtype (64-byte aligned when converted).
    """
    charge = np.asarray(charge)
    if charge.dtype in INTEGER_ADC_DTYPES or charge.size == 0:
        return charge
    lo, hi = float(charge.min()), float(charge.max())
    if lo < 0 or hi > 65535 or not np.array_equal(charge, np.floor(charge)):
        return charge
    return as_aligned(charge, np.uint8 if hi <= 255 else np.uint16)


def preprocess_constants(pre: Preprocessor | None) -> dict[str, np.ndarray]:
    """Fitted constants of a preprocessor as float32 arrays (jit arguments, not closures).

    Passing them as arguments lets one compiled forward serve every classifier that shares a
    model config and preprocessing method (tests and studies build many of them).
    """
    return preprocess.float32_constants(pre)


def jax_preprocess_method(method: str | None) -> Callable[[jax.Array, dict], jax.Array]:
    """``jax.numpy`` form of a preprocessing method, ``fn(raw, constants) -> inputs``, rendered
    from its steps (:data:`interp.data.preprocess.STEPS`).

    Args:
        method: One of :data:`interp.data.preprocess.PREPROCESSORS`, or ``None`` (identity).

    Returns:
        ``fn(raw [B, P, T] any real dtype (ADC), preprocess_constants(pre)) -> float32
        [B, P, T]``.

    Raises:
        UnknownNameError: Unknown method.
    """
    return preprocess.array_function(method, jnp)


def jax_preprocess(pre: Preprocessor | None) -> Callable[[jax.Array], jax.Array]:
    """``jax.numpy`` twin of a fitted :class:`Preprocessor` (traceable, for fusion).

    Args:
        pre: Fitted preprocessor, or ``None`` for the identity (inputs already preprocessed).

    Returns:
        A function mapping raw windows [B, P, T] (any real dtype, ADC) to float32 [B, P, T].
    """
    fn = jax_preprocess_method(None if pre is None else pre.method)
    consts = preprocess_constants(pre)
    return lambda x: fn(x, consts)


def same_pads(size: int, kernel: int, stride: int = 1) -> tuple[int, int]:
    """XLA/Flax ``"SAME"`` padding (low, high) of one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _banded(kernel_axis: jax.Array, size: int, lo: int) -> jax.Array:
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
        band = _banded(w, P, ph[0])  # [P_in, P_out, kw, F]
        band = jnp.transpose(band, (2, 0, 1, 3)).reshape(kw * P, P * F)
        y = patches.reshape(B * T, kw * P) @ band + jnp.tile(bias, P)
        return y.reshape(B, T, P, F), "btpf"
    xp = jnp.pad(x, ((0, 0), ph, (0, 0)))  # [B, P+kh-1, T]
    patches = jnp.stack([xp[:, i : i + P, :] for i in range(kh)], axis=2)  # [B,P,kh,T]
    band = _banded(jnp.swapaxes(w, 0, 1), T, pw[0])  # [T_in, T_out, kh, F]
    band = jnp.transpose(band, (2, 0, 1, 3)).reshape(kh * T, T * F)
    y = patches.reshape(B * P, kh * T) @ band + jnp.tile(bias, T)
    return y.reshape(B, P, T, F), "bptf"


def split_conv_logits(params: Params, x: jax.Array) -> jax.Array:
    """``SplitConv`` forward as banded matmuls (no concat, no flatten transpose).

    Args:
        params: SplitConv params (``pad_conv``, ``time_conv``, ``dense``).
        x: float32 [B, P, T] preprocessed windows.

    Returns:
        float32 [B, C] logits.
    """
    B, P, T = x.shape
    dense_k = params["dense"]["kernel"]  # [P*T*2F, C]
    C = dense_k.shape[-1]
    F = params["pad_conv"]["kernel"].shape[-1]
    k4 = dense_k.reshape(P, T, 2 * F, C)
    out = params["dense"]["bias"]
    for name, head in (("pad_conv", k4[:, :, :F]), ("time_conv", k4[:, :, F:])):
        y, layout = conv_same_1ch(x, params[name]["kernel"], params[name]["bias"])
        if layout == "btpf":
            head = jnp.swapaxes(head, 0, 1)  # [T, P, F, C]
        out = out + nn.relu(y).reshape(B, -1) @ head.reshape(-1, C)
    return out


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


def resnet_logits_fn(module: nn.Module) -> Forward:
    """``ResNet`` forward with every convolution in its fastest form (:func:`conv_hybrid`).

    Args:
        module: A ``models.resnet.ResNet`` (any ``stem_features``/``block_*`` config).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``.
    """
    strides = tuple(int(s) for s in module.block_strides)
    features = tuple(int(f) for f in module.block_features)

    def fn(params: Params, x: jax.Array) -> jax.Array:
        def conv(h: jax.Array, p: Params, s: int = 1) -> jax.Array:
            return conv_hybrid(h, p["kernel"], p["bias"], s)

        h = nn.relu(conv(x[..., None], params["stem_conv"]))
        for i, (f, s) in enumerate(zip(features, strides, strict=True)):
            bp = params[f"res_block{i + 1}"]
            a = conv(nn.relu(conv(h, bp["conv1"], s)), bp["conv2"])
            short = conv(h, bp["proj"], s) if (s != 1 or h.shape[-1] != f) else h
            h = nn.relu(a + short)
        return jnp.mean(h, axis=(1, 2)) @ params["dense"]["kernel"] + params["dense"]["bias"]

    return fn


def perceptron_max_logits(params: Params, raw: jax.Array) -> jax.Array:
    """Perceptron on max-normalised windows with the normalisation moved after the matmul.

    ``(x / m) @ W + b == (x @ W) / m + b`` (m = per-cluster max, floored at 1e-6): one pass
    over the raw input, no normalised copy.

    Args:
        params: Perceptron params (``dense``).
        raw: [B, P, T] raw ADC, float or integer (:data:`INTEGER_ADC_DTYPES`).

    Returns:
        float32 [B, C] logits.
    """
    x = raw.reshape(raw.shape[0], -1)
    # the max is taken in the input dtype (exact; 1 byte per value for uint8 ADC) and the
    # conversion to float32 is fused into the matmul's operand
    peak = jnp.maximum(jnp.max(x, axis=1, keepdims=True).astype(jnp.float32), _EPS)
    return (x.astype(jnp.float32) @ params["dense"]["kernel"]) / peak + params["dense"]["bias"]


def model_kind(module: nn.Module) -> str | None:
    """Registry name of a module with a rewrite (``perceptron``, ``split_conv``, ``resnet``),
    else ``None``."""
    import models.perceptron as pc
    import models.resnet as rn
    import models.split_conv as sc

    for kind, cls in (("perceptron", pc.Perceptron), ("split_conv", sc.SplitConv)):
        if isinstance(module, cls):
            return kind
    return "resnet" if isinstance(module, rn.ResNet) else None


def _is_perceptron(module: nn.Module) -> bool:
    return model_kind(module) == "perceptron"


FORMULATIONS = ("auto", "rewrite", "apply")
"""``auto``: the formulation :data:`PLATFORM_FORMULATION` lists for the model on the platform
the computation runs on; ``rewrite``: the model's rewrite (banded split conv,
hybrid-convolution ResNet, perceptron with the max moved after its matmul), ``apply`` where
there is none; ``apply``: ``module.apply`` (the reference)."""

_ACCELERATOR_FORMULATION = {"perceptron": "rewrite", "split_conv": "apply", "resnet": "apply"}
PLATFORM_FORMULATION: dict[str, dict[str, str]] = {
    "cpu": {"perceptron": "rewrite", "split_conv": "rewrite", "resnet": "rewrite"},
    "gpu": dict(_ACCELERATOR_FORMULATION),
    "tpu": dict(_ACCELERATOR_FORMULATION),
}
"""Platform (``jax.default_backend()`` / ``device.platform``) -> model -> ``"rewrite"`` or
``"apply"`` chosen by ``formulation="auto"``. The CPU rewrites exist because XLA:CPU runs
1-channel and small-grid convolutions at a few % of peak (see ``docs/speed.md``); on GPU/TPU
cuDNN's / the TPU's convolutions are the natural default (``benchmarks/gpu_check.sh`` times
both). The perceptron's rewrite only saves a pass over the input, on every platform. Models
or platforms not listed run ``module.apply``."""


def current_platform() -> str:
    """Platform new computations run on: that of ``jax.default_device`` when one is set (the
    ``with jax.default_device(...)`` context), else ``jax.default_backend()``."""
    dev = jax.config.jax_default_device
    if dev is None:
        return jax.default_backend()
    return str(getattr(dev, "platform", dev))


def platform_formulation(module: nn.Module, platform: str | None = None) -> str:
    """``"rewrite"`` or ``"apply"``: what ``formulation="auto"`` runs for a module.

    Args:
        module: Linen module.
        platform: ``"cpu"``, ``"gpu"``, ``"tpu"``...; ``None``: :func:`current_platform`.

    Returns:
        The :data:`PLATFORM_FORMULATION` entry, ``"apply"`` if there is none.
    """
    platform = current_platform() if platform is None else str(platform)
    kind = model_kind(module)
    return PLATFORM_FORMULATION.get(platform, {}).get(kind or "", "apply")


def resolve_formulation(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> str:
    """``formulation`` with ``"auto"`` replaced by :func:`platform_formulation`.

    Raises:
        ValueError: Unknown formulation.
    """
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got '{formulation}'")
    return platform_formulation(module, platform) if formulation == "auto" else formulation


def rewritten_logits_fn(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> Forward | None:
    """The rewrite of a module's forward pass selected by ``formulation``, if there is one.

    A rewrite is the same function of the same parameter tree as ``module.apply`` (up to
    float32 summation order) and is valid in training too: the rewritten models have no
    train-time behaviour (no dropout, no batch statistics).

    Args:
        module: Linen module.
        formulation: One of :data:`FORMULATIONS`.
        platform: Platform for ``"auto"`` (:func:`platform_formulation`; ``None``: JAX's
            default backend).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``, or ``None`` (use ``apply``;
        also for the perceptron, whose rewrite needs the raw input, see :func:`fused_jit`).

    Raises:
        ValueError: Unknown formulation.
    """
    if resolve_formulation(module, formulation, platform) != "rewrite":
        return None
    kind = model_kind(module)
    if kind == "split_conv":
        return split_conv_logits
    if kind == "resnet":
        return resnet_logits_fn(module)
    return None


def model_logits_fn(
    module: nn.Module, formulation: str = "auto", platform: str | None = None
) -> Forward:
    """Un-jitted inference ``logits(params, x_preprocessed)`` for a module.

    Args:
        module: Linen module.
        formulation: See :data:`FORMULATIONS`.
        platform: Platform for ``"auto"`` (see :func:`platform_formulation`).

    Returns:
        ``fn(params, x [B, P, T] float32) -> float32 [B, C]``.
    """
    rewrite = rewritten_logits_fn(module, formulation, platform)
    if rewrite is not None:
        return rewrite

    def apply(params: Params, x: jax.Array) -> jax.Array:
        return module.apply({"params": params}, x, train=False).astype(jnp.float32)

    return apply


PRECISIONS = ("float32", "bfloat16", "float16")
"""Compute dtypes of the JAX inference path: params and preprocessed inputs are cast to it
inside the compiled call (preprocessing itself and the returned logits stay float32).
``int8`` is ONNX Runtime's (:func:`interp.backends.onnx.export.quantize_int8`)."""


def _cast_tree(tree: Params, dtype: Any) -> Params:
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), tree)


_FUSED_CACHE: dict[tuple[str, str | None, str, str], Callable[..., jax.Array]] = {}


def fused_jit(
    module: nn.Module,
    method: str | None,
    formulation: str = "auto",
    precision: str = "float32",
    platform: str | None = None,
) -> Callable[..., jax.Array]:
    """Jitted ``forward(params, constants, raw) -> logits``, cached by (module config,
    preprocessing method, resolved formulation, precision).

    Args:
        module: Linen module.
        method: Preprocessing method (:data:`interp.data.preprocess.PREPROCESSORS`) or ``None``.
        formulation: See :data:`FORMULATIONS`; ``"auto"`` is resolved for ``platform``.
        precision: One of :data:`PRECISIONS`.
        platform: Platform the call will run on (``None``: JAX's default backend).

    Returns:
        ``forward(params, preprocess_constants(pre), raw [B, P, T] ADC) -> float32 [B, C]``;
        the arguments may be sharded (``interp.backends.flax.mesh``); ``raw`` may be float or
        an integer ADC dtype (:data:`INTEGER_ADC_DTYPES`).

    Raises:
        ValueError: Unknown formulation or precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
    resolved = resolve_formulation(module, formulation, platform)
    key = (repr(module), method, resolved, precision)
    if key not in _FUSED_CACHE:
        dtype = jnp.dtype(precision)
        if (
            resolved == "rewrite"
            and method == "max"
            and _is_perceptron(module)
            and precision == "float32"
        ):
            # (reduced precision normalises first: x @ W of raw ADC overflows float16)
            fn = lambda params, consts, raw: perceptron_max_logits(params, raw)  # noqa: E731
        else:
            prep = jax_preprocess_method(method)
            logits = model_logits_fn(module, resolved)

            def fn(params: Params, consts: dict, raw: jax.Array) -> jax.Array:
                x = prep(raw, consts)
                if precision != "float32":
                    params, x = _cast_tree(params, dtype), x.astype(dtype)
                return logits(params, x).astype(jnp.float32)

        _FUSED_CACHE[key] = jax.jit(fn)
    return _FUSED_CACHE[key]


def make_fused_forward(
    module: nn.Module,
    pre: Preprocessor | None,
    formulation: str = "auto",
    precision: str = "float32",
    platform: str | None = None,
) -> Forward:
    """Jitted ``forward(params, raw) -> logits``: preprocessing + model in one XLA call.

    The jitted function is shared (:func:`fused_jit`); fitted constants are passed as
    arguments.

    Args:
        module: Linen module.
        pre: Fitted preprocessor (``None``: inputs are already preprocessed).
        formulation: See :data:`FORMULATIONS`.
        precision: See :data:`PRECISIONS`.
        platform: See :func:`fused_jit`.

    Returns:
        ``forward(params, raw [B, P, T] ADC) -> float32 [B, C]``.
    """
    method = None if pre is None else pre.method
    jitted = fused_jit(module, method, formulation, precision, platform)
    consts = jax.device_put(preprocess_constants(pre))
    return lambda params, raw: jitted(params, consts, raw)


def set_xla_cpu_flags(*flags: str) -> bool:
    """Appends XLA flags to ``XLA_FLAGS`` if the XLA backend is not initialised yet.

    Args:
        *flags: e.g. ``"--xla_cpu_use_xnnpack=true"``.

    Returns:
        ``True`` if set (effective), ``False`` if jax's backend already started (no effect).
    """
    from jax._src import xla_bridge

    if getattr(xla_bridge, "_backends", None):
        return False
    current = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = " ".join([current, *flags]).strip()
    return True


_PREFERRED_CHUNK = {"split_conv": 1024, "resnet": 1024, "perceptron": 8192}
_PREFERRED_MIN_CHUNK = {"perceptron": 512}


def preferred_chunk(name: str) -> int:
    """Measured best clusters per call for a registered model (``benchmarks/speed.py``).

    The split conv's [chunk, 2200] intermediates stay in the L3 cache at 1024 clusters
    (3x faster than 4096 on the 2-core VM); the perceptron, which only streams its input,
    runs ~1.7x faster per cluster on 8,192 than on 4,096 in isolation (XLA splits only large
    calls over both cores; 4.5-4.9 vs 5.1-5.3 ms per event end to end); the ResNet is flat
    between 1k and 8k.
    """
    return _PREFERRED_CHUNK.get(name, DEFAULT_CHUNK)


def preferred_min_chunk(name: str) -> int:
    """Smallest unpadded call for a model (see :func:`interp.backends.flax.batching.ladder_chunks`).

    Equal to :func:`preferred_chunk` (one padded tail call) except where copying the padded
    tail costs as much as the model: the perceptron splits the rest of an event into exact,
    in-place power-of-two slices down to 512 clusters instead.
    """
    return _PREFERRED_MIN_CHUNK.get(name, preferred_chunk(name))


def random_params(module: nn.Module, window: tuple[int, int] = (11, 20), seed: int = 0) -> Params:
    """Random parameters of the module's shapes without running ``init`` (seconds for ResNet).

    Kernels (ndim >= 2) ~ N(0, 1/fan_in), fan_in = prod(shape[:-1]); biases ~ N(0, 0.05^2).
    For tests and benchmarks; every leaf is non-zero (unlike ResNet's zero-init conv2).

    Args:
        module: Linen module.
        window: (P, T) input window.
        seed: numpy seed.

    Returns:
        Param tree of float32 numpy arrays.
    """
    x = jax.ShapeDtypeStruct((1, *window), jnp.float32)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), x)["params"]
    rng = np.random.default_rng(seed)

    def draw(s: jax.ShapeDtypeStruct) -> np.ndarray:
        if len(s.shape) >= 2:
            scale = 1.0 / np.sqrt(float(np.prod(s.shape[:-1])))
        else:
            scale = 0.05
        return (scale * rng.standard_normal(s.shape)).astype(np.float32)

    return jax.tree_util.tree_map(draw, shapes)


BACKENDS = ("auto", "jax", "onnx")
_PREFERRED_BACKEND = {"resnet": "onnx"}


def preferred_backend(name: str) -> str:
    """Inference backend ``"jax"`` or ``"onnx"`` chosen by ``backend="auto"`` for a model.

    ONNX Runtime is chosen for the ResNet only (measured 2.5-3x faster than XLA:CPU's
    convolutions on the 2-core VM, ``benchmarks/speed.py``), and only if it is installed;
    the perceptron and the banded split conv are faster in JAX.
    """
    choice = _PREFERRED_BACKEND.get(name, "jax")
    if choice == "onnx":
        import importlib.util

        if any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "onnx")):
            return "jax"
    return choice
