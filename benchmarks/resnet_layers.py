"""The ResNet layer by layer: the JAX path's formulation against XLA's plain convolution and
ONNX Runtime, on the same inputs, interleaved in one run.

Why the ResNet's own JAX path stays below ONNX Runtime on CPU (issue 15): this times every
convolution of the network on the activations a real batch produces at that layer, as

* ``jax``: the form the toolkit's JAX path runs (:func:`models.ops.conv_hybrid`: shifted
  multiply-adds for the 1-channel stem, a strided slice + matmul for 1x1 projections, one dense
  matmul on grids of <= ``DENSE_MAX_POSITIONS`` outputs, else XLA's convolution), with the ReLU
  where the network has one;
* ``xla_conv``: ``jax.lax.conv_general_dilated`` (what ``module.apply`` runs);
* ``onnxruntime``: the same layer as one ONNX ``Conv`` (+ ``Relu``) node in NCHW, run by ONNX
  Runtime's CPU provider with the toolkit's session options (2 threads, no spinning); its
  layout reorders to NCHWc are inside the node's time, so this is a conservative figure for
  ONNX Runtime (in the whole graph they happen once).

Each path is the median over ``--repeats`` interleaved repeats of a block of back-to-back calls.
Results: ``benchmarks/results/resnet_layers.{json,md}``.

Usage::

    python benchmarks/resnet_layers.py [--run out/matrix/<hash>/runs/resnet/VTPC2]
        [--batch 512] [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from benchmarks.timing import block_seconds, inner_calls  # noqa: E402
from interp.backends.classifier import load_classifier  # noqa: E402
from interp.backends.flax.random_params import random_params  # noqa: E402
from interp.core.fsutil import atomic_write_text  # noqa: E402
from interp.data.preprocess import fit_preprocessor  # noqa: E402
from interp.data.simulator import simulate  # noqa: E402
from interp.report.provenance import cpu_model, git_commit, source_checkout  # noqa: E402
from models.ops import conv_hybrid, same_pads  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def layers(module: Any, params: Any, x: np.ndarray) -> list[dict[str, Any]]:
    """Every convolution of the ResNet with the input it sees for the batch ``x``.

    Args:
        module: A ``models.resnet.ResNet``.
        params: Its parameter tree.
        x: Preprocessed windows, float32 [B, P, T].

    Returns:
        ``{"name", "x" [B, H, W, C], "kernel" [kh, kw, C, F], "bias" [F], "stride", "relu"}``
        in network order (the block's second conv and projection have no ReLU of their own).
    """
    out = []

    def add(name: str, h: jax.Array, p: Any, stride: int, relu: bool) -> jax.Array:
        out.append({"name": name, "x": np.asarray(h), "kernel": np.asarray(p["kernel"]),
                    "bias": np.asarray(p["bias"]), "stride": stride, "relu": relu})  # fmt: skip
        y = conv_hybrid(h, p["kernel"], p["bias"], stride)
        return jax.nn.relu(y) if relu else y

    h = add("stem", jnp.asarray(x)[..., None], params["stem_conv"], 1, True)
    blocks = zip(module.block_features, module.block_strides, strict=True)
    for i, (f, s) in enumerate(blocks):
        bp = params[f"res_block{i + 1}"]
        a = add(f"block{i + 1}.conv1", h, bp["conv1"], int(s), True)
        a = add(f"block{i + 1}.conv2", a, bp["conv2"], 1, False)
        short = h
        if int(s) != 1 or h.shape[-1] != int(f):
            short = add(f"block{i + 1}.proj", h, bp["proj"], int(s), False)
        h = jax.nn.relu(a + short)
    return out


def macs_per_cluster(layer: dict[str, Any]) -> int:
    """Multiply-adds per cluster of the convolution, zero-padding taps included."""
    _, H, W, _ = layer["x"].shape
    kh, kw, C, F = layer["kernel"].shape
    s = layer["stride"]
    return -(-H // s) * -(-W // s) * kh * kw * C * F


def jax_paths(layer: dict[str, Any]) -> dict[str, Any]:
    """``{"jax": fn, "xla_conv": fn}``, each ``fn() -> array`` on the layer's input."""
    x, k, b = (jnp.asarray(layer[n]) for n in ("x", "kernel", "bias"))
    s = layer["stride"]
    act = jax.nn.relu if layer["relu"] else (lambda y: y)

    def plain(x, k, b):
        y = jax.lax.conv_general_dilated(x, k, (s, s), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))  # fmt: skip
        return act(y + b)

    hybrid = jax.jit(lambda x, k, b: act(conv_hybrid(x, k, b, s)))
    plain = jax.jit(plain)
    return {"jax": lambda: hybrid(x, k, b), "xla_conv": lambda: plain(x, k, b)}


