"""``export``: write a trained Flax classifier as ONNX (opset 17, preprocessing included)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.app import app


@app.command("export")
def export(
    run_dir: Annotated[Path, typer.Argument(help="Folder with classifier.json (a Flax model)")],
    out: Annotated[Path, typer.Option("--out", help="Output ONNX file")] = Path("model.onnx"),
    check: Annotated[
        bool,
        typer.Option("--check/--no-check", help="Compare ONNX Runtime with JAX on 1,024 windows"),
    ] = True,
) -> None:
    """ONNX export with dynamic batch: input ``charge`` [N, P, T] raw ADC, outputs ``logits``
    [N, 2] and ``p_signal`` [N]."""
    import numpy as np

    from interp.classifier import load_classifier
    from interp.export.onnx import OPSET, export_onnx

    clf = load_classifier(run_dir)
    path = export_onnx(clf, out)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB, opset {OPSET})")
    if not check:
        return
    from interp.infer.onnx_backend import OnnxClassifier, ort_available

    if not ort_available():
        typer.echo("parity check skipped: onnxruntime is not installed")
        return
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 20.0, size=(1024, *clf.window)).astype(np.float32).round()
    a = clf.logits(x)
    b = OnnxClassifier(path).logits(x)
    rel = float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30))
    typer.echo(f"ONNX Runtime vs JAX on 1,024 random windows: max relative error {rel:.2e}")
    if rel > 1e-5:
        typer.echo("warning: relative error above 1e-5", err=True)
        raise typer.Exit(1)
