"""Seconds per event for every model: toolkit path vs reference vs ONNX Runtime, XGBoost,
training samples/s, and the machine's measured matmul / memory roofline.

One run, one input event (28,764 simulated VTPC2 clusters), every path measured side by side:
each repeat times every path once in turn, so load changes hit all paths alike. Figures are
medians over ``--repeats`` after a warm-up call; the 1-minute load average is recorded with
each measurement (the machine is shared).

Paths per Flax model:

* ``toolkit``: ``FlaxClassifier.logits`` with its default backend (fused jitted
  preprocessing + model in the fastest formulation per model, per-model chunk plan on the
  64-byte aligned ``ClusterSet.charge``; :mod:`interp.backends.flax.fused`), and ``toolkit_jax`` the
  same forced to the JAX backend where the default is ONNX Runtime;
* ``reference``: the previous implementation (numpy preprocessing, ``module.apply`` via
  ``interp.backends.flax.steps.make_forward``, zero-padded batches of 4,096);
* ``onnx``: the exported model (:mod:`interp.backends.onnx.export`, preprocessing included) in ONNX
  Runtime on CPU (:class:`interp.backends.onnx.runtime.OnnxClassifier`) with ONNX Runtime's own
  defaults (2 intra-op threads, spinning on; the toolkit's ONNX backend turns spinning off);
* ``tta``: pad-mirror test-time augmentation (:class:`interp.backends.tta.TTAClassifier`, as
  ``predict --tta pad-mirror``) around the toolkit classifier, against ``toolkit_proba``, the
  plain ``FlaxClassifier.predict_proba`` it wraps (seconds per event and the ratio).

Usage::

    .venv/bin/python benchmarks/speed.py [--runs DIR_WITH_MODEL_FOLDERS] [--repeats 5]

``--runs`` points at trained classifiers (``DIR/<model>/classifier.json`` or
``DIR/<model>/<chamber>/classifier.json``) for the noise-removed / signal-lost columns;
without it the models get random weights (speed does not depend on the weights) and the
quality columns read "n/a".
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from benchmarks.timing import block_seconds, inner_calls  # noqa: E402
from interp.backends.flax.chunking import bucket_size, chunks, pad_to  # noqa: E402
from interp.backends.flax.classifier import FlaxClassifier  # noqa: E402
from interp.backends.flax.fused import make_fused_forward  # noqa: E402
from interp.backends.flax.random_params import random_params  # noqa: E402
from interp.backends.flax.steps import make_forward  # noqa: E402
from interp.backends.flax.tuning import preferred_backend, preferred_streams  # noqa: E402
from interp.backends.onnx.runtime import OnnxClassifier  # noqa: E402
from interp.backends.tta import TTAClassifier  # noqa: E402
from interp.core.adc import compact_adc  # noqa: E402
from interp.core.aligned import as_aligned  # noqa: E402
from interp.core.published import load_published  # noqa: E402
from interp.data.preprocess import fit_preprocessor  # noqa: E402
from interp.report.provenance import cpu_model, git_commit, source_checkout  # noqa: E402

CLUSTERS_PER_EVENT = 28763.75
FLAX_MODELS = tuple(models.model_names("flax"))
"""Every Flax model of the registry (a new ``models/<name>.py`` is benchmarked as it is)."""
INPUT_BYTES = 11 * 20 * 4 + 2 * 4  # float32 window in, two logits out (minimal traffic)


def load1() -> float:
    """1-minute load average."""
    return round(os.getloadavg()[0], 2)


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()`` (blocking) after ``warmup`` calls."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def machine_roofline(repeats: int) -> dict[str, Any]:
    """Measured float32 matmul GFLOP/s (XLA, 2048^2) and memory bandwidth (numpy copy).

    Returns:
        ``{"matmul_gflops", "matmul_gflops_numpy", "bandwidth_gbs", "load1"}``; bandwidth
        counts read + write bytes of an in-place copy of a pre-touched 256 MB array.
    """
    n = 2048
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), jnp.float32)
    mm = jax.jit(lambda a: a @ a)
    t_jax = median_time(lambda: mm(a), repeats)
    an = np.asarray(a)
    t_np = median_time(lambda: an @ an, repeats)
    src = np.ones(64 * 2**20, np.float32)
    dst = np.zeros_like(src)
    t_bw = median_time(lambda: np.copyto(dst, src), repeats)
    return {
        "matmul_gflops": 2 * n**3 / t_jax / 1e9,
        "matmul_gflops_numpy": 2 * n**3 / t_np / 1e9,
        "bandwidth_gbs": 2 * src.nbytes / t_bw / 1e9,
        "load1": load1(),
    }


def find_run(runs: Path | None, name: str) -> Path | None:
    """``runs/name``, ``runs/name/VTPC2`` (the benchmark chamber) or ``runs/name/*`` holding
    a classifier.json, else None."""
    if runs is None:
        return None
    for cand in [runs / name, runs / name / "VTPC2", *sorted((runs / name).glob("*"))]:
        if (cand / "classifier.json").is_file():
            return cand
    return None


def flax_classifier(name: str, runs: Path | None, fit_on: np.ndarray) -> tuple[Any, bool]:
    """Trained classifier from ``runs`` or one with random weights; returns (clf, trained)."""
    path = find_run(runs, name)
    if path is not None:
        from interp.backends.classifier import load_classifier

        return load_classifier(path), True
    module = models.get_model(name)
    params = random_params(module, (11, 20), 0)
    pre = fit_preprocessor("max", fit_on)
    return FlaxClassifier(name, module, params, pre, "VTPC2"), False


def reference_logits(clf: Any, forward: Callable, charge: np.ndarray, batch: int = 4096) -> Any:
    """The previous ``FlaxClassifier.logits``: numpy preprocessing + ``module.apply``."""
    n = charge.shape[0]
    size = bucket_size(n, batch)
    out = []
    for start, stop in chunks(n, size):
        x = pad_to(clf.preprocessor(charge[start:stop]), size)
        out.append(np.asarray(forward(clf.params, x))[: stop - start])
    return np.concatenate(out)


def xla_flops_per_cluster(module: Any, params: Any, batch: int = 1024) -> float:
    """XLA cost-analysis FLOPs of ``module.apply`` per cluster (nominal, conv as conv)."""
    x = jnp.zeros((batch, 11, 20), jnp.float32)
    fn = jax.jit(lambda p, x: module.apply({"params": p}, x))
    cost = fn.lower(params, x).compile().cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0]
    return float(cost["flops"]) / batch


def quality(p: np.ndarray, label: np.ndarray, trained: bool) -> dict[str, Any]:
    """Noise removed / signal lost at P(signal) < 0.5 and the balanced accuracy (mean of
    noise removed and signal kept); None for random weights."""
    if not trained:
        return {"noise_removed": None, "signal_lost": None, "balanced_accuracy": None}
    cut = p < 0.5
    removed, lost = float(cut[label == 0].mean()), float(cut[label == 1].mean())
    return {
        "noise_removed": removed,
        "signal_lost": lost,
        "balanced_accuracy": 0.5 * (removed + 1.0 - lost),
    }


def p_signal(z: np.ndarray) -> np.ndarray:
    """P(signal) from logits [N, 2] (as ``FlaxClassifier.predict_proba``)."""
    d = (z[:, 1] - z[:, 0]).astype(np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * d))


def roofline(flops: float, t_event: float, peak: dict[str, Any]) -> dict[str, float]:
    """Achieved GFLOP/s and fraction of the roofline bound for one event."""
    n = CLUSTERS_PER_EVENT
    t_compute = flops * n / (peak["matmul_gflops"] * 1e9)
    t_memory = INPUT_BYTES * n / (peak["bandwidth_gbs"] * 1e9)
    return {
        "gflops_achieved": flops * n / t_event / 1e9,
        "roofline_s_per_event": max(t_compute, t_memory),
        "roofline_fraction": max(t_compute, t_memory) / t_event,
        "bound": "compute" if t_compute >= t_memory else "memory",
    }


def bench_flax(
    name: str, charge: np.ndarray, label: np.ndarray, runs: Path | None, repeats: int
) -> dict[str, Any]:
    """Toolkit / reference / ONNX Runtime timings, parity and quality of one Flax model."""
    clf, trained = flax_classifier(name, runs, charge)
    n = charge.shape[0]
    ref_forward = make_forward(clf.module)
    # ONNX Runtime at its strongest: its own defaults (spinning threads), 2 threads
    ort = OnnxClassifier.from_classifier(clf, threads=2, spinning=True)
    ort8 = OnnxClassifier.from_classifier(clf, threads=2, spinning=True, precision="int8")
    jax_clf = copy.copy(clf)  # same params, backend forced to JAX
    jax_clf.backend = "jax"
    bf16_clf = copy.copy(clf)
    bf16_clf.precision = "bfloat16"
    adc8 = compact_adc(charge)  # the event as a ClusterSet holds it: the 8-bit ADC as uint8
    # order within a repeat: ONNX Runtime's spinning threads linger after its block, so the
    # reference path (a baseline only) follows the ORT paths rather than a toolkit path
    paths: dict[str, Callable[[], Any]] = {
        "onnx": lambda: ort.logits(charge),
        "onnx_int8": lambda: ort8.logits(charge),
        "reference": lambda: reference_logits(clf, ref_forward, charge),
        "toolkit": lambda: clf.logits(charge),
    }
    if preferred_backend(name) != "jax":
        paths["toolkit_jax"] = lambda: jax_clf.logits(charge)
    streams = preferred_streams(name, "cpu")
    if streams > 1:  # ONNX Runtime with the same calls in flight as the toolkit's paths
        ort_s = OnnxClassifier.from_classifier(clf, threads=2, spinning=True, streams=streams)
        paths["onnx_streams"] = lambda: ort_s.logits(charge)
    paths["toolkit_uint8"] = lambda: jax_clf.logits(adc8)  # JAX path reading integer ADC
    paths["toolkit_adc"] = lambda: clf.logits(adc8)  # the toolkit's choice for uint8 ADC
    paths["jax_bfloat16"] = lambda: bf16_clf.logits(charge)
    # P(signal) paths (not logits): the plain toolkit score and pad-mirror TTA around it
    tta = TTAClassifier(clf, TTA_AUGMENTATIONS)
    paths["toolkit_proba"] = lambda: clf.predict_proba(charge)
    paths["tta"] = lambda: tta.predict_proba(charge)
    outs = {k: np.asarray(f()) for k, f in paths.items()}  # warm-up (compiles) + parity
    ref = outs["reference"]
    scale = float(np.abs(ref).max())
    calls = {k: inner_calls(f) for k, f in paths.items()}
    times: dict[str, list[float]] = {k: [] for k in paths}
    loads = []
    for _ in range(repeats):  # interleaved: each path's block of calls once per repeat
        for k, f in paths.items():
            times[k].append(block_seconds(f, calls[k]))
        loads.append(load1())
    med = {k: float(np.median(v)) for k, v in times.items()}
    per_event = {k: v * CLUSTERS_PER_EVENT / n for k, v in med.items()}
    flops = xla_flops_per_cluster(clf.module, clf.params)
    p = clf.predict_proba(charge)
    return {
        "model": name,
        "clusters": n,
        "trained_weights": trained,
        "parameters": models.param_count(clf.params),
        "flops_per_cluster": flops,
        "s_per_event": per_event,
        "s_per_event_min": {k: min(v) * CLUSTERS_PER_EVENT / n for k, v in times.items()},
        "clusters_per_s": {k: n / v for k, v in med.items()},
        "all_times_s": times,
        "calls_per_timed_block": calls,
        "toolkit_vs_onnx_throughput": med["onnx"] / med["toolkit"],
        "toolkit_vs_reference_speedup": med["reference"] / med["toolkit"],
        "toolkit_backend": preferred_backend(name),
        "toolkit_adc_backend": preferred_backend(name, clf.preprocessor.method),
        "streams": streams,
        "parity_rel_err": {
            f"{k}_vs_reference": float(np.abs(v - ref).max() / scale)
            for k, v in outs.items()
            if k != "reference" and k not in PROBA_PATHS
        },
        "roofline": {k: roofline(flops, v, PEAK) for k, v in per_event.items()},
        "load1": loads,
        "input_dtype": {"toolkit_uint8": str(adc8.dtype), "toolkit_adc": str(adc8.dtype)},
        "quality_by_path": {
            k: quality(v if k in PROBA_PATHS else p_signal(v), label, trained)
            for k, v in outs.items()
        },
        "tta": tta_summary(med, outs, n),
        **quality(p, label, trained),
    }


TTA_AUGMENTATIONS = ("pad-mirror",)
"""What the TTA rows time (``TTAClassifier``'s offered augmentations, as ``--tta pad-mirror``)."""
PROBA_PATHS = ("toolkit_proba", "tta")
"""Paths of :func:`bench_flax` returning P(signal) [N] rather than logits [N, 2]."""


def tta_summary(med: dict[str, float], outs: dict[str, np.ndarray], n: int) -> dict[str, Any]:
    """Seconds per event of pad-mirror TTA and of the plain score it wraps, same repeats.

    Args:
        med: Path -> median seconds per call on ``n`` clusters (``toolkit_proba``, ``tta``).
        outs: Path -> outputs of the warm-up call (P(signal) [n] for the two paths).
        n: Clusters per call.

    Returns:
        ``{"augmentations", "s_per_event", "plain_s_per_event", "ratio_to_plain",
        "max_abs_p_change"}``: the plain path is ``FlaxClassifier.predict_proba`` (the
        toolkit backend), the ratio is TTA / plain (about 1 + number of augmentations), the
        last the largest change of P(signal) TTA makes on this event.
    """
    s_tta = med["tta"] * CLUSTERS_PER_EVENT / n
    s_plain = med["toolkit_proba"] * CLUSTERS_PER_EVENT / n
    return {
        "augmentations": list(TTA_AUGMENTATIONS),
        "s_per_event": s_tta,
        "plain_s_per_event": s_plain,
        "ratio_to_plain": s_tta / s_plain,
        "max_abs_p_change": float(np.abs(outs["tta"] - outs["toolkit_proba"]).max()),
    }


def gpu_device() -> Any | None:
    """The first GPU JAX can see, or None (no CUDA jax, no GPU, or ``JAX_PLATFORMS=cpu``)."""
    try:
        devs = jax.devices("gpu")
    except RuntimeError:
        return None
    return devs[0] if devs else None


GPU_CHUNK = 32768
"""Clusters per call of the GPU one-call rows: a whole event (28,764) padded once."""


def bench_gpu(
    name: str, charge: np.ndarray, runs: Path | None, repeats: int, gpu: Any
) -> dict[str, Any]:
    """GPU seconds per event of one Flax model, per formulation and precision.

    Rows: ``toolkit`` (``FlaxClassifier.logits`` with the JAX backend under
    ``jax.default_device(gpu)``: the formulation the model spec (``SPEC.formulation``) picks for
    ``gpu``, its chunk plan, numpy in and out), and for each formulation (``apply``,
    ``rewrite``) and precision (``float32``, ``bfloat16``, ``float16``) one call on the whole
    event padded to :data:`GPU_CHUNK`: ``host`` (float32 numpy in, numpy logits out),
    ``host_uint8`` (the event as uint8 ADC, 4x fewer bytes over PCIe) and ``device``
    (input already on the GPU, logits left there).
    """
    clf, _ = flax_classifier(name, runs, charge)
    n = charge.shape[0]
    with jax.default_device(jax.devices("cpu")[0]):
        cpu_ref = np.asarray(reference_logits(clf, make_forward(clf.module), charge))
    scale = float(np.abs(cpu_ref).max())
    x32 = pad_to(np.ascontiguousarray(charge, np.float32), GPU_CHUNK)
    x8 = pad_to(compact_adc(charge), GPU_CHUNK)
    out: dict[str, Any] = {"model": name, "device": gpu.device_kind, "rows": {}}
    with jax.default_device(gpu):
        gclf = copy.copy(clf)
        gclf._fused_key = None  # rebuild the jitted forward and params on the GPU
        gclf.backend = "jax"
        z = gclf.logits(charge)
        t = median_time(lambda: gclf.logits(charge), repeats)
        out["rows"]["toolkit"] = {
            "s_per_event": t * CLUSTERS_PER_EVENT / n,
            "clusters_per_s": n / t,
            "rel_err_vs_cpu_reference": float(np.abs(z - cpu_ref).max() / scale),
        }
        params = jax.device_put(clf.params, gpu)
        xd = jax.device_put(x32, gpu)
        for formulation in ("apply", "rewrite"):
            for precision in ("float32", "bfloat16", "float16"):
                fwd = make_fused_forward(
                    clf.module, clf.preprocessor, formulation, precision, platform="gpu"
                )
                z = np.asarray(fwd(params, x32))[:n]
                rel = float(np.abs(z - cpu_ref).max() / scale)
                for kind, fn in (
                    ("host", lambda fwd=fwd: np.asarray(fwd(params, x32))),
                    ("host_uint8", lambda fwd=fwd: np.asarray(fwd(params, x8))),
                    ("device", lambda fwd=fwd: fwd(params, xd)),
                ):
                    t = median_time(fn, repeats, warmup=2)
                    out["rows"][f"{formulation}/{precision}/{kind}"] = {
                        "s_per_event": t * CLUSTERS_PER_EVENT / n,
                        "clusters_per_s": n / t,
                        "rel_err_vs_cpu_reference": rel,
                    }
                print("gpu", name, formulation, precision, flush=True)
    return out


def bench_xgboost(
    charge: np.ndarray, label: np.ndarray, runs: Path | None, repeats: int
) -> dict[str, Any]:
    """XGBoost ``predict_proba`` (numpy preprocessing + ``inplace_predict``) per event."""
    from interp.backends.classifier import load_classifier

    path = find_run(runs, "xgboost")
    if path is not None:
        clf, trained = load_classifier(path), True
    else:
        from interp.backends.xgboost.classifier import XGBConfig, train_xgboost
        from interp.data.simulator import simulate

        tr = simulate("VTPC2", 1, 11, n_clusters=8000)
        va = simulate("VTPC2", 1, 12, n_clusters=4000)
        clf, trained = train_xgboost(tr, va, config=XGBConfig.smoke()), True
    clf.predict_proba(charge)
    t = median_time(lambda: clf.predict_proba(charge), repeats)
    n = charge.shape[0]
    booster = clf.booster
    s_event = t * CLUSTERS_PER_EVENT / n
    return {
        "model": "xgboost",
        "trees": int(booster.num_boosted_rounds()),
        "max_depth": clf.config.max_depth if hasattr(clf, "config") else None,
        "s_per_event": s_event,
        "clusters_per_s": n / t,
        "memory_roofline_fraction": INPUT_BYTES
        * CLUSTERS_PER_EVENT
        / PEAK["bandwidth_gbs"]
        / 1e9
        / s_event,
        "load1": load1(),
        **quality(clf.predict_proba(charge), label, trained),
    }


def bench_training(name: str, charge: np.ndarray, label: np.ndarray, batch: int = 256) -> dict:
    """Training samples/s of the trainer's step (``formulation="auto"``) and of the same step
    differentiating ``module.apply`` (``"apply"``, the reference), where they differ."""
    from interp.backends.flax.formulation import rewritten_logits_fn
    from interp.backends.flax.schedule import one_cycle_hyper
    from interp.backends.flax.steps import TrainState, make_optimizer, make_train_step

    module = models.get_model(name)
    pre = fit_preprocessor("max", charge)
    x_all = jax.device_put(pre(charge))
    y_all = jax.device_put(label.astype(np.int32))
    w_all = jax.device_put(np.ones(len(label), np.float32))
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"model": name, "batch_size": batch}
    kinds = [("trainer_step", "auto")]
    if rewritten_logits_fn(module) is not None:  # a rewrite exists: time the reference too
        kinds.append(("apply_step", "apply"))
    for kind, formulation in kinds:
        tx = make_optimizer()
        hyper = jnp.asarray(one_cycle_hyper(1e-3, 10_000, 1e-4))
        params = jax.tree_util.tree_map(jnp.asarray, random_params(module, (11, 20), 0))
        state = TrainState(
            step=jnp.int32(0),
            params=params,
            opt_state=tx.init(params),
            rng=jax.random.key_data(jax.random.key(0)),
        )
        step = make_train_step(module, tx, formulation)
        idx = [jnp.asarray(rng.integers(0, len(label), batch, dtype=np.int32)) for _ in range(8)]
        state, loss = step(state, x_all, y_all, w_all, idx[0], hyper)  # compile
        jax.block_until_ready(loss)
        t = time.perf_counter()
        state, loss = step(state, x_all, y_all, w_all, idx[1], hyper)
        jax.block_until_ready(loss)
        k = int(np.clip(1.0 / max(time.perf_counter() - t, 1e-4), 3, 400))
        rates = []
        for _ in range(3):
            t = time.perf_counter()
            for i in range(k):
                state, loss = step(state, x_all, y_all, w_all, idx[i % 8], hyper)
            jax.block_until_ready(loss)
            rates.append(k * batch / (time.perf_counter() - t))
        out[kind] = {"samples_per_s": float(np.median(rates)), "steps_timed": k, "load1": load1()}
    return out


PEAK: dict[str, Any] = {}


def fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _jax_s(r: dict[str, Any]) -> float:
    """Seconds per event of a model's JAX path (the toolkit path where that is JAX)."""
    return r["s_per_event"].get("toolkit_jax", r["s_per_event"]["toolkit"])


def _best(r: dict[str, Any], path: str) -> float:
    """Best-of-N seconds per event of a path (``toolkit_jax`` falls back to ``toolkit``)."""
    n = r.get("clusters") or 28764
    times = r["all_times_s"].get(path) or r["all_times_s"]["toolkit"]
    return min(times) * CLUSTERS_PER_EVENT / n


def _adc_cell(r: dict[str, Any]) -> str:
    """Main-table cell: the toolkit's seconds per event on the ClusterSet's uint8 ADC and its
    backend (JSON files written before that path was timed: "not measured")."""
    t = r["s_per_event"].get("toolkit_adc")
    return "not measured" if t is None else f"{t:.4f} ({r['toolkit_adc_backend']})"


def _tta_cell(r: dict[str, Any]) -> str:
    """Main-table cell: TTA seconds per event and its ratio to the plain score (JSON files
    written before the TTA rows existed: "not measured")."""
    t = r.get("tta")
    return "not measured" if t is None else f"{t['s_per_event']:.4f} ({t['ratio_to_plain']:.2f}x)"


def tta_markdown(res: dict[str, Any]) -> str:
    """The TTA section: pad-mirror TTA vs the plain P(signal) of each Flax model, same run."""
    rows = [r for r in res["flax"] if r.get("tta")]
    if not rows:
        return ""
    lines = [
        "",
        "## Test-time augmentation (pad-mirror, same run)",
        "",
        "`TTAClassifier(clf, ('pad-mirror',)).predict_proba` (`--tta pad-mirror`: the window "
        "and its mirror across pads scored, P(signal) averaged) against the plain "
        "`FlaxClassifier.predict_proba` it wraps (toolkit backend), timed in the same "
        "interleaved repeats.",
        "",
        "| model | plain P(signal) s/event | TTA s/event | TTA / plain | noise removed plain "
        "/ TTA | signal lost plain / TTA | max change of P(signal) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t, q = r["tta"], r.get("quality_by_path", {})
        plain, tta = q.get("toolkit_proba") or {}, q.get("tta") or {}
        lines.append(
            f"| {r['model']} | {t['plain_s_per_event']:.4f} | {t['s_per_event']:.4f} | "
            f"{t['ratio_to_plain']:.2f}x | {fmt(plain.get('noise_removed'))} / "
            f"{fmt(tta.get('noise_removed'))} | {fmt(plain.get('signal_lost'))} / "
            f"{fmt(tta.get('signal_lost'))} | {t['max_abs_p_change']:.3f} |"
        )
    return "\n".join(lines)


def gpu_markdown(res: dict[str, Any]) -> str:
    """The GPU section (rows of :func:`bench_gpu`, or the line saying why it was skipped)."""
    gpu = res.get("gpu") or {"skipped": "not run"}
    lines: list[str] = []
    lines += ["", "## GPU", ""]
    if "skipped" in gpu:
        lines.append(f"Not measured: {gpu['skipped']}.")
    else:
        lines += [
            f"Device: {gpu['device']}. `toolkit`: `FlaxClassifier.logits` on the GPU (numpy "
            "in and out); other rows: one call on the event padded to 32,768 clusters, "
            "`host` = float32 numpy in / numpy out, `host_uint8` = uint8 ADC in, `device` = "
            "input resident on the GPU.",
            "",
            "| model | row (formulation / precision / input) | s/event | clusters/s "
            "| max rel err vs CPU reference |",
            "|---|---|---|---|---|",
        ]
        for m in gpu["models"]:
            for row, v in m["rows"].items():
                lines.append(
                    f"| {m['model']} | {row} | {v['s_per_event']:.5f} | "
                    f"{v['clusters_per_s']:,.0f} | {v['rel_err_vs_cpu_reference']:.1e} |"
                )
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """What the timings depend on besides the code: cores, CPU model and vector extensions,
    versions, XLA flags, and the commit of the checkout timed (``-dirty`` when modified;
    ``None`` outside a git checkout)."""
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        **cpu_model(),
        "jax": jax.__version__,
        "onnxruntime": __import__("onnxruntime").__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "commit": git_commit(source_checkout()),
    }


def markdown(res: dict[str, Any]) -> str:
    """The talk-shaped table plus the detail tables."""
    pub = res["published"]
    pk, env = res["machine"], res["env"]
    cpu = env["processor"]
    if env.get("cpu_model"):
        cpu += f" ({env['cpu_model']}; {' '.join(env['vector_extensions']) or 'no AVX2/NEON'})"
    lines = [
        "# Inference speed (seconds per event, 28,763.75 clusters)",
        "",
        f"Machine: {env['cpu_count']} cores, {cpu}; measured "
        f"matmul {pk['matmul_gflops']:.0f} GFLOP/s (XLA f32 2048^2; numpy "
        f"{pk['matmul_gflops_numpy']:.0f}), copy bandwidth {pk['bandwidth_gbs']:.1f} GB/s; "
        f"load average (1 min) during the run {res['load_range'][0]:.1f}-"
        f"{res['load_range'][1]:.1f} on {env['cpu_count']} cores (shared machine). Medians of "
        f"{res['repeats']} interleaved repeats after warm-up (each repeat times a block of "
        "back-to-back calls lasting ~0.2 s per path). Weights: "
        f"{res['weights']}. Commit: {env.get('commit') or 'not recorded'}.",
        "",
        "| model | s/event CPU (toolkit, float32 windows) | s/event CPU (toolkit, the "
        "ClusterSet's uint8 ADC) | s/event CPU with pad-mirror TTA | s/event GPU "
        "| noise removed | parameters | signal lost | published CPU / GPU (Keras 2020) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    gpu = res.get("gpu") or {"skipped": "not run"}
    gpu_s = {m["model"]: m["rows"]["toolkit"]["s_per_event"] for m in gpu.get("models", [])}
    for r in res["flax"]:
        p = pub.get(r["model"], {})
        spe = p.get("seconds_per_event", {})
        g = gpu_s.get(r["model"])
        lines.append(
            f"| {r['model']} | {r['s_per_event']['toolkit']:.4f} | {_adc_cell(r)} | "
            f"{_tta_cell(r)} | "
            f"{'not measured (no GPU)' if g is None else format(g, '.5f')} | "
            f"{fmt(r['noise_removed'])} | {r['parameters']:,} | {fmt(r['signal_lost'])} | "
            f"{spe.get('cpu', 'n/a')} / {spe.get('gpu', 'n/a')} |"
        )
    x = res["xgboost"]
    lines.append(
        f"| xgboost ({x['trees']} trees) | {x['s_per_event']:.4f} | - | not measured | n/a | "
        f"{fmt(x['noise_removed'])} | - | {fmt(x['signal_lost'])} | - |"
    )
    lines += [
        "",
        "## Paths side by side",
        "",
        "| model | toolkit backend | toolkit s/event | toolkit clusters/s | JAX-path s/event "
        "| ONNX Runtime s/event | reference s/event | toolkit / ORT throughput | JAX path / ORT "
        "| speed-up vs reference | FLOPs/cluster | toolkit roofline fraction | ORT roofline "
        "fraction | max rel err toolkit / ORT | best-of-N s/event toolkit / JAX / ORT / ref "
        "| JAX path on the ClusterSet's uint8 ADC s/event | uint8 JAX / ORT |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["flax"]:
        s, c, rf = r["s_per_event"], r["clusters_per_s"], r["roofline"]
        e = r["parity_rel_err"]
        s_jax = _jax_s(r)
        lines.append(
            f"| {r['model']} | {r['toolkit_backend']} | {s['toolkit']:.4f} | "
            f"{c['toolkit']:,.0f} | {s_jax:.4f} | {s['onnx']:.4f} | "
            f"{s['reference']:.4f} | {r['toolkit_vs_onnx_throughput']:.2f}x | "
            f"{s['onnx'] / s_jax:.2f}x | "
            f"{r['toolkit_vs_reference_speedup']:.1f}x | {r['flops_per_cluster']:,.0f} | "
            f"{rf['toolkit']['roofline_fraction']:.1%} ({rf['toolkit']['bound']}) | "
            f"{rf['onnx']['roofline_fraction']:.1%} | "
            f"{e['toolkit_vs_reference']:.1e} / {e['onnx_vs_reference']:.1e} | "
            + " / ".join(
                f"{_best(r, k):.4f}" for k in ("toolkit", "toolkit_jax", "onnx", "reference")
            )
            + (
                f" | {s['toolkit_uint8']:.4f} | {s['onnx'] / s['toolkit_uint8']:.2f}x |"
                if "toolkit_uint8" in s
                else " | - | - |"
            )
        )
    lines.append(
        f"| xgboost | xgboost | {x['s_per_event']:.4f} | {x['clusters_per_s']:,.0f} | - | - | - "
        f"| - | - | - | - | {x['memory_roofline_fraction']:.1%} (memory) | - | - | - | - | - |"
    )
    multi = [r for r in res["flax"] if "onnx_streams" in r["s_per_event"]]
    if multi:
        lines += [
            "",
            "## Calls in flight (same run)",
            "",
            "Models whose spec runs several inference calls at once on the CPU "
            "(`ModelSpec.streams`): the JAX path against ONNX Runtime one call at a time (the "
            "ORT column above) and with the same calls in flight.",
            "",
            "| model | streams | JAX path s/event | ORT s/event, 1 call | ORT s/event, same "
            "streams | JAX / ORT 1 call | JAX / ORT same streams |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in multi:
            s, s_jax = r["s_per_event"], _jax_s(r)
            lines.append(
                f"| {r['model']} | {r['streams']} | {s_jax:.4f} | {s['onnx']:.4f} | "
                f"{s['onnx_streams']:.4f} | {s['onnx'] / s_jax:.2f}x | "
                f"{s['onnx_streams'] / s_jax:.2f}x |"
            )
    lines += [
        "",
        "## Reduced precision (same event, same run)",
        "",
        "Balanced accuracy = mean of noise removed and signal kept at P(signal) = 0.5 on the "
        "benchmark event; differences in points (percentage points) against float32.",
        "",
        "| model | JAX float32 s/event | JAX bfloat16 s/event | bf16 / f32 speed | ORT float32 "
        "s/event | ORT int8 s/event | int8 / f32 speed | balanced acc. float32 | bf16 cost "
        "(points) | int8 cost (points) | max rel err bf16 / int8 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["flax"]:
        s = r["s_per_event"]
        if "jax_bfloat16" not in s:
            continue
        s_jax = s.get("toolkit_jax", s["toolkit"])
        q = r.get("quality_by_path", {})
        base = (q.get("reference") or {}).get("balanced_accuracy")

        def cost(path: str, q: dict = q, base: float | None = base) -> str:
            v = (q.get(path) or {}).get("balanced_accuracy")
            return "n/a" if v is None or base is None else f"{100 * (base - v):+.2f}"

        e = r["parity_rel_err"]
        lines.append(
            f"| {r['model']} | {s_jax:.4f} | {s['jax_bfloat16']:.4f} | "
            f"{s_jax / s['jax_bfloat16']:.2f}x | {s['onnx']:.4f} | {s['onnx_int8']:.4f} | "
            f"{s['onnx'] / s['onnx_int8']:.2f}x | {fmt(base)} | {cost('jax_bfloat16')} | "
            f"{cost('onnx_int8')} | {e['jax_bfloat16_vs_reference']:.1e} / "
            f"{e['onnx_int8_vs_reference']:.1e} |"
        )
    lines += tta_markdown(res).splitlines()
    lines += gpu_markdown(res).splitlines()
    lines += [
        "",
        "## Training throughput (batch 256, AdamW, samples/s)",
        "",
        "| model | trainer step (`interp.backends.flax.steps`, fast formulation) "
        "| same step differentiating `module.apply` |",
        "|---|---|---|",
    ]
    for t in res["training"]:
        lines.append(
            f"| {t['model']} | {t['trainer_step']['samples_per_s']:,.0f} | "
            + (f"{t['apply_step']['samples_per_s']:,.0f} |" if "apply_step" in t else "same |")
        )
    lines += ["", f"XLA_FLAGS: `{res['env']['xla_flags'] or '(none)'}`", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=None, help="folder of trained classifiers")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", nargs="*", default=list(FLAX_MODELS))
    ap.add_argument("--no-training", action="store_true")
    ap.add_argument(
        "--gpu-only", action="store_true", help="only the GPU column (benchmarks/gpu_check.sh)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--name", default="speed", help="output file stem")
    ap.add_argument("--render", type=Path, default=None, help="only re-render this JSON as .md")
    args = ap.parse_args()
    if args.render is not None:
        res = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(markdown(res))
        return

    from interp.data.simulator import simulate

    t0 = time.time()
    with jax.default_device(jax.devices("cpu")[0]):
        PEAK.update(machine_roofline(args.repeats))
    print("machine", PEAK, flush=True)
    ev = simulate("VTPC2", 1, 0)
    # the event as float32 windows (ONNX Runtime's input dtype, and a float ADC file's); the
    # ClusterSet itself holds the 8-bit ADC as uint8 (interp.core.adc): ``toolkit_uint8``
    charge, label = as_aligned(ev.charge, np.float32), ev.label.astype(np.int64)
    res: dict[str, Any] = {
        "env": environment(),
        "clusters": int(charge.shape[0]),
        "repeats": args.repeats,
        "weights": f"trained ({args.runs})" if args.runs else "random (speed only)",
        "machine": dict(PEAK),
        "published": load_published()["models"],
        "flax": [],
    }
    cpu = jax.devices("cpu")[0]  # the CPU columns run on the CPU even when a GPU is present
    res["gpu_only"] = bool(args.gpu_only)
    for name in [] if args.gpu_only else args.models:
        with jax.default_device(cpu):
            r = bench_flax(name, charge, label, args.runs, args.repeats)
        print(name, json.dumps({k: r[k] for k in ("s_per_event", "parity_rel_err", "load1")}))
        res["flax"].append(r)
    gpu = gpu_device()
    if gpu is None:
        res["gpu"] = {
            "skipped": "no GPU visible to JAX (jax.devices('gpu') is empty or JAX is CPU-only;"
            " install '.[cuda]' on a machine with an NVIDIA GPU)"
        }
        print("GPU column skipped:", res["gpu"]["skipped"], flush=True)
    else:
        res["gpu"] = {"device": gpu.device_kind, "models": []}
        for name in args.models:
            res["gpu"]["models"].append(bench_gpu(name, charge, args.runs, args.repeats, gpu))
    res["training"] = []
    if args.gpu_only:
        res["load_range"] = [PEAK["load1"], load1()]
        res["wall_s"] = time.time() - t0
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.name}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        (args.out / f"{args.name}.md").write_text(gpu_markdown(res))
        print(gpu_markdown(res))
        return
    res["xgboost"] = bench_xgboost(charge, label, args.runs, args.repeats)
    print("xgboost", res["xgboost"]["s_per_event"], flush=True)
    if not args.no_training:
        for name in args.models:
            with jax.default_device(cpu):
                res["training"].append(bench_training(name, charge, label))
            print("train", res["training"][-1], flush=True)
    loads = [PEAK["load1"], res["xgboost"]["load1"]]
    loads += [v for r in res["flax"] for v in r["load1"]]
    loads += [
        t[k]["load1"] for t in res["training"] for k in ("trainer_step", "fast_step") if k in t
    ]
    res["load_range"] = [min(loads), max(loads)]
    res["wall_s"] = time.time() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    (args.out / f"{args.name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
