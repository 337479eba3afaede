"""Reliability diagram data, the explain stage's calibration section, explain progress/-q."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from test_cli_bad_inputs import run_cli_streams

from interp.core.schema import ClusterSet
from interp.evaluation.calibration import calibration_metrics, fit_calibration
from interp.plots.reliability import reliability_caption, reliability_figure

# 4 bins of width 0.25: [0, .25) has 0.1, 0.2 (labels 0, 1); [.25, .5) is empty;
# [.5, .75) has 0.6 (1); [.75, 1] has 0.8, 0.9, 1.0 (1, 1, 0)
P = np.array([0.1, 0.2, 0.6, 0.8, 0.9, 1.0])
Y = np.array([0, 1, 1, 1, 1, 0])


def _cp(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 68.3 % by hand (beta quantiles)."""
    a = 0.5 * (1 - 0.683)
    lo = 0.0 if k == 0 else stats.beta.ppf(a, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - a, k + 1, n - k)
    return lo, hi


def test_reliability_figure_data_matches_a_hand_computation() -> None:
    fig, data = reliability_figure({"raw": (P, Y)}, "t", n_bins=4)
    d = data["raw"]
    np.testing.assert_array_equal(d["n"], [2, 0, 1, 3])
    np.testing.assert_array_equal(d["k"], [1, 0, 1, 2])
    np.testing.assert_allclose(d["mean_p"][[0, 2, 3]], [0.15, 0.6, 0.9])
    ece = (2 * abs(0.5 - 0.15) + 1 * abs(1 - 0.6) + 3 * abs(2 / 3 - 0.9)) / 6
    brier = np.mean((P - Y) ** 2)
    assert d["ece"] == pytest.approx(ece) and d["brier"] == pytest.approx(brier)
    diag, points, bars = fig.data
    assert list(diag.x) == [0.0, 1.0] and list(diag.y) == [0.0, 1.0]
    np.testing.assert_allclose(points.x, [0.15, 0.6, 0.9])
    np.testing.assert_allclose(points.y, [0.5, 1.0, 2 / 3])
    bounds = [_cp(1, 2), _cp(1, 1), _cp(2, 3)]
    np.testing.assert_allclose(np.asarray(points.y) - points.error_y.arrayminus,
                               [b[0] for b in bounds], atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(np.asarray(points.y) + points.error_y.array,
                               [b[1] for b in bounds], atol=1e-12)  # fmt: skip
    assert points.name == f"raw: ECE {ece:.3f}, Brier {brier:.3f}"
    np.testing.assert_allclose(bars.x, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_array_equal(bars.y, [2, 0, 1, 3])
    assert bars.width == pytest.approx(0.25)


def test_reliability_figure_renders_statically(tmp_path: Path) -> None:
    from interp.plots.output import FigureWriter

    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    fig, _ = reliability_figure({"raw": (p, y), "platt": (p**2, y), "isotonic": (p, y)}, "t")
    with FigureWriter(tmp_path) as w:
        w.write(fig, "rel", 900, 750)
    assert w.png_skipped_reason is None
    assert {f.name for f in tmp_path.iterdir()} >= {"rel.html", "rel.png", "rel.pdf"}


@dataclasses.dataclass
class _Cell:
    model: str
    chamber: str
    clf: Any
    run_dir: Path
    parts: dict[str, dict[str, ClusterSet]]
    test_scores: dict[str, np.ndarray]

    @property
    def tag(self) -> str:
        return f"{self.model}_{self.chamber}"


class _FirstPixel:
    def predict_proba(self, charge: np.ndarray) -> np.ndarray:
        return np.asarray(charge[:, 0, 0], np.float32)


def _set(n: int, seed: int) -> ClusterSet:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(z - 1.5)))).astype(np.int8)
    charge = np.zeros((n, 2, 2), np.float32)
    charge[:, 0, 0] = 1 / (1 + np.exp(-z))
    return ClusterSet(charge, y, np.arange(n, dtype=np.int64), "VTPC2")


