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
