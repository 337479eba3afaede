"""Report section ``generalisation``: train x test balanced accuracy over every chamber of a
study, with the drop off the diagonal (matrix stage)."""

from __future__ import annotations

from interp.core.formatting import diff_pts, pct, seed_spread, with_ci
from interp.core.published import published_accuracy
from interp.report.sections import (
    SECTIONS,
    Section,
    SectionInput,
    Table,
    _acc,
    _no_matrix,
    ci_note,
    interval_text,
    load_matrix,
)


def generalisation(inp: SectionInput) -> Section:
    """Train x test accuracy over every chamber of the study, with the drop off-diagonal."""
    title = "Generalisation"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    rows = []
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        own = _acc(cell["evaluations"][c])["value"]
        for t, ev in cell["evaluations"].items():
            acc = _acc(ev)
            pub = published_accuracy(cell["model"], c, t)
            rows.append(
                [
                    cell["model"],
                    c,
                    t,
                    pct(pub),
                    with_ci(acc),
                    diff_pts(acc["value"], pub),
                    "-" if t == c else diff_pts(acc["value"], own),
                    seed_spread(ev["at_0.5"]),
                ]
            )
    data = matrix.get("data", {})
    sizes = "; ".join(
        f"{c}: {d['splits']['train']['clusters']:,} train / {d['splits']['test']['clusters']:,} "
        "test clusters"
        for c, d in data.items()
    )
    return Section(
        title,
        "A study the talk left open: chambers with simulated presets beyond the published two "
        "(preset values marked as estimates in `experiments/presets/`). Published figures exist "
        "only for the 30A GeV VTPC2/MTPCL cells (they are balanced accuracies, the metric "
        "shown); 'diff. to within-chamber' is the change against the model's own "
        f"within-chamber balanced accuracy. Data: {sizes}."
        + interval_text(matrix)
        + ci_note(matrix),
        [
            Table(
                "Balanced accuracy at threshold 0.5 (%)",
                [
                    "model",
                    "trained on",
                    "tested on",
                    "published balanced acc.",
                    "toolkit balanced acc. [CI]",
                    "diff. to published",
                    "diff. to within-chamber",
                    "seed spread (sd, points)",
                ],
                rows,
            )
        ],
    )


SECTIONS["generalisation"] = generalisation
