"""``explain``: render every explanation figure for a trained matrix run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.app import app


@app.command("explain")
def explain(
    run_workdir: Annotated[
        Path,
        typer.Argument(
            help="Study folder of `tpc-interp matrix`, or one classifier folder (e.g. a fold "
            "ensemble's runs/MODEL_foldsK/CHAMBER of `train --folds K`)"
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default RUN_WORKDIR/explain)")
    ] = None,
    png: Annotated[
        bool, typer.Option("--png/--no-png", help="Also write PNG + PDF (matplotlib, no browser)")
    ] = True,
    attr_clusters: Annotated[int, typer.Option(help="Test clusters per attribution map set")] = 512,
    ig_steps: Annotated[
        int,
        typer.Option(help="Integrated-gradient path steps (initial intervals when adaptive)"),
    ] = 64,
    ig_max_steps: Annotated[
        int,
        typer.Option(
            help="Most integrated-gradient nodes per cluster: each cluster's path is refined "
            "until its completeness gap is within 1 %; <= --ig-steps: fixed steps"
        ),
    ] = 1024,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress (only the closing summary)")
    ] = False,
) -> None:
    """Weight maps, attributions, SHAP, confusion matrices, curves, rule and physics figures.

    Given one classifier folder (``classifier.json``), e.g. a fold ensemble, only its weight
    maps and gradient attributions on its training chamber's test split (an ensemble's
    attributions are of the log-odds of its mean probability)."""
    from interp.backends.classifier import CLASSIFIER_FILE
    from interp.study.explain_stage import ExplainConfig, explain_run

    out_dir = out if out is not None else run_workdir / "explain"
    chunk = 16 if ig_steps % 16 == 0 else ig_steps
    cfg = ExplainConfig(
        attr_clusters=attr_clusters, ig_steps=ig_steps, ig_chunk=chunk, ig_max_steps=ig_max_steps
    )
    if (run_workdir / CLASSIFIER_FILE).is_file():
        from interp.study.explain_folder import explain_classifier_folder

        say = None if quiet else (lambda msg: typer.echo(msg, err=True))
        s = explain_classifier_folder(run_workdir, out_dir, png=png, config=cfg, progress=say)
        typer.echo(f"wrote {len(s['figures'])} figure files for {s['model']} ({s['kind']}) "
                   f"to {out_dir}")  # fmt: skip
        if s.get("attributed_function"):
            gaps = ", ".join(
                f"{v['max_abs_gap_logodds']:.3g} ({_within(v)})"
                for v in s["ig_completeness"].values()
            )
            typer.echo(f"attributions of the {s['attributed_function']}; integrated-gradient "
                       f"completeness: max |gap| {gaps} (log-odds)")  # fmt: skip
        typer.echo(f"summary: {out_dir / 'explain_summary.json'}")
        return
    if quiet:
        summary = explain_run(run_workdir, out_dir, png=png, config=cfg, progress=None)
    else:
        summary = _with_bar(
            lambda say: explain_run(run_workdir, out_dir, png=png, config=cfg, progress=say)
        )
    n_html = sum(f.endswith(".html") for f in summary["figures"])
    n_png = sum(f.endswith(".png") for f in summary["figures"])
    n_pdf = sum(f.endswith(".pdf") for f in summary["figures"])
    typer.echo(f"wrote {n_html} HTML, {n_png} PNG and {n_pdf} PDF figures to {out_dir}")
    if summary["png_skipped_reason"]:
        typer.echo(f"static images skipped: {summary['png_skipped_reason']}")
    for chamber, r in summary["rules"].items():
        best = r["rules"]["lstsq"]
        typer.echo(
            f"rule ({chamber}): {best['text']}  test accuracy "
            + ", ".join(f"{t} {v['accuracy']:.3f}" for t, v in best["test"].items())
            + " | perceptron "
            + ", ".join(
                f"{t} {v['accuracy']:.3f}" for t, v in r["perceptron"]["test_at_0.5"].items()
            )
        )
    typer.echo(f"summary: {out_dir / 'explain_summary.json'}")


def _within(record: dict[str, Any]) -> str:
    """``"within rtol 0.01, nodes 16 -> median 28, max 260"`` for a completeness record."""
    verdict = "within" if record.get("passed") else f"{record.get('n_outside')} outside"
    nodes = record["steps"]
    if record.get("adaptive"):
        nodes = f"{nodes} -> median {record['nodes_median']:g}, max {record['nodes_max']}"
    return f"{verdict} rtol {record.get('rtol', 0.01):g}, nodes {nodes}"


def _with_bar(run: Any) -> Any:
    """Runs ``run(say)`` with a step counter bar on a terminal; elsewhere (a log file) each
    status message is one plain line on stderr."""
    from tqdm.auto import tqdm

    with tqdm(desc="explain", unit="step", disable=None) as bar:
        if bar.disable:
            return run(lambda msg: typer.echo(msg, err=True))

        def say(msg: str) -> None:
            bar.set_postfix_str(msg[:60])
            bar.update()

        return run(say)
