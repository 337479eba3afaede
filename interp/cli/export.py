"""``export``: write a trained Flax classifier as ONNX (opset 17, preprocessing included).

An ensemble folder (kind ``ensemble`` of Flax members, ``tpc-interp train --folds K``) is
written as one graph holding every member and the weighted mean
(:mod:`interp.backends.onnx.ensemble`); its parity check compares ``p_signal``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.app import app
from interp.cli.outputs import output_folder


@app.command("export")
def export(
    run_dir: Annotated[Path, typer.Argument(help="Folder with classifier.json (a Flax model)")],
    out: Annotated[Path, typer.Option("--out", help="Output ONNX file")] = Path("model.onnx"),
    quantize: Annotated[
        str | None,
        typer.Option(
            "--quantize",
            help="int8: static QDQ quantization (Conv/Gemm int8, activations uint8)",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="Cluster file whose windows calibrate --quantize (default: 4,096 clusters "
            "simulated for the training chamber)"
        ),
    ] = None,
    input_dtype: Annotated[
        str,
        typer.Option(
            "--input-dtype",
            help="Element type of the 'charge' input: float32, or uint8 for an 8-bit ADC as it "
            "is (4x fewer bytes; the perceptron multiplies it as integers, exactly)",
        ),
    ] = "float32",
    check: Annotated[
        bool,
        typer.Option("--check/--no-check", help="Compare ONNX Runtime with JAX on 1,024 windows"),
    ] = True,
) -> None:
    """ONNX export with dynamic batch: input ``charge`` [N, P, T] raw ADC (float32, or uint8
    with ``--input-dtype uint8``), outputs ``logits`` [N, 2] and ``p_signal`` [N]."""
    import numpy as np

    from interp.backends.classifier import load_classifier
    from interp.backends.onnx.export import INPUT_DTYPES, OPSET, export_onnx
    from interp.core.errors import ClusterDataError

    if quantize is not None and quantize not in ("int8",):
        raise ClusterDataError(str(out), "quantize", f"must be 'int8', got '{quantize}'")
    if calibration is not None and quantize is None:
        raise ClusterDataError(str(calibration), None, "--calibration needs --quantize int8")
    if input_dtype not in INPUT_DTYPES:
        raise ClusterDataError(str(out), "input-dtype", f"must be one of {INPUT_DTYPES}")
    if input_dtype != "float32" and quantize is not None:
        raise ClusterDataError(str(out), "input-dtype", "--quantize int8 takes float32 input")
    with output_folder(out.parent):
        clf = load_classifier(run_dir)
        ensemble = clf.kind == "ensemble"
        if ensemble and (quantize is not None or input_dtype != "float32"):
            field = "quantize" if quantize is not None else "input-dtype"
            raise ClusterDataError(str(run_dir), field, "not offered for ensembles")
        if ensemble:
            from interp.backends.onnx.ensemble import export_ensemble_onnx

            for member in clf.members:  # the reference is the JAX ensemble
                member.backend = "jax"
            path = export_ensemble_onnx(clf, out)
        elif quantize is None:
            path = export_onnx(clf, out, input_dtype)
        else:
            from interp.backends.onnx.quantize import export_int8

            windows = None
            if calibration is not None:
                from interp.data.io import read_clusters

                windows = read_clusters(calibration).charge[:4096]
            path = export_int8(clf, out, windows)
    typer.echo(
        f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB, opset {OPSET}"
        + (f", {quantize})" if quantize else ")")
    )
    if not check:
        return
    from interp.backends.onnx.runtime import OnnxClassifier, ort_available

    if not ort_available():
        typer.echo("parity check skipped: onnxruntime is not installed")
        return
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 20.0, size=(1024, *clf.window)).astype(np.float32).round()
    if input_dtype == "uint8":
        x = np.minimum(x, 255.0)
    if ensemble:
        err = float(np.abs(clf.predict_proba(x) - OnnxClassifier(path).predict_proba(x)).max())
        typer.echo(f"ONNX Runtime vs JAX ensemble on 1,024 random windows: max |dp| {err:.2e}")
        if err > 1e-5:
            typer.echo("warning: p_signal error above 1e-5", err=True)
            raise typer.Exit(1)
        return
    a = clf.logits(x)
    b = OnnxClassifier(path).logits(x.astype(input_dtype))
    rel = float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30))
    typer.echo(f"ONNX Runtime vs JAX on 1,024 random windows: max relative error {rel:.2e}")
    if quantize is not None:  # int8 differs from float32 by design: report the decisions
        agree = float(np.mean((a[:, 1] > a[:, 0]) == (b[:, 1] > b[:, 0])))
        typer.echo(f"int8 vs float32 decisions at P(signal) = 0.5: {agree:.2%} agree")
        return
    if rel > 1e-5:
        typer.echo("warning: relative error above 1e-5", err=True)
        raise typer.Exit(1)
