"""Report section ``speed``: seconds per event, the study's own inference timing beside the
published CPU/GPU figures (and a dedicated benchmark's table found in the work directory)."""

from __future__ import annotations

from pathlib import Path

from interp.core.formatting import sig
from interp.core.published import load_published
from interp.report.sections import (
    SECTIONS,
    Section,
    SectionInput,
    Table,
    _no_matrix,
    load_matrix,
)

BENCHMARK_DIR = "speed_benchmark"
BENCHMARK_FILE = "speed.md"
"""A dedicated speed benchmark's table, read from ``WORKDIR/speed_benchmark/speed.md`` when present
(written there by ``benchmarks/speed.py --out WORKDIR/speed_benchmark``)."""


def benchmark_file(inp: SectionInput) -> Path | None:
    """``WORKDIR/speed_benchmark/speed.md`` of the study's work directory (stage folders are
    ``WORKDIR/<stage>/<config hash>``), or ``None`` without a matrix stage folder."""
    folder = inp.stages.get("matrix")
    if folder is None:
        return None
    return Path(folder).parent.parent / BENCHMARK_DIR / BENCHMARK_FILE


def speed(inp: SectionInput) -> Section:
    """Seconds per event: published CPU/GPU beside the toolkit's measured inference."""
    title = "Seconds per event"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    pub = load_published()
    rows = []
    for model in matrix["config"]["models"]:
        times = [
            ev["seconds_per_published_event"]
            for c in matrix["cells"]
            if c["model"] == model
            for ev in c["evaluations"].values()
        ]
        mine = min(times) if times else None
        p = pub["models"].get(model, {}).get("seconds_per_event", {})
        ratio = "n/a" if mine is None or p.get("cpu") is None else f"{mine / p['cpu']:.2g}"
        rows.append([model, sig(p.get("cpu")), sig(p.get("gpu")), sig(mine), ratio])
    hw = pub["hardware"]
    sec = Section(
        title,
        "Toolkit: wall time of `predict_proba` on a test split, scaled to the published "
        "28,763.75 clusters per event, best of the matrix cells (this machine's CPU, JAX/XGBoost, "
        "batch inference; no GPU). Published: "
        f"{hw['framework']} (2020) on CPU {hw['cpu']} and GPU {hw['gpu']}. Different hardware "
        "and framework: the ratio is a comparison of set-ups, not a benchmark of one code.",
        [
            Table(
                "Seconds per event",
                ["model", "published CPU s", "published GPU s", "toolkit CPU s", "toolkit/pub."],
                rows,
            )
        ],
    )
    bench_md = benchmark_file(inp)
    if bench_md is not None and bench_md.is_file():
        table, machine = _first_md_table(bench_md.read_text(encoding="utf-8"))
        if table is not None:
            table.caption = (
                "Dedicated benchmark (`benchmarks/speed.py`, run into the work directory, not "
                "re-run by reproduce; median of repeats at 28,764 clusters per event)"
            )
            sec.tables.append(table)
        sec.text += f" Benchmark set-up: {machine} Full results: `{bench_md}`."
    else:
        sec.text += (
            " The dedicated per-model benchmark with repeats (`benchmarks/speed.py` in the "
            f"source tree) is not run by reproduce; run it with `--out WORKDIR/{BENCHMARK_DIR}` "
            "to add its table here."
        )
    return sec


def _first_md_table(text: str) -> tuple[Table | None, str]:
    """The first pipe table of a Markdown text and its first paragraph starting "Machine"."""
    lines = text.splitlines()
    machine = next((ln for ln in lines if ln.startswith("Machine")), "")
    block: list[str] = []
    for ln in lines:
        if ln.startswith("|"):
            block.append(ln)
        elif block:
            break
    if len(block) < 3:
        return None, machine
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in block]
    return Table("", cells[0], cells[2:]), machine


SECTIONS["speed"] = speed
