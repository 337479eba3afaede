"""Data commands: ``simulate``, ``inspect``, ``split``, ``figures-clusters``, ``import``.

Commands that read user files take the read options ``--chamber`` (for a file that names no
chamber), ``--tree`` (ROOT TTree or HDF5 group) and ``--window`` (flat ``charge`` layouts);
see :func:`interp.data.io.read_clusters`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from interp.cli.app import app
from interp.cli.outputs import output_folder
from interp.data.simulate_file import simulate_to_file
from interp.data.splits import split_events, splits_path_for
from interp.data.summary import inspect_files

ChamberOpt = Annotated[
    str | None,
    typer.Option(help="Chamber name for files that name none (a file's own chamber wins)"),
]
TreeOpt = Annotated[
    str | None,
    typer.Option(
        help="ROOT TTree (or HDF5 group) holding the clusters (default: 'clusters' or the only one)"
    ),
]
WindowOpt = Annotated[
    str | None,
    typer.Option(
        help="PADSxTIME window of a flat charge layout (e.g. 11x20), if the file does not give it"
    ),
]


def read_options(chamber: str | None, tree: str | None, window: str | None) -> dict:
    """The ``chamber``/``tree``/``window`` keywords of :func:`interp.data.io.read_clusters`."""
    from interp.data.io.registry import parse_window

    return {
        "chamber": chamber,
        "tree": tree,
        "window": None if window is None else parse_window(window, "--window"),
    }


def _parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected three comma-separated numbers, got {text!r}") from None
    if len(parts) != 3:
        raise typer.BadParameter(f"expected train,val,test fractions, got {text!r}")
    return parts  # type: ignore[return-value]


def register_preset_file(path: Path) -> None:
    """Registers a chamber preset file; any problem is one line naming the file (and field).

    Raises:
        ClusterDataError: Missing, unreadable or invalid preset file.
    """
    from interp.core.errors import ClusterDataError, TPCInterpError
    from interp.data.chambers import load_chamber_preset

    if not path.is_file():
        raise ClusterDataError(str(path), None, "preset file not found (--preset-file)")
    try:
        load_chamber_preset(path)
    except TPCInterpError:
        raise
    except (ValueError, TypeError, OSError) as exc:
        text = " ".join(str(exc).split())
        prefix = f"{path}: "
        reason = text[len(prefix) :] if text.startswith(prefix) else text
        raise ClusterDataError(str(path), None, reason) from None


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .h5 .parquet .root .npz")],
    chamber: Annotated[str, typer.Option(help="Chamber preset name (VTPC2, MTPCL, ...)")] = "VTPC2",
    events: Annotated[int, typer.Option(min=1, help="Number of events")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same clusters)")] = 1,
    first_event: Annotated[int, typer.Option(min=0, help="Id of the first event")] = 0,
    clusters_per_event: Annotated[
        int | None, typer.Option(min=1, help="Clusters per event (default: preset, 28,764)")
    ] = None,
    preset_file: Annotated[
        Path | None, typer.Option(help="JSON/TOML file defining a further chamber preset")
    ] = None,
    fractions: Annotated[
        str, typer.Option(help="train,val,test fractions of the event-wise splits")
    ] = "0.7,0.15,0.15",
    split_seed: Annotated[int, typer.Option(help="Seed of the event-wise splits")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Simulate labelled clusters of one chamber, event by event, into a cluster file."""
    if preset_file is not None:
        register_preset_file(preset_file)
    with output_folder(out.parent):
        res = simulate_to_file(
            chamber,
            events,
            seed,
            out,
            first_event=first_event,
            clusters_per_event=clusters_per_event,
            fractions=_parse_fractions(fractions),
            split_seed=split_seed,
            progress=not quiet,
        )
    typer.echo(
        f"wrote {res['clusters']:,} clusters ({100 * res['noise_fraction']:.1f} % noise) "
        f"to {res['path']} in {res['seconds']:.1f} s"
        + (f"; splits in {res['splits']}" if res["splits"] else "")
    )


