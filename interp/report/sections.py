"""Report sections: structured tables and figures built from finished stage folders.

Every section is a function ``(SectionInput) -> Section`` registered in :data:`SECTIONS`
under the name a study file lists in ``sections``. Tables put the published figure (from
``interp/data/published.json``), the toolkit's figure with its 95 % event-bootstrap interval
and the difference side by side. Nothing here trains or evaluates: sections only read JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from interp.published import citation, load_published, published_accuracy, published_rates
from interp.transfer import policy_line


@dataclasses.dataclass
class Table:
    """A table: caption, header and rows of strings."""

    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclasses.dataclass
class Section:
    """One report section.

    Attributes:
        title: Heading.
        text: Intro paragraph (Markdown inline syntax allowed).
        tables: Tables.
        figures: HTML figure files (a PNG twin beside one is embedded where it exists).
        missing: Sentences saying what could not be produced and why.
    """

    title: str
    text: str = ""
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[Path] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SectionInput:
    """What a section renderer reads.

    Attributes:
        study_name: Study name.
        stages: Stage kind -> folder of the finished stage (absent: not run / missing).
        missing: Stage kind -> reason it is missing.
        figure_dir: Folder for figures the report itself draws.
        png: Write PNG twins of those figures.
    """

    study_name: str
    stages: Mapping[str, Path]
    missing: Mapping[str, str]
    figure_dir: Path
    png: bool = False


def pct(x: float | None, digits: int = 1) -> str:
    """Fraction -> percent string, ``n/a`` for ``None``."""
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def with_ci(m: Mapping[str, Any]) -> str:
    """``value [lo, hi]`` in percent."""
    if m.get("value") is None:
        return "n/a"
    if m.get("lo") is None:
        return pct(m["value"])
    return f"{pct(m['value'])} [{pct(m['lo'])}, {pct(m['hi'])}]"


def diff(toolkit: float | None, published: float | None) -> str:
    """Toolkit - published in percentage points."""
    if toolkit is None or published is None:
        return "n/a"
    return f"{100 * (toolkit - published):+.1f}"


def load_matrix(inp: SectionInput) -> dict[str, Any] | None:
    """``matrix.json`` of the study's matrix stage, or ``None``."""
    folder = inp.stages.get("matrix")
    if folder is None or not (folder / "matrix.json").is_file():
        return None
    return json.loads((folder / "matrix.json").read_text())


def ci_note(matrix: Mapping[str, Any]) -> str:
    """A warning sentence when some interval rests on fewer than 3 test events, else ``""``."""
    unreliable = any(
        not ev["at_0.5"].get("ci_reliable", True)
        for c in matrix["cells"]
        for ev in c["evaluations"].values()
    )
    if not unreliable:
        return ""
    return (
        " **Some test splits hold fewer than 3 events: their intervals are unreliable "
        "(smoke-sized data).**"
    )


def _no_matrix(title: str, inp: SectionInput) -> Section:
    why = inp.missing.get("matrix", "the matrix stage has not run")
    return Section(title, missing=[f"No matrix results: {why}."])


def _acc(ev: Mapping[str, Any]) -> Mapping[str, Any]:
    return ev["at_0.5"]["metrics"]["accuracy"]


def _accuracy_rows(matrix: Mapping[str, Any], diagonal: bool) -> list[list[str]]:
    rows = []
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        for t, ev in cell["evaluations"].items():
            if (t == c) != diagonal:
                continue
            pub = published_accuracy(cell["model"], c, t)
            acc = _acc(ev)
            rows.append([cell["model"], c, t, pct(pub), with_ci(acc), diff(acc["value"], pub)])
    return rows


_ACC_HEADER = [
    "model",
    "trained on",
    "tested on",
    "published (%)",
    "toolkit (%) [95 % CI]",
    "difference (points)",
]


def _accuracy_figure(matrix: Mapping[str, Any], inp: SectionInput, diagonal: bool) -> list[Path]:
    from interp.report.figures import accuracy_bars, write_figures

    name = f"{inp.study_name}_{'within' if diagonal else 'cross'}_accuracy"
    fig = accuracy_bars(matrix, diagonal)
    return write_figures({name: fig}, inp.figure_dir, inp.png, inp.stages["matrix"] / "matrix.json")


def within_chamber(inp: SectionInput) -> Section:
    """Diagonal of the matrix: trained and tested on the same chamber."""
    title = "Within-chamber accuracy"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    return Section(
        title,
        f"Accuracy at threshold 0.5 on the test split of the training chamber. Published: "
        f"{citation()}." + ci_note(matrix),
        [Table("Within-chamber accuracy", _ACC_HEADER, _accuracy_rows(matrix, True))],
        _accuracy_figure(matrix, inp, True),
    )


