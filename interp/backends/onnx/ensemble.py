"""ONNX export (opset 17) of an ensemble of Flax classifiers as one graph.

Each member's graph (its preprocessing and its model, as :func:`interp.backends.onnx.export.
build_onnx` builds them) is emitted into the same graph with tensor names prefixed
``m<i>_``; every member's ``sigmoid(logit_1 - logit_0)`` is multiplied by its weight and the
products summed. Graph interface as a single model's:

* input ``charge``: float32 [N, P, T], raw ADC;
* output ``p_signal``: float32 [N], the weighted mean of the members' P(signal);
* output ``logits``: float32 [N, 2], ``[0, log(p) - log(1 - p)]`` with ``p`` clipped to
  [1e-7, 1 - 1e-7], so ``sigmoid(logit_1 - logit_0)`` gives ``p_signal`` back (for
  consumers of a single model's interface).

Model metadata: ``classifier_json`` (the ensemble's ``classifier.json``) and ``threshold``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from interp.backends.onnx.export import OUTPUTS, logits_nodes, model_proto
from models.onnx_graph import Graph, UnsupportedModelError

P_CLIP = 1e-7
"""Clip of p in the ``logits`` output (``p_signal`` itself is not clipped)."""


class PrefixedGraph(Graph):
    """A :class:`Graph` whose fresh tensor names start with :attr:`prefix` (one per member)."""

    prefix = ""

    def name(self, hint: str) -> str:
        return self.prefix + super().name(hint)


def _member_p(g: PrefixedGraph, member: Any) -> str:
    """Nodes of one Flax member: raw ``charge`` -> its P(signal) [N]; returns the name."""
    name = getattr(member, "name", None)
    if getattr(member, "kind", None) != "flax" or getattr(member, "module", None) is None:
        raise UnsupportedModelError(
            f"cannot export an ensemble member '{name}' (kind {getattr(member, 'kind', None)!r})"
            " to ONNX; supported: ensembles of Flax members"
        )
    z = logits_nodes(g, member)
    zero, one = g.const([0], "i0", np.int64), g.const([1], "i1", np.int64)
    two, ax = g.const([2], "i2", np.int64), g.const([1], "ax", np.int64)
    z0 = g.op("Slice", [z, zero, one, ax], "z0")
    z1 = g.op("Slice", [z, one, two, ax], "z1")
    diff = g.op("Squeeze", [g.op("Sub", [z1, z0]), ax], "diff")
    return g.op("Sigmoid", [diff], "p")


def build_ensemble_onnx(ensemble: Any) -> onnx.ModelProto:
    """One ONNX model holding every member and the weighted mean (see module docstring).

    Args:
        ensemble: An :class:`~interp.backends.ensemble.EnsembleClassifier` of Flax members.

    Returns:
        A checked ``onnx.ModelProto`` (opset 17, dynamic batch ``N``).

    Raises:
        UnsupportedModelError: A member that is not a Flax model or cannot be converted.
    """
    g = PrefixedGraph()
    terms = []
    for i, (member, w) in enumerate(zip(ensemble.members, ensemble.weights, strict=True)):
        g.prefix = f"m{i}_"
        p = _member_p(g, member)
        terms.append(g.op("Mul", [p, g.const(np.float32(w), "w")], "wp"))
    g.prefix = "ens_"
    g.nodes.append(helper.make_node("Sum", terms, [OUTPUTS[1]]))
    pc = g.op("Clip", [OUTPUTS[1], g.const(np.float32(P_CLIP)), g.const(np.float32(1 - P_CLIP))])
    one = g.const(np.float32(1.0))
    logit = g.op("Sub", [g.op("Log", [pc]), g.op("Log", [g.op("Sub", [one, pc])])], "logit")
    logit = g.op("Unsqueeze", [logit, g.const([1], "ax", np.int64)], "logit2")
    zeros = g.op("Mul", [logit, g.const(np.float32(0.0))], "zeros")
    g.nodes.append(helper.make_node("Concat", [zeros, logit], [OUTPUTS[0]], axis=1))
    return model_proto(g, f"tpc_interp_ensemble_{ensemble.name}", ensemble.window, ensemble)


def export_ensemble_onnx(ensemble: Any, out: str | Path) -> Path:
    """Writes :func:`build_ensemble_onnx` of ``ensemble`` to ``out`` (atomically)."""
    from interp.core.fsutil import atomic_write_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, build_ensemble_onnx(ensemble).SerializeToString())
    return out