@app.command()
def inspect(
    files: Annotated[list[Path], typer.Argument(help="Cluster files (any supported format)")],
    chunk_size: Annotated[int, typer.Option(min=1, help="Clusters read at a time")] = 65536,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    chamber: ChamberOpt = None,
    tree: TreeOpt = None,
    window: WindowOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Counts per class/chamber/event/noise kind and charge statistics of cluster files."""
    from interp.data.summary import format_summary

    summary = inspect_files(
        files, chunk_size=chunk_size, progress=not quiet, **read_options(chamber, tree, window)
    )
    if as_json:
        typer.echo(json.dumps(summary, indent=1, default=list))
    else:
        typer.echo(format_summary(summary, title=", ".join(str(f) for f in files)))


@app.command()
def split(
    file: Annotated[Path, typer.Argument(help="Cluster file")],
    fractions: Annotated[str, typer.Option(help="train,val,test fractions")] = "0.7,0.15,0.15",
    seed: Annotated[int, typer.Option(help="Seed of the assignment")] = 0,
    chamber: ChamberOpt = None,
    tree: TreeOpt = None,
    window: WindowOpt = None,
) -> None:
    """(Re)make the event-wise, stratified splits of a cluster file and save them beside it."""
    from interp.data.io import iter_clusters

    labels, events = [], []
    for chunk in iter_clusters(file, **read_options(chamber, tree, window)):
        labels.append(chunk.label)
        events.append(chunk.event_id)
    splits = split_events(
        np.concatenate(events),
        np.concatenate(labels),
        _parse_fractions(fractions),
        seed,
        source=str(file),
    )
    path = splits.save(splits_path_for(file))
    for name, c in splits.counts.items():
        typer.echo(
            f"{name:<5s} {c['events']:>5d} events {c['clusters']:>10,} clusters "
            f"{100 * c['noise'] / max(c['clusters'], 1):5.1f} % noise"
        )
    typer.echo(f"saved {path}")


@app.command("figures-clusters")
def figures_clusters(
    files: Annotated[list[Path], typer.Argument(help="Cluster files")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")] = Path(
        "figures/output"
    ),
    examples: Annotated[int, typer.Option(min=1, help="Examples per group")] = 4,
    max_clusters: Annotated[int, typer.Option(help="Clusters read per file")] = 200_000,
    png: Annotated[bool, typer.Option(help="Also write PNG + PDF")] = True,
    chamber: ChamberOpt = None,
    tree: TreeOpt = None,
    window: WindowOpt = None,
) -> None:
    """Example windows per class and per noise kind for each file (HTML + PNG + PDF)."""
    from interp.data.io import count_clusters, iter_clusters
    from interp.plots.clusters import example_clusters_figure
    from interp.plots.output import FigureWriter

    options = read_options(chamber, tree, window)
    for f in files:  # every file is checked before the first figure is written
        count_clusters(f, **options)
    with output_folder(out), FigureWriter(out, png=png) as writer:
        for f in files:
            chunk = next(iter_clusters(f, chunk_size=max_clusters, **options))
            fig = example_clusters_figure(chunk, n_examples=examples)
            path = writer.write(fig, f"example_clusters_{chunk.chamber}", width=1100, height=1400)
            typer.echo(f"wrote {path}")
        if writer.png_skipped_reason:
            typer.echo(f"note: static images not written: {writer.png_skipped_reason}")


@app.command("import")
def import_(
    sources: Annotated[list[Path], typer.Argument(help="Source files (.root .h5 .parquet .npz)")],
    chamber: Annotated[str, typer.Option(help="Chamber name stored in the output")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: .h5 .parquet .root .npz")],
    charge: Annotated[str, typer.Option(help="Source column of the charge windows")] = "charge",
    label: Annotated[str, typer.Option(help="Source column of the labels")] = "label",
    event: Annotated[
        str, typer.Option(help="Source column(s) of the event key, e.g. run,event")
    ] = "event_id",
    axes: Annotated[
        str, typer.Option(help="Order of the stored window axes: pad,time or time,pad")
    ] = "pad,time",
    label_map: Annotated[
        str | None,
        typer.Option(help="Label codes to 0 (noise) / 1 (signal): good=1,bad=0 or '1,2->0,1'"),
    ] = None,
    tree: TreeOpt = None,
    window: WindowOpt = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Clusters converted at a time")] = 65536,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Convert cluster files of another layout (names, axis order, label codes, per-event
    jagged trees) into the toolkit's schema, streaming with bounded memory."""
    from interp.data.io.convert import ImportSpec, import_clusters, parse_axes, parse_label_map

    spec = ImportSpec(
        charge=charge,
        label=label,
        event=tuple(e.strip() for e in event.split(",") if e.strip()),
        axes=parse_axes(axes),
        label_map=None if label_map is None else parse_label_map(label_map),
        tree=tree,
        window=read_options(None, None, window)["window"],
        chunk_size=chunk_size,
    )
    with output_folder(out.parent):
        res = import_clusters(sources, out, chamber, spec, overwrite=overwrite, progress=not quiet)
    for s in res["sources"]:
        about = [s["format"], f"{s['entries']:,} entries"]
        about += [f"{k} {s[k]}" for k in ("tree", "compression") if s.get(k)]
        typer.echo(f"read {s['path']} ({', '.join(about)})")
    typer.echo(f"layout: {res['layout']}")
    for field, line in res["mapping"].items():
        typer.echo(f"  {field:<8s} <- {line}")
    typer.echo(
        f"wrote {res['clusters']:,} clusters of {res['events']:,} events "
        f"({100 * res['noise_fraction']:.1f} % noise, chamber {res['chamber']}, window "
        f"{res['window'][0]}x{res['window'][1]}) to {res['path']} in {res['seconds']:.1f} s"
    )
