"""ONNX export (opset 17) of a trained :class:`FlaxClassifier`, preprocessing included.

A hand-written exporter with the ``onnx`` package: the model's file declares its graph
(``SPEC.onnx_graph``, which walks the linen parameter tree and emits standard ONNX ops, see
:mod:`models.onnx_graph`); a Flax model without one is converted from its traced forward pass
(:mod:`interp.backends.onnx.jaxpr`, for the common primitives: dense, convolution, relu...).
The file runs in ONNX Runtime from C++ or Python. A model neither path can convert fails with
:class:`UnsupportedModelError` instead of exporting something wrong.

Graph interface (batch dimension ``N`` is dynamic):

* input ``charge``: float32 [N, P, T], raw ADC (the preprocessing is part of the graph);
* output ``logits``: float32 [N, 2] (column 0 noise, 1 signal);
* output ``p_signal``: float32 [N], ``sigmoid(logit_1 - logit_0)`` = softmax P(signal).

Model metadata (``metadata_props``) holds the classifier's ``classifier.json`` content
(``classifier_json``) and, for an evaluated model, the validation operating point
(``threshold``: call signal when ``p_signal >= threshold``; a decimal string).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

import models
from interp.backends.onnx.preprocess import preprocess_nodes
from models.onnx_graph import Graph, UnsupportedModelError

OPSET = 17
INPUT = "charge"
OUTPUTS = ("logits", "p_signal")


def logits_nodes(g: Graph, classifier: Any, generic: bool = False) -> str:
    """Adds one Flax classifier's nodes to ``g``: raw ``charge`` [N, P, T] -> preprocessing ->
    logits [N, 2] (the model file's ONNX graph, or the generic converter when it has none or
    ``generic``); returns the logits' name.

    Raises:
        UnsupportedModelError: The params do not fit the converter, or a primitive the generic
            converter cannot express.
    """
    name = getattr(classifier, "name", None)
    pt = classifier.window
    params = _host_tree(classifier.params)
    builder = None if generic else models.spec_of(classifier.module).onnx_graph
    x = preprocess_nodes(g, INPUT, classifier.preprocessor)
    try:
        if builder is None:
            from interp.backends.onnx.jaxpr import jaxpr_graph

            return jaxpr_graph(g, x, params, classifier.module, pt)
        return builder(g, x, params, classifier.module, pt)
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"model '{name}' params do not fit its converter: {exc}"
        raise UnsupportedModelError(msg) from exc


def build_onnx(classifier: Any, generic: bool = False) -> onnx.ModelProto:
    """Builds the ONNX model of a trained Flax classifier (preprocessing included).

    Args:
        classifier: A :class:`~interp.backends.flax.classifier.FlaxClassifier`.
        generic: Use the generic converter (:mod:`interp.backends.onnx.jaxpr`) even when the
            model's file declares its own graph (to test one against the other).

    Returns:
        A checked ``onnx.ModelProto`` (opset 17, dynamic batch ``N``).

    Raises:
        UnsupportedModelError: Not a Flax classifier, or a model neither its graph builder
            nor the generic converter can export (unexpected params, unknown primitives).
    """
    name = getattr(classifier, "name", None)
    if getattr(classifier, "kind", None) != "flax" or getattr(classifier, "module", None) is None:
        raise UnsupportedModelError(
            f"cannot export model '{name}' (kind {getattr(classifier, 'kind', None)!r}) to "
            "ONNX; supported: Flax models (their SPEC.onnx_graph or the generic converter)"
        )
    pt = classifier.window
    g = Graph()
    z = logits_nodes(g, classifier, generic)
    g.nodes.append(helper.make_node("Identity", [z], [OUTPUTS[0]]))
    zero, one = g.const([0], "i0", np.int64), g.const([1], "i1", np.int64)
    two, ax = g.const([2], "i2", np.int64), g.const([1], "ax", np.int64)
    z0 = g.op("Slice", [OUTPUTS[0], zero, one, ax], "z0")
    z1 = g.op("Slice", [OUTPUTS[0], one, two, ax], "z1")
    diff = g.op("Squeeze", [g.op("Sub", [z1, z0]), ax], "diff")
    g.nodes.append(helper.make_node("Sigmoid", [diff], [OUTPUTS[1]]))
    return model_proto(g, f"tpc_interp_{name}", pt, classifier)


def model_proto(g: Graph, name: str, window: tuple[int, int], classifier: Any) -> onnx.ModelProto:
    """The checked ONNX model of a finished graph: input ``charge`` [N, P, T], outputs
    ``logits`` [N, 2] and ``p_signal`` [N], opset :data:`OPSET`, and the classifier's metadata
    (``classifier_json``, ``threshold`` when it has one) as model properties.

    Raises:
        onnx.checker.ValidationError: The graph is not a valid model.
    """
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", window[0], window[1]])],
        [
            helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, ["N"]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tpc-interp"
    )
    model.ir_version = 8  # opset 17 era; readable by ONNX Runtime >= 1.13
    props = {"classifier_json": json.dumps(classifier.metadata(), sort_keys=True)}
    threshold = getattr(classifier, "threshold", None)
    if threshold is not None:
        props["threshold"] = repr(float(threshold))
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(classifier: Any, out: str | Path) -> Path:
    """Writes ``classifier`` as an ONNX file (see :func:`build_onnx`).

    Args:
        classifier: A trained Flax classifier.
        out: Output path (``.onnx``); parent folders are created.

    Returns:
        The written path.
    """
    from interp.core.fsutil import atomic_write_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, build_onnx(classifier).SerializeToString())
    return out


def _host_tree(tree: Any) -> Any:
    """Param tree -> nested plain dicts of numpy arrays."""
    if hasattr(tree, "items"):
        return {str(k): _host_tree(v) for k, v in tree.items()}
    return np.asarray(tree)