def cross_chamber(inp: SectionInput) -> Section:
    """Off-diagonal of the matrix: trained on one chamber, tested on another."""
    title = "Cross-chamber accuracy"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    chambers = list(matrix["config"]["chambers"])
    grid = []
    for cell in matrix["cells"]:
        row = [cell["model"], cell["train_chamber"]]
        row += [with_ci(_acc(cell["evaluations"][t])) for t in chambers]
        grid.append(row)
    return Section(
        title,
        "Accuracy at threshold 0.5 of a model trained on one chamber and tested on the other "
        "chamber's test split (no retraining). The published split-convolution figure is "
        "given once without a direction and is filed under train VTPC2."
        + ci_note(matrix)
        + " "
        + policy_line(matrix),
        [
            Table("Cross-chamber accuracy", _ACC_HEADER, _accuracy_rows(matrix, False)),
            Table(
                "Full matrix (toolkit, %)",
                ["model", "trained on", *[f"test {t}" for t in chambers]],
                grid,
            ),
        ],
        _accuracy_figure(matrix, inp, False),
    )


def rates(inp: SectionInput) -> Section:
    """Noise removed / signal lost beside the published single figures."""
    title = "Noise removed and signal lost"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    rows = []
    for cell in matrix["cells"]:
        c, ev = cell["train_chamber"], cell["evaluations"][cell["train_chamber"]]
        pub = published_rates(cell["model"])
        for key, label in (("at_0.5", "0.5"), ("operating_point", "op. point")):
            m = ev[key]["metrics"]
            rows.append(
                [
                    cell["model"],
                    c,
                    f"{label} ({ev[key]['threshold']:.3f})",
                    f"{pct(pub['noise_removed'])} / {pct(pub['signal_lost'])}"
                    + (f" ({pub['operating_chamber']})" if pub["operating_chamber"] else ""),
                    with_ci(m["noise_removed"]),
                    diff(m["noise_removed"]["value"], pub["noise_removed"]),
                    with_ci(m["signal_lost"]),
                    diff(m["signal_lost"]["value"], pub["signal_lost"]),
                ]
            )
    loss = pct(matrix["config"]["max_signal_loss"], 0)
    return Section(
        title,
        "Within-chamber test split. The operating point is the threshold chosen on the "
        f"training chamber's validation split for signal loss <= {loss} %. The talk gives one "
        "noise-removed / signal-lost pair per model (chamber named where stated)."
        + ci_note(matrix),
        [
            Table(
                "Noise removed / signal lost (%)",
                [
                    "model",
                    "trained on",
                    "threshold",
                    "published NR / SL",
                    "toolkit NR [CI]",
                    "NR diff",
                    "toolkit SL [CI]",
                    "SL diff",
                ],
                rows,
            )
        ],
    )


def xgboost(inp: SectionInput) -> Section:
    """Gradient-boosted trees beside the networks on every matrix cell."""
    title = "XGBoost comparison"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    xgb = {
        (c["train_chamber"], t): _acc(ev)["value"]
        for c in matrix["cells"]
        if c["model"] == "xgboost"
        for t, ev in c["evaluations"].items()
    }
    rows = []
    for cell in matrix["cells"]:
        for t, ev in cell["evaluations"].items():
            m = ev["at_0.5"]["metrics"]
            acc = m["accuracy"]["value"]
            ref = xgb.get((cell["train_chamber"], t))
            rows.append(
                [
                    cell["model"],
                    cell["train_chamber"],
                    t,
                    pct(published_accuracy(cell["model"], cell["train_chamber"], t)),
                    with_ci(m["accuracy"]),
                    with_ci(m.get("roc_auc", {"value": None})),
                    diff(acc, ref) if cell["model"] != "xgboost" else "-",
                ]
            )
    missing = [] if xgb else ["XGBoost is not among this matrix's models."]
    return Section(
        title,
        "XGBoost was not part of the talk (no published figure); it is trained on the same "
        "event-wise splits as every network. Last column: network - XGBoost accuracy."
        + ci_note(matrix),
        [
            Table(
                "Accuracy and ROC AUC (%)",
                [
                    "model",
                    "trained on",
                    "tested on",
                    "published acc.",
                    "toolkit acc. [CI]",
                    "ROC AUC [CI]",
                    "minus XGBoost (points)",
                ],
                rows,
            )
        ],
        missing=missing,
    )


SectionFn = Callable[[SectionInput], Section]
SECTIONS: dict[str, SectionFn] = {
    "within_chamber": within_chamber,
    "cross_chamber": cross_chamber,
    "rates": rates,
    "xgboost": xgboost,
}
"""Section name -> renderer (more are registered by :mod:`interp.report.sections_more`)."""


def published_hardware() -> dict[str, Any]:
    """The talk's hardware record."""
    return load_published()["hardware"]