def test_reliability_section_writes_the_figure_and_summary_numbers(tmp_path: Path) -> None:
    from interp.study.reliability_section import reliability_section

    val, test = _set(3000, 1), _set(3000, 2)
    clf = _FirstPixel()
    cal = fit_calibration(clf.predict_proba(val.charge), val.label, "VTPC2")
    cal.save(tmp_path)
    cell = _Cell("perceptron", "VTPC2", clf, tmp_path, {"VTPC2": {"val": val, "test": test}},
                 {"VTPC2": clf.predict_proba(test.charge)})  # fmt: skip
    written: list[str] = []
    summary: dict[str, Any] = {}
    reliability_section(cell, lambda fig, name, *a: written.append(name), summary)
    assert written == ["reliability_perceptron_VTPC2"]
    entry = summary["calibration"]["perceptron_VTPC2"]
    assert entry["source"] == "calibration.json" and entry["n_val"] == 3000
    t = entry["test"]
    assert set(t) == {"raw", "platt", "isotonic"}
    assert t["platt"]["ece"] < t["raw"]["ece"] and t["isotonic"]["ece"] < t["raw"]["ece"]
    assert t["platt"]["brier"] < t["raw"]["brier"]
    assert t == calibration_metrics(cell.test_scores["VTPC2"], test.label, cal)
    caption = reliability_caption(entry)
    assert "perceptron trained on VTPC2" in caption and f"{t['raw']['ece']:.3f}" in caption
    # a run folder without calibration.json: fitted on the validation split, not stored
    other = tmp_path / "old"
    other.mkdir()
    reliability_section(dataclasses.replace(cell, run_dir=other), lambda *a: None, summary)
    assert summary["calibration"]["perceptron_VTPC2"]["test"] == t
    assert "not stored" in summary["calibration"]["perceptron_VTPC2"]["source"]
    assert list(other.iterdir()) == []


@pytest.mark.parametrize("quiet", [False, True])
def test_explain_progress_is_plain_lines_off_a_terminal_and_silent_with_q(
    quiet: bool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import interp.study.explain_stage as stage

    def fake_explain_run(
        workdir: Path, out: Path, png: bool, config: Any, progress: Any
    ) -> dict[str, Any]:
        if progress is not None:
            progress("explain perceptron trained on VTPC2")
            progress("explain physics breakdowns (trained VTPC2, test VTPC2)")
        return {"figures": [], "png_skipped_reason": None, "rules": {}}

    monkeypatch.setattr(stage, "explain_run", fake_explain_run)
    args = ["explain", str(tmp_path), "--no-png", *(["-q"] if quiet else [])]
    code, out, err = run_cli_streams(args, capsys)
    assert code == 0 and "wrote 0 HTML" in out, err
    assert "\r" not in err and "\x1b[" not in err and "step/s" not in err and "it/s" not in err
    if quiet:
        assert err == ""
    else:  # stderr is not a terminal under capsys: one plain line per tick
        assert err.splitlines() == [
            "explain perceptron trained on VTPC2",
            "explain physics breakdowns (trained VTPC2, test VTPC2)",
        ]


def test_the_report_summary_shows_the_first_reliability_diagram_with_its_caption(
    tmp_path: Path,
) -> None:
    import json
    from types import SimpleNamespace

    from interp.report.summary import build_summary
    from interp.study.experiments import StageResult

    entry = {"model": "perceptron", "chamber": "VTPC2", "signal_fraction": 0.26, "n_val": 150,
             "test": {m: {"ece": e, "brier": 0.1} for m, e in
                      (("raw", 0.25), ("platt", 0.06), ("isotonic", 0.05))}}  # fmt: skip
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "explain_summary.json").write_text(
        json.dumps({"calibration": {"perceptron_VTPC2": entry}})
    )
    run = StageResult("explain", "k", tmp_path, "done", 0.0, {})
    fig = tmp_path / "figures" / "reliability_perceptron_VTPC2.html"
    summary = build_summary([(SimpleNamespace(name="s"), {"explain": run})], {}, [fig])
    groups = dict(summary.groups)
    (kf,) = groups["Where do they fail?"]
    assert kf.path == fig and kf.caption == reliability_caption(entry)
    assert "ECE (Brier): raw 0.250 (0.100), platt 0.060 (0.100), isotonic 0.050" in kf.caption
