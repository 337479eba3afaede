"""ONNX form of the preprocessing: graph nodes rendered from its steps.

The steps are :data:`interp.data.preprocess.STEPS` (one definition for the numpy, JAX and
ONNX forms); each elementary op becomes one or a few standard ONNX ops (opset 17). Constants
enter as float32 initialisers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from interp.data.preprocess import Preprocessor, float32_constants, method_steps


class GraphBuilder(Protocol):
    """What the renderer needs of a graph under construction (names are made unique)."""

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        """Adds an initialiser; returns its name."""

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        """Adds a node with one output; returns the output's name."""


def _maximum(g: GraphBuilder, x: str, c: Any, hint: str | None) -> str:
    return g.op("Max", [x, g.const(c)], hint)


def _log1p(g: GraphBuilder, x: str, c: Any, hint: str | None) -> str:
    return g.op("Log", [g.op("Add", [x, g.const(1.0)])], hint)


def _sub(g: GraphBuilder, x: str, c: Any, hint: str | None) -> str:
    return g.op("Sub", [x, g.const(c)], hint)


def _div(g: GraphBuilder, x: str, c: Any, hint: str | None) -> str:
    return g.op("Div", [x, g.const(c)], hint)


def _div_by_peak(g: GraphBuilder, x: str, c: Any, hint: str | None) -> str:
    peak = g.op("ReduceMax", [x], "peak", axes=[1, 2], keepdims=1)
    return g.op("Div", [x, g.op("Max", [peak, g.const(c)])], hint)


ONNX_OPS: dict[str, Callable[[GraphBuilder, str, Any, str | None], str]] = {
    "maximum": _maximum,
    "log1p": _log1p,
    "sub": _sub,
    "div": _div,
    "div_by_peak": _div_by_peak,
}
"""Elementary op (:data:`interp.data.preprocess.OPS`) -> node builder
``(graph, x, operand, output hint) -> output name``."""


def preprocess_nodes(g: GraphBuilder, x: str, pre: Preprocessor) -> str:
    """Adds the nodes of ``pre`` to ``g``.

    Args:
        g: The graph (e.g. the exporter's).
        x: Name of the float32 [N, P, T] raw ADC input.
        pre: Fitted preprocessor.

    Returns:
        Name of the float32 [N, P, T] model input (the last node's output, hint ``pre``).

    Raises:
        UnknownNameError: Unknown preprocessing method.
    """
    steps = method_steps(pre.method)
    consts = float32_constants(pre)
    for i, step in enumerate(steps):
        operand = consts[step.operand] if isinstance(step.operand, str) else step.operand
        x = ONNX_OPS[step.op](g, x, operand, "pre" if i == len(steps) - 1 else None)
    return x
