"""Generic ONNX graph of a Flax model without a hand-written one: its traced forward pass.

``module.apply`` is traced with a symbolic batch dimension (``jax.make_jaxpr`` with
``jax.export.symbolic_shape("N")``) and each primitive of the jaxpr becomes standard ONNX
nodes; the parameters become initialisers. Covered: dense and ``einsum``-like products
(``dot_general`` as ``MatMul``, else ``Einsum``), convolutions (``conv_general_dilated`` with
any layout, strides, explicit padding, dilation and groups), elementwise arithmetic and
activations
(relu, sigmoid, tanh, exp, log, ...), reshapes, transposes, broadcasts, slices, concatenation,
reductions and casts; nested calls (``jit``, ``custom_jvp_call``) are inlined. Anything else
raises :class:`~models.onnx_graph.UnsupportedModelError` naming the primitive (nothing wrong
is exported). Batch statistics and dropout are not involved: the model runs with
``train=False``.
"""

from __future__ import annotations

import string
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jax_core

from models.onnx_graph import Graph, UnsupportedModelError

_ELEMENTWISE = {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "max": "Max",
    "min": "Min",
    "pow": "Pow",
}
_UNARY = {
    "neg": "Neg",
    "exp": "Exp",
    "log": "Log",
    "tanh": "Tanh",
    "logistic": "Sigmoid",
    "sqrt": "Sqrt",
    "abs": "Abs",
    "erf": "Erf",
    "sign": "Sign",
    "floor": "Floor",
    "ceil": "Ceil",
    "copy": "Identity",
    "copy_p": "Identity",
    "stop_gradient": "Identity",
}
_REDUCE = {"reduce_sum": "ReduceSum", "reduce_max": "ReduceMax", "reduce_min": "ReduceMin"}


def _dims(shape: tuple[Any, ...], symbolic: int) -> list[int]:
    """A shape with the symbolic batch dimension (and expressions of it) as ``symbolic``."""
    return [int(d) if isinstance(d, int | np.integer) else symbolic for d in shape]


