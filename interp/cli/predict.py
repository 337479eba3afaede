"""``tpc-interp predict``: score whole runs into a Parquet/HDF5/ROOT table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.app import app
from interp.cli.data import ChamberOpt, TreeOpt, WindowOpt, read_options
from interp.cli.outputs import output_folder


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="Folder of a trained classifier")],
    files: Annotated[list[Path], typer.Argument(help="Cluster files (any supported format)")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Score table: .parquet, .h5/.hdf5 or .root")
    ],
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Clusters read and scored at a time (bounds memory)")
    ] = 65536,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Clusters per forward pass (default: the model's fastest)"),
    ] = None,
    devices: Annotated[
        int | None,
        typer.Option(min=1, help="Data-parallel inference over N local devices (Flax models)"),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="Flax models: float32 | bfloat16 | float16 (JAX) | int8 (ONNX Runtime, "
            "quantized on simulated clusters of the training chamber)"
        ),
    ] = "float32",
    calibrated: Annotated[
        str | None,
        typer.Option(
            help="platt | isotonic: write p_signal calibrated on the training chamber's "
            "validation split (raw score kept as p_signal_raw, the threshold applies to it)"
        ),
    ] = None,
    tta: Annotated[
        str | None,
        typer.Option(
            help="pad-mirror: average p_signal over each window and its mirror across pads "
            "(test-time augmentation; the pad-mirror symmetry of the input is checked and "
            "printed). Time mirroring is not offered: the pulse shape is asymmetric in time"
        ),
    ] = None,
    label: Annotated[bool, typer.Option(help="Also write the input label column")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file")] = False,
    chamber: ChamberOpt = None,
    tree: TreeOpt = None,
    window: WindowOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Write one signal probability (p_signal) per cluster, keyed by event and cluster index.

    The table is written under a temporary name and renamed only when complete. With
    --calibrated the score-file metadata name the method and the fitting split.
    """
    from interp.evaluation.predict import predict_files

    with output_folder(out.parent):
        res = predict_files(
            model,
            files,
            out,
            chunk_size=chunk_size,
            progress=not quiet,
            devices=devices,
            batch_size=batch_size,
            include_label=label,
            overwrite=overwrite,
            read_options=read_options(chamber, tree, window),
            precision=precision,
            calibrated=calibrated,
            tta=tta,
        )
    from interp.data.symmetry import symmetry_line

    for check in res.get("symmetry", []):
        typer.echo(f"{check['file']}: {symmetry_line(check)}")
    typer.echo(
        f"scored {res['clusters']:,} clusters from {res['files']} file(s) with "
        f"{res['model']} in {res['seconds']:.1f} s ({res['clusters_per_s']:,.0f} clusters/s) "
        f"-> {res['path']}"
        + (f" (p_signal calibrated: {calibrated})" if calibrated else "")
        + (f" (test-time augmentation: {tta})" if tta else "")
    )
