"""ONNX export (opset 17) of a trained :class:`FlaxClassifier`, preprocessing included.

A hand-written exporter with the ``onnx`` package: the model's file declares its graph
(``SPEC.onnx_graph``, which walks the linen parameter tree and emits standard ONNX ops, see
:mod:`models.onnx_graph`); a Flax model without one is converted from its traced forward pass
(:mod:`interp.backends.onnx.jaxpr`, for the common primitives: dense, convolution, relu...).
The file runs in ONNX Runtime from C++ or Python. A model neither path can convert fails with
:class:`UnsupportedModelError` instead of exporting something wrong.

Graph interface (batch dimension ``N`` is dynamic):

* input ``charge``: float32 [N, P, T], raw ADC (the preprocessing is part of the graph), or
  uint8 [N, P, T] for ``input_dtype="uint8"`` (an 8-bit ADC as a ClusterSet keeps it: 4x fewer
  bytes; the model's ``SPEC.onnx_uint8_graphs`` graph for its preprocessing, e.g. the
  perceptron's exact integer matmul, else a cast to float32 in front of the float graph);
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
INPUT_DTYPES = ("float32", "uint8")
"""Element types of the ``charge`` input (:func:`build_onnx`)."""
_ONNX_TYPES = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8}


def logits_nodes(
    g: Graph, classifier: Any, generic: bool = False, input_dtype: str = "float32"
) -> str:
    """Adds one Flax classifier's nodes to ``g``: raw ``charge`` [N, P, T] -> preprocessing ->
    logits [N, 2] (the model file's ONNX graph, or the generic converter when it has none or
    ``generic``); returns the logits' name.

    Args:
        g: The graph.
        classifier: A Flax classifier.
        generic: See :func:`build_onnx`.
        input_dtype: One of :data:`INPUT_DTYPES`: the element type of ``charge``.

    Raises:
        UnsupportedModelError: The params do not fit the converter, or a primitive the generic
            converter cannot express.
    """
    name = getattr(classifier, "name", None)
    pt = classifier.window
    params = _host_tree(classifier.params)
    spec = models.spec_of(classifier.module)
    builder = None if generic else spec.onnx_graph
    x = INPUT
    if input_dtype == "uint8":
        raw = None if generic else spec.onnx_uint8_graphs.get(classifier.preprocessor.method)
        if raw is not None:  # the preprocessing is part of the model's uint8 graph
            return _converted(name, lambda: raw(g, INPUT, params, classifier.module, pt))
        x = g.op("Cast", [INPUT], "charge_f32", to=TensorProto.FLOAT)
    x = preprocess_nodes(g, x, classifier.preprocessor)

    def nodes() -> str:
        if builder is None:
            from interp.backends.onnx.jaxpr import jaxpr_graph

            return jaxpr_graph(g, x, params, classifier.module, pt)
        return builder(g, x, params, classifier.module, pt)

    return _converted(name, nodes)


def _converted(name: Any, build: Any) -> str:
    """``build()``, with a params layout the converter does not expect reported as
    :class:`UnsupportedModelError` naming the model."""
    try:
        return build()
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"model '{name}' params do not fit its converter: {exc}"
        raise UnsupportedModelError(msg) from exc


def build_onnx(
    classifier: Any, generic: bool = False, input_dtype: str = "float32"
) -> onnx.ModelProto:
    """Builds the ONNX model of a trained Flax classifier (preprocessing included).

    Args:
        classifier: A :class:`~interp.backends.flax.classifier.FlaxClassifier`.
        generic: Use the generic converter (:mod:`interp.backends.onnx.jaxpr`) even when the
            model's file declares its own graph (to test one against the other).
        input_dtype: Element type of the ``charge`` input, one of :data:`INPUT_DTYPES`.

    Returns:
        A checked ``onnx.ModelProto`` (opset 17, dynamic batch ``N``).

    Raises:
        UnsupportedModelError: Not a Flax classifier, or a model neither its graph builder
            nor the generic converter can export (unexpected params, unknown primitives).
    """
    name = getattr(classifier, "name", None)
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {INPUT_DTYPES}, got '{input_dtype}'")
    if getattr(classifier, "kind", None) != "flax" or getattr(classifier, "module", None) is None:
        raise UnsupportedModelError(
            f"cannot export model '{name}' (kind {getattr(classifier, 'kind', None)!r}) to "
            "ONNX; supported: Flax models (their SPEC.onnx_graph or the generic converter)"
        )
    pt = classifier.window
    g = Graph()
    z = logits_nodes(g, classifier, generic, input_dtype)
    g.nodes.append(helper.make_node("Identity", [z], [OUTPUTS[0]]))
    zero, one = g.const([0], "i0", np.int64), g.const([1], "i1", np.int64)
    two, ax = g.const([2], "i2", np.int64), g.const([1], "ax", np.int64)
    z0 = g.op("Slice", [OUTPUTS[0], zero, one, ax], "z0")
    z1 = g.op("Slice", [OUTPUTS[0], one, two, ax], "z1")
    diff = g.op("Squeeze", [g.op("Sub", [z1, z0]), ax], "diff")
    g.nodes.append(helper.make_node("Sigmoid", [diff], [OUTPUTS[1]]))
    return model_proto(g, f"tpc_interp_{name}", pt, classifier, input_dtype)


def model_proto(
    g: Graph, name: str, window: tuple[int, int], classifier: Any, input_dtype: str = "float32"
) -> onnx.ModelProto:
    """The checked ONNX model of a finished graph: input ``charge`` [N, P, T] (``input_dtype``,
    one of :data:`INPUT_DTYPES`), outputs ``logits`` [N, 2] and ``p_signal`` [N], opset
    :data:`OPSET`, and the classifier's metadata (``classifier_json``, ``threshold`` when it has
    one) as model properties.

    Raises:
        onnx.checker.ValidationError: The graph is not a valid model.
    """
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(INPUT, _ONNX_TYPES[input_dtype], ["N", *window])],
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


def export_onnx(classifier: Any, out: str | Path, input_dtype: str = "float32") -> Path:
    """Writes ``classifier`` as an ONNX file (see :func:`build_onnx`).

    Args:
        classifier: A trained Flax classifier.
        out: Output path (``.onnx``); parent folders are created.
        input_dtype: Element type of the ``charge`` input (:data:`INPUT_DTYPES`).

    Returns:
        The written path.
    """
    from interp.core.fsutil import atomic_write_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, build_onnx(classifier, input_dtype=input_dtype).SerializeToString())
    return out


def _host_tree(tree: Any) -> Any:
    """Param tree -> nested plain dicts of numpy arrays."""
    if hasattr(tree, "items"):
        return {str(k): _host_tree(v) for k, v in tree.items()}
    return np.asarray(tree)