class _Converter:
    """Maps jaxpr variables to ONNX tensor names while emitting nodes into a :class:`Graph`."""

    def __init__(self, g: Graph) -> None:
        self.g = g
        self.env: dict[Any, str] = {}

    def read(self, v: Any) -> str:
        if isinstance(v, jax_core.Literal):
            return self.g.const(np.asarray(v.val, dtype=v.aval.dtype), "lit", v.aval.dtype)
        return self.env[v]

    def run(self, jaxpr: Any, consts: list[Any], args: list[str]) -> list[str]:
        for var, c in zip(jaxpr.constvars, consts, strict=True):
            self.env[var] = self.g.const(np.asarray(c), "const", np.asarray(c).dtype)
        for var, name in zip(jaxpr.invars, args, strict=True):
            self.env[var] = name
        for eqn in jaxpr.eqns:
            outs = self.eqn(eqn)
            for var, name in zip(eqn.outvars, outs, strict=True):
                self.env[var] = name
        return [self.read(v) for v in jaxpr.outvars]

    def eqn(self, eqn: Any) -> list[str]:
        g, prim, p = self.g, eqn.primitive.name, eqn.params
        ins = [self.read(v) for v in eqn.invars]
        out_aval = eqn.outvars[0].aval
        for key in ("jaxpr", "call_jaxpr"):
            sub = p.get(key)
            if sub is not None and prim in ("pjit", "jit", "closed_call", "custom_jvp_call"):
                return self.run(sub.jaxpr, list(sub.consts), ins)
        if prim in _ELEMENTWISE:
            return [g.op(_ELEMENTWISE[prim], ins)]
        if prim in _UNARY:
            return [g.op(_UNARY[prim], ins)]
        if prim == "rsqrt":
            return [g.op("Reciprocal", [g.op("Sqrt", ins)])]
        if prim == "square":
            return [g.op("Mul", [ins[0], ins[0]])]
        if prim == "integer_pow":
            y = int(p["y"])
            return [g.op("Pow", [ins[0], g.const(float(y), "exp", out_aval.dtype)])]
        if prim == "convert_element_type":
            return [self._cast(ins[0], p["new_dtype"])]
        if prim == "reshape":
            if sum(not isinstance(d, int | np.integer) for d in p["new_sizes"]) > 1:
                raise UnsupportedModelError("reshape with two batch-dependent dimensions")
            shape = g.const(_dims(p["new_sizes"], -1), "shape", np.int64)
            return [g.op("Reshape", [ins[0], shape])]
        if prim == "squeeze":
            return [g.op("Squeeze", [ins[0], g.const(list(p["dimensions"]), "ax", np.int64)])]
        if prim == "expand_dims":
            return [g.op("Unsqueeze", [ins[0], g.const(list(p["dimensions"]), "ax", np.int64)])]
        if prim == "transpose":
            return [g.op("Transpose", ins, perm=[int(a) for a in p["permutation"]])]
        if prim == "broadcast_in_dim":
            return [self._broadcast(eqn, ins[0])]
        if prim in _REDUCE:
            return [self._reduce(_REDUCE[prim], ins[0], p["axes"])]
        if prim == "dot_general":
            return [self._dot(eqn, ins)]
        if prim == "conv_general_dilated":
            return [self._conv(eqn, ins)]
        if prim == "concatenate":
            return [g.op("Concat", ins, axis=int(p["dimension"]))]
        if prim == "slice":
            return [self._slice(eqn, ins[0])]
        if prim == "select_n":
            if len(ins) != 3:
                raise UnsupportedModelError("select_n with more than two cases")
            cond = self._cast(ins[0], np.bool_)
            return [g.op("Where", [cond, ins[2], ins[1]])]
        if prim in ("gt", "lt", "ge", "le", "eq"):
            op = {"gt": "Greater", "lt": "Less", "ge": "GreaterOrEqual", "le": "LessOrEqual"}
            return [g.op(op.get(prim, "Equal"), ins)]
        raise UnsupportedModelError(f"the generic ONNX converter has no rule for '{prim}'")

    def _cast(self, x: str, dtype: Any) -> str:
        from onnx import helper

        onnx_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.g.op("Cast", [x], to=onnx_type)

    def _broadcast(self, eqn: Any, x: str) -> str:
        g, p = self.g, eqn.params
        in_shape = eqn.invars[0].aval.shape
        shape, bdims = p["shape"], p["broadcast_dimensions"]
        aligned = [1] * len(shape)
        for i, d in enumerate(bdims):
            aligned[d] = in_shape[i]
        y = g.op("Reshape", [x, g.const(_dims(tuple(aligned), -1), "shape", np.int64)])
        # Expand broadcasts bidirectionally: 1 keeps the input's (batch) dimension
        return g.op("Expand", [y, g.const(_dims(shape, 1), "shape", np.int64)])

    def _reduce(self, op: str, x: str, axes: tuple[int, ...]) -> str:
        axes_list = [int(a) for a in axes]
        if op == "ReduceSum":  # opset 13+: axes as an input
            return self.g.op(op, [x, self.g.const(axes_list, "ax", np.int64)], keepdims=0)
        return self.g.op(op, [x], axes=axes_list, keepdims=0)

    def _dot(self, eqn: Any, ins: list[str]) -> str:
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        nl, nr = len(eqn.invars[0].aval.shape), len(eqn.invars[1].aval.shape)
        if not lb and tuple(lc) == (nl - 1,) and tuple(rc) == (0,) and nr == 2:
            return self.g.op("MatMul", ins, "dot")  # a dense layer (quantizable as int8)
        letters = iter(string.ascii_letters)
        lhs, rhs = [""] * nl, [""] * nr
        for a, b in zip(lb, rb, strict=True):
            lhs[a] = rhs[b] = next(letters)
        for a, b in zip(lc, rc, strict=True):
            lhs[a] = rhs[b] = next(letters)
        for i in range(nl):
            lhs[i] = lhs[i] or next(letters)
        for i in range(nr):
            rhs[i] = rhs[i] or next(letters)
        batch = [lhs[a] for a in lb]
        free_l = [lhs[i] for i in range(nl) if i not in lb and i not in lc]
        free_r = [rhs[i] for i in range(nr) if i not in rb and i not in rc]
        eq = f"{''.join(lhs)},{''.join(rhs)}->{''.join(batch + free_l + free_r)}"
        return self.g.op("Einsum", ins, "dot", equation=eq)

    def _conv(self, eqn: Any, ins: list[str]) -> str:
        g, p = self.g, eqn.params
        dn = p["dimension_numbers"]
        if any(int(d) != 1 for d in p["lhs_dilation"]):
            raise UnsupportedModelError("transposed convolutions (lhs_dilation != 1)")
        if int(p.get("batch_group_count", 1)) != 1:
            raise UnsupportedModelError("convolutions with batch_group_count != 1")
        lhs = g.op("Transpose", [ins[0]], perm=[int(a) for a in dn.lhs_spec])
        rhs = g.op("Transpose", [ins[1]], perm=[int(a) for a in dn.rhs_spec])
        pads = [int(lo) for lo, _ in p["padding"]] + [int(hi) for _, hi in p["padding"]]
        y = g.op(
            "Conv",
            [lhs, rhs],
            "conv",
            strides=[int(s) for s in p["window_strides"]],
            pads=pads,
            dilations=[int(d) for d in p["rhs_dilation"]],
            group=int(p["feature_group_count"]),
        )  # out in (N, C, spatial...) order
        inverse = [0] * len(dn.out_spec)
        for i, a in enumerate(dn.out_spec):
            inverse[int(a)] = i
        return g.op("Transpose", [y], perm=inverse)

    def _slice(self, eqn: Any, x: str) -> str:
        g, p = self.g, eqn.params
        big = np.iinfo(np.int64).max
        starts = [int(s) for s in p["start_indices"]]
        ends = [int(e) if isinstance(e, int | np.integer) else big for e in p["limit_indices"]]
        steps = [int(s) for s in (p["strides"] or [1] * len(starts))]
        axes = list(range(len(starts)))
        args = [starts, ends, axes, steps]
        return g.op("Slice", [x, *(g.const(a, "s", np.int64) for a in args)])


def jaxpr_graph(g: Graph, x: str, params: Any, module: Any, pt: tuple[int, int]) -> str:
    """ONNX nodes of ``module.apply({"params": params}, x, train=False)``.

    Args:
        g: Graph to append to.
        x: Name of the preprocessed input, float32 [N, P, T].
        params: Parameter tree (numpy arrays).
        module: The linen module.
        pt: Window (P, T).

    Returns:
        Name of the float32 logits [N, C].

    Raises:
        UnsupportedModelError: A primitive without a rule.
    """
    from jax import export

    (n,) = export.symbolic_shape("N")

    def forward(p: Any, inputs: jax.Array) -> jax.Array:
        return module.apply({"params": p}, inputs, train=False).astype(jnp.float32)

    leaves, tree = jax.tree_util.tree_flatten(params)
    shapes = jax.tree_util.tree_unflatten(
        tree, [jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype) for a in leaves]
    )
    closed = jax.make_jaxpr(forward)(shapes, jax.ShapeDtypeStruct((n, *pt), jnp.float32))
    conv = _Converter(g)
    names = [g.const(np.asarray(a), "param", np.asarray(a).dtype) for a in leaves]
    (out,) = conv.run(closed.jaxpr, list(closed.consts), [*names, x])
    return out