def onnx_path(layer: dict[str, Any]) -> Any:
    """``fn() -> list`` running the layer as one ONNX ``Conv`` (+ ``Relu``) in ONNX Runtime."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    x = np.ascontiguousarray(layer["x"].transpose(0, 3, 1, 2))  # NHWC -> NCHW
    kh, kw, _, f = layer["kernel"].shape
    s = layer["stride"]
    out_shape = [x.shape[0], int(f), -(-x.shape[2] // s), -(-x.shape[3] // s)]
    (pt, pb), (pl, pr) = same_pads(x.shape[2], kh, s), same_pads(x.shape[3], kw, s)
    w = numpy_helper.from_array(layer["kernel"].transpose(3, 2, 0, 1).copy(), "w")  # OIHW
    b = numpy_helper.from_array(layer["bias"].copy(), "b")
    conv_out = "y" if not layer["relu"] else "conv"
    nodes = [helper.make_node("Conv", ["x", "w", "b"], [conv_out], kernel_shape=[kh, kw],
                              strides=[s, s], pads=[pt, pl, pb, pr])]  # fmt: skip
    if layer["relu"]:
        nodes.append(helper.make_node("Relu", ["conv"], ["y"]))
    graph = helper.make_graph(
        nodes, layer["name"],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[w, b],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])  # fmt: skip
    return lambda: sess.run(None, {"x": x})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=None, help="a trained ResNet's run folder")
    ap.add_argument("--batch", type=int, default=512, help="clusters per call")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    charge = simulate("VTPC2", 1, 0).charge[: args.batch].astype(np.float32)
    if args.run is not None:
        clf = load_classifier(args.run)
        module, params, pre = clf.module, clf.params, clf.preprocessor
    else:
        module = models.get_model("resnet")
        params = random_params(module, charge.shape[1:], 0)
        pre = fit_preprocessor("log", charge)
    x = np.asarray(pre(charge), np.float32)
    rows = layers(module, params, x)
    paths = [{**jax_paths(r), "onnxruntime": onnx_path(r)} for r in rows]
    # parity, and the calls per timed block (~0.1 s of the slowest path)
    for r, p in zip(rows, paths, strict=True):
        ref = np.asarray(p["xla_conv"]())
        for name in ("jax", "onnxruntime"):
            y = np.asarray(p[name]() if name == "jax" else p[name]()[0])
            y = y if name == "jax" else y.transpose(0, 2, 3, 1)
            err = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-30))
            r[f"{name}_rel_err"] = err
        r["calls"] = min(inner_calls(f, 0.1) for f in p.values())
    times: list[dict[str, list[float]]] = [{k: [] for k in p} for p in paths]
    for rep in range(args.repeats):
        for r, p, t in zip(rows, paths, times, strict=True):
            for name, fn in p.items():
                t[name].append(block_seconds(fn, r["calls"]))
        print(f"repeat {rep + 1}/{args.repeats}", flush=True)
    table = []
    for r, t in zip(rows, times, strict=True):
        ms = {k: 1e3 * float(np.median(v)) for k, v in t.items()}
        mflop = 2 * macs_per_cluster(r) * args.batch / 1e6
        table.append({
            "layer": r["name"], "input": list(r["x"].shape[1:]),
            "features": int(r["kernel"].shape[-1]), "stride": r["stride"],
            "mflop_per_call": mflop, "ms_per_call": ms,
            "gflops": {k: mflop / v for k, v in ms.items()},
            "onnxruntime_over_jax_speed": ms["jax"] / ms["onnxruntime"],
            "rel_err_vs_xla_conv": {k: r[f"{k}_rel_err"] for k in ("jax", "onnxruntime")},
        })  # fmt: skip
    total = {k: sum(row["ms_per_call"][k] for row in table) for k in table[0]["ms_per_call"]}
    res = {
        "batch": args.batch,
        "repeats": args.repeats,
        "weights": str(args.run) if args.run else "random",
        "commit": git_commit(source_checkout()),
        "jax": jax.__version__,
        "onnxruntime": __import__("onnxruntime").__version__,
        "cpu_count": os.cpu_count(),
        **cpu_model(),
        "load_average_1min": os.getloadavg()[0],
        "layers": table,
        "total_ms_per_call": total,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "resnet_layers.json", json.dumps(res, indent=1))
    atomic_write_text(args.out / "resnet_layers.md", markdown(res))
    print(markdown(res))


def markdown(res: dict[str, Any]) -> str:
    """One row per convolution: ms per call and GFLOP/s of each path."""
    lines = [
        f"# The ResNet layer by layer ({res['batch']} clusters per call)",
        "",
        f"Commit {res['commit'] or 'not recorded'}, jax {res['jax']}, onnxruntime "
        f"{res['onnxruntime']}, {res['cpu_count']} cores of {res.get('cpu_model') or 'a CPU'} "
        f"({' '.join(res.get('vector_extensions', []))}; load {res['load_average_1min']:.1f}), "
        f"weights: {res['weights']}; medians of {res['repeats']} interleaved repeats. "
        "FLOPs count the zero-padding taps. ONNX Runtime: one Conv(+Relu) node per layer, "
        "its NCHWc reorders included.",
        "",
        "| layer | input (H, W, C) | F | stride | MFLOP | JAX path ms (GFLOP/s) | XLA conv ms "
        "(GFLOP/s) | ONNX Runtime ms (GFLOP/s) | ORT / JAX path speed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in res["layers"]:
        ms, gf = row["ms_per_call"], row["gflops"]
        cells = [f"{ms[k]:.2f} ({gf[k]:.0f})" for k in ("jax", "xla_conv", "onnxruntime")]
        lines.append(
            f"| {row['layer']} | {tuple(row['input'])} | {row['features']} | {row['stride']} | "
            f"{row['mflop_per_call']:.0f} | {' | '.join(cells)} | "
            f"{row['onnxruntime_over_jax_speed']:.2f}x |"
        )
    t = res["total_ms_per_call"]
    lines.append(
        f"| sum | | | | | {t['jax']:.2f} | {t['xla_conv']:.2f} | {t['onnxruntime']:.2f} | "
        f"{t['jax'] / t['onnxruntime']:.2f}x |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
