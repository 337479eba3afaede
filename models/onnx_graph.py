"""Helpers the models' ONNX graph builders use (``onnx`` is imported lazily, when a graph is
built, so model files stay importable without it).

A builder is ``onnx_graph(g, x, params, module, (P, T)) -> name`` (see
:class:`models.contract.ModelSpec`): it appends nodes to ``g`` (a :class:`Graph`) that map the
preprocessed input ``x`` [N, P, T] to the logits [N, C], reading the linen parameter tree
``params`` (nested dicts of numpy arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interp.core.errors import TPCInterpError
from models.ops import same_pads


class UnsupportedModelError(TPCInterpError):
    """The model has no ONNX graph (or its parameters do not have the expected layout)."""


class Graph:
    """Accumulates ONNX nodes and initialisers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def name(self, hint: str) -> str:
        """A fresh tensor name ``<hint>_<k>``."""
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        """Adds an initialiser (``dtype`` array of ``value``); returns its name."""
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        """Adds one single-output node; returns the output name."""
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def arr(tree: Any, *path: str) -> np.ndarray:
    """``tree[path[0]][path[1]]...`` as float32; :class:`UnsupportedModelError` if missing."""
    node = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise UnsupportedModelError(f"parameter '{'/'.join(path)}' not found in the model")
        node = node[key]
    return np.asarray(node, dtype=np.float32)


def dense(g: Graph, x2d: str, p: Any, kernel: np.ndarray | None = None) -> str:
    """Gemm with a Flax Dense (kernel [in, out], bias [out]) on a 2-D input [N, in]."""
    k = arr(p, "kernel") if kernel is None else kernel
    return g.op("Gemm", [x2d, g.const(k, "w"), g.const(arr(p, "bias"), "b")], "dense")


def conv(g: Graph, x: str, p: Any, hw: tuple[int, int], stride: int = 1) -> tuple[str, tuple]:
    """NCHW Conv with a Flax ``nn.Conv`` (kernel [kh, kw, in, out]) and "SAME" padding.

    Returns:
        Output name and its spatial shape (H', W').
    """
    k = arr(p, "kernel")
    if k.ndim != 4:
        raise UnsupportedModelError(f"expected a 2-D conv kernel, got shape {k.shape}")
    kh, kw = int(k.shape[0]), int(k.shape[1])
    (t, b), (lft, r) = same_pads(hw[0], kh, stride), same_pads(hw[1], kw, stride)
    w = g.const(np.transpose(k, (3, 2, 0, 1)), "w")  # [out, in, kh, kw]
    y = g.op(
        "Conv",
        [x, w, g.const(arr(p, "bias"), "b")],
        "conv",
        kernel_shape=[kh, kw],
        strides=[stride, stride],
        pads=[t, lft, b, r],
    )
    return y, (-(-hw[0] // stride), -(-hw[1] // stride))


def unsqueeze_channel(g: Graph, x: str) -> str:
    """[N, P, T] -> [N, 1, P, T] (NCHW with one channel)."""
    return g.op("Unsqueeze", [x, g.const([1], "axes", np.int64)], "nchw")


INT8_DIGIT = 64
"""Largest |digit| of :func:`int8_digits`. A uint8 x int8 pair of products then sums to at
most 2 * 255 * 64 = 32,640 < 2**15, so ONNX Runtime's AVX2 integer kernels, which add pairs
of products in saturating int16, are exact too (VNNI kernels accumulate in int32 anyway)."""
DIGIT_RADIX = 128
"""Ratio of consecutive digit scales of :func:`int8_digits`."""


def int8_digits(w: np.ndarray, digits: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A float matrix as a sum of int8 matrices: ``w ~= sum_k scales[k] * d_k``.

    Balanced digits, |d_k| <= :data:`INT8_DIGIT`, ``scales[k] = max|w| / 64 / 128**k``; each
    digit takes the rounded remainder of the ones before, so the error is at most
    ``max|w| / (2 * 64 * 128**(digits - 1))`` (4 digits: 3.7e-9 of max|w|, below float32's
    own rounding of a 220-term sum).

    Args:
        w: float [K, C].
        digits: Number of int8 matrices.

    Returns:
        ``(d, scales)``: int8 [K, digits * C] (digit k in columns ``k*C:(k+1)*C``) and
        float64 [digits].
    """
    w = np.asarray(w, np.float64)
    top = float(np.abs(w).max())
    scale = (top if top > 0 else 1.0) / INT8_DIGIT
    rest, parts, scales = w, [], []
    for _ in range(int(digits)):
        d = np.clip(np.rint(rest / scale), -INT8_DIGIT, INT8_DIGIT)
        parts.append(d.astype(np.int8))
        scales.append(scale)
        rest, scale = rest - d * scale, scale / DIGIT_RADIX
    return np.concatenate(parts, axis=1), np.asarray(scales)


def uint8_matmul_t(g: Graph, x2d: str, w: np.ndarray, digits: int = 4) -> str:
    """``(x @ w)^T`` for uint8 ``x`` [N, K] from exact integer products (ONNX Runtime's
    ``MatMulInteger`` on the 8-bit input; no float32 copy of ``x`` is made).

    ``x @ d_k`` is exact in int32 for the :func:`int8_digits` of ``w`` and exact in float32 while
    ``K * 255 * 64 < 2**24`` (K <= 1,028); the digits are then combined by one float matmul.
    The result is transposed, [C, N]: per-cluster factors broadcast along its long last axis,
    which ONNX Runtime runs at memory speed (dividing [N, 2] by [N, 1] took ~0.9 ms per event
    against ~0.05 ms for [2, N] by [N] on the 2-core VM).

    Args:
        g: The graph.
        x2d: Name of a uint8 [N, K] tensor.
        w: float [K, C].
        digits: See :func:`int8_digits`.

    Returns:
        Name of the float32 [C, N] product.
    """
    from onnx import TensorProto

    d, scales = int8_digits(w, digits)
    c = int(np.asarray(w).shape[1])
    combine = np.zeros((c, d.shape[1]), np.float64)  # [C, digits*C]: digit k of column j
    for k, s in enumerate(scales):
        combine[np.arange(c), k * c + np.arange(c)] = s
    ints = g.op("MatMulInteger", [x2d, g.const(d, "digits", np.int8)], "int_products")
    floats = g.op("Cast", [ints], "products", to=TensorProto.FLOAT)
    rows = g.op("Transpose", [floats], "products_t", perm=[1, 0])
    return g.op("MatMul", [g.const(combine, "digit_scales"), rows], "matmul_t")
