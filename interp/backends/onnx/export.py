"""ONNX export (opset 17) of a trained :class:`FlaxClassifier`, preprocessing included.

A hand-written exporter with the ``onnx`` package: it walks the linen parameter tree of the
registered models (``perceptron``, ``split_conv``, ``resnet``; any config of their dataclass
fields) and emits standard ONNX ops, so the file runs in ONNX Runtime from C++ or Python.
Unknown models fail with :class:`UnsupportedModelError` instead of exporting something wrong.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from interp.backends.flax.fast import same_pads
from interp.backends.onnx.preprocess import preprocess_nodes
from interp.core.errors import TPCInterpError
from interp.data.preprocess import Preprocessor

OPSET = 17
INPUT = "charge"
OUTPUTS = ("logits", "p_signal")


class UnsupportedModelError(TPCInterpError):
    """The model has no ONNX converter (or its parameters do not have the expected layout)."""


class _Graph:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _arr(tree: Any, *path: str) -> np.ndarray:
    node = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise UnsupportedModelError(f"parameter '{'/'.join(path)}' not found in the model")
        node = node[key]
    return np.asarray(node, dtype=np.float32)


def _preprocess(g: _Graph, x: str, pre: Preprocessor) -> str:
    """Preprocessing nodes: [N, P, T] raw ADC -> [N, P, T] model input."""
    return preprocess_nodes(g, x, pre)


def _dense(g: _Graph, x2d: str, p: Any, kernel: np.ndarray | None = None) -> str:
    """Gemm with a Flax Dense (kernel [in, out], bias [out])."""
    k = _arr(p, "kernel") if kernel is None else kernel
    return g.op("Gemm", [x2d, g.const(k, "w"), g.const(_arr(p, "bias"), "b")], "dense")


def _conv(g: _Graph, x: str, p: Any, hw: tuple[int, int], stride: int = 1) -> tuple[str, tuple]:
    """NCHW Conv with a Flax ``nn.Conv`` (kernel [kh, kw, in, out]) and "SAME" padding.

    Returns:
        Output name and its spatial shape (H', W').
    """
    k = _arr(p, "kernel")
    if k.ndim != 4:
        raise UnsupportedModelError(f"expected a 2-D conv kernel, got shape {k.shape}")
    kh, kw = int(k.shape[0]), int(k.shape[1])
    (t, b), (lft, r) = same_pads(hw[0], kh, stride), same_pads(hw[1], kw, stride)
    w = g.const(np.transpose(k, (3, 2, 0, 1)), "w")  # [out, in, kh, kw]
    y = g.op(
        "Conv",
        [x, w, g.const(_arr(p, "bias"), "b")],
        "conv",
        kernel_shape=[kh, kw],
        strides=[stride, stride],
        pads=[t, lft, b, r],
    )
    return y, (-(-hw[0] // stride), -(-hw[1] // stride))


def _perceptron(g: _Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    flat = g.op("Reshape", [x, g.const([-1, pt[0] * pt[1]], "shape", np.int64)], "flat")
    return _dense(g, flat, params["dense"])


def _split_conv(g: _Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    P, T = pt
    x4 = g.op("Unsqueeze", [x, g.const([1], "axes", np.int64)], "nchw")
    branches = []
    for name in ("pad_conv", "time_conv"):
        y, _ = _conv(g, x4, params[name], pt)
        branches.append(g.op("Relu", [y]))
    cat = g.op("Concat", branches, "concat", axis=1)  # [N, 2F, P, T]
    flat = g.op("Flatten", [cat], "flat", axis=1)
    # Flax flattens [P, T, 2F]; permute the dense rows to the NCHW order [2F, P, T].
    k = _arr(params, "dense", "kernel")
    c2 = k.shape[0] // (P * T)
    k_nchw = k.reshape(P, T, c2, -1).transpose(2, 0, 1, 3).reshape(k.shape[0], -1)
    return _dense(g, flat, params["dense"], kernel=k_nchw)


def _resnet(g: _Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    h = g.op("Unsqueeze", [x, g.const([1], "axes", np.int64)], "nchw")
    h, hw = _conv(g, h, params["stem_conv"], pt)
    h = g.op("Relu", [h])
    c_in = int(_arr(params, "stem_conv", "kernel").shape[-1])
    for i, (f, s) in enumerate(zip(module.block_features, module.block_strides, strict=True)):
        bp = params.get(f"res_block{i + 1}")
        if bp is None:
            raise UnsupportedModelError(f"resnet params lack 'res_block{i + 1}'")
        a, hw2 = _conv(g, h, bp["conv1"], hw, int(s))
        a, _ = _conv(g, g.op("Relu", [a]), bp["conv2"], hw2)
        short = h
        if int(s) != 1 or c_in != int(f):
            short, _ = _conv(g, h, bp["proj"], hw, int(s))
        h, hw, c_in = g.op("Relu", [g.op("Add", [a, short])]), hw2, int(f)
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [h])], "pooled", axis=1)
    return _dense(g, pooled, params["dense"])


CONVERTERS: dict[str, Callable[..., str]] = {
    "perceptron": _perceptron,
    "split_conv": _split_conv,
    "resnet": _resnet,
}
"""Model registry name -> graph builder ``(graph, x, params, module, (P, T)) -> logits``."""


def build_onnx(classifier: Any) -> onnx.ModelProto:
    """Builds the ONNX model of a trained Flax classifier (preprocessing included).

    Args:
        classifier: A :class:`~interp.backends.flax.classifier.FlaxClassifier`.

    Returns:
        A checked ``onnx.ModelProto`` (opset 17, dynamic batch ``N``).

    Raises:
        UnsupportedModelError: No converter for ``classifier.name`` or unexpected params.
    """
    name = getattr(classifier, "name", None)
    if getattr(classifier, "kind", None) != "flax" or name not in CONVERTERS:
        raise UnsupportedModelError(
            f"cannot export model '{name}' (kind {getattr(classifier, 'kind', None)!r}) to "
            f"ONNX; supported Flax models: {sorted(CONVERTERS)}"
        )
    pt = classifier.window
    params = _host_tree(classifier.params)
    g = _Graph()
    x = _preprocess(g, INPUT, classifier.preprocessor)
    try:
        z = CONVERTERS[name](g, x, params, classifier.module, pt)
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"model '{name}' params do not fit its converter: {exc}"
        raise UnsupportedModelError(msg) from exc
    g.nodes.append(helper.make_node("Identity", [z], [OUTPUTS[0]]))
    zero, one = g.const([0], "i0", np.int64), g.const([1], "i1", np.int64)
    two, ax = g.const([2], "i2", np.int64), g.const([1], "ax", np.int64)
    z0 = g.op("Slice", [OUTPUTS[0], zero, one, ax], "z0")
    z1 = g.op("Slice", [OUTPUTS[0], one, two, ax], "z1")
    diff = g.op("Squeeze", [g.op("Sub", [z1, z0]), ax], "diff")
    g.nodes.append(helper.make_node("Sigmoid", [diff], [OUTPUTS[1]]))
    graph = helper.make_graph(
        g.nodes,
        f"tpc_interp_{name}",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", pt[0], pt[1]])],
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
    meta = json.dumps(classifier.metadata(), sort_keys=True)
    props = {"classifier_json": meta}
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
