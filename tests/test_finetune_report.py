"""The ``finetune`` report section, rendered from a small ``finetune.json``."""

from __future__ import annotations

import json

from interp.report.sections import SECTIONS, SectionInput


def _metric(v: float) -> dict:
    return {"balanced_accuracy": {"value": v, "lo": v - 0.01, "hi": v + 0.01}}


def _result() -> dict:
    pairs = []
    for a, b in (("VTPC2", "MTPCL"), ("MTPCL", "VTPC2")):
        curves = {
            kind: [{"n": n, "available": True, "epochs": [1], **_metric(base + 0.01 * i)}
                   for i, n in enumerate((100, 300))]
            for kind, base in (("all", 0.90), ("last", 0.88), ("scratch", 0.70))
        }  # fmt: skip
        pairs.append(
            {
                "model": "mlp", "source": a, "target": b, "last_is_all": False,
                "in_domain": _metric(0.915), "unchanged": _metric(0.85), "curves": curves,
                "clusters_needed": {"all": 300, "last": None, "scratch": None},
            }
        )  # fmt: skip
    config = {"sizes": [100, 300], "draws": 1, "n_boot": 10, "tolerance": 0.01,
              "max_signal_loss": 0.05, "min_sample_epochs": 200, "max_epochs": 2,
              "min_steps_per_epoch": 8, "lr_factor": 0.1, "scratch_lr_finder": False}  # fmt: skip
    budget = {"epochs": {"100": 2, "300": 1}, "val_ratio": 0.214}
    return {"config": config, "budget": budget, "skipped": [], "pairs": pairs, "seconds": 1.0}


def test_section_has_tables_figures_and_clusters_needed(tmp_path) -> None:
    stage = tmp_path / "finetune"
    stage.mkdir()
    (stage / "finetune.json").write_text(json.dumps(_result()))
    inp = SectionInput("cross_chamber", {"finetune": stage}, {}, tmp_path / "figures")
    sec = SECTIONS["finetune"](inp)
    assert not sec.missing
    summary, curves = sec.tables
    assert [r[5] for r in summary.rows] == ["300", "300"]
    assert [r[6] for r in summary.rows] == ["not reached", "not reached"]
    assert summary.rows[0][4] == "-6.5"  # unchanged - in-domain, points
    assert len(curves.rows) == 6 and curves.rows[0][3].startswith("90.0 [")
    assert len(sec.figures) == 2 and all(f.is_file() for f in sec.figures)
    assert "MTPCL_to_VTPC2" in sec.figures[1].name


def test_section_says_why_without_a_stage(tmp_path) -> None:
    inp = SectionInput("cross_chamber", {}, {"finetune": "no matrix stage"}, tmp_path)
    sec = SECTIONS["finetune"](inp)
    assert not sec.tables and "no matrix stage" in sec.missing[0]
