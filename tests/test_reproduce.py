"""``reproduce`` end to end on the smoke profile: report, caching, user files = simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interp.cli import _typer_app as app
from interp.study.experiments import load_studies, load_study, simulate_command, study_names

runner = CliRunner()
CHAMBERS = ("VTPC2", "MTPCL")

STUDY = """
title = "Test study"
description = "Smoke-sized study for the test suite."
stages = ["matrix"]
sections = ["within_chamber", "cross_chamber", "rates", "xgboost", "speed"]
[profiles.smoke.matrix]
models = ["perceptron", "xgboost"]
n_boot = 50
"""


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("study") / "tiny.toml"
    path.write_text(STUDY)
    return path


def _reproduce(study_file: Path, work: Path, *extra: str):
    """``tpc-interp reproduce STUDY --profile smoke --workdir WORK --no-png -q EXTRA...``."""
    args = ["reproduce", str(study_file), "--profile", "smoke", "--workdir", str(work)]
    return runner.invoke(app, [*args, "--no-png", "-q", *extra])


@pytest.fixture(scope="module")
def builtin_run(study_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("work")
    res = _reproduce(study_file, work)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return work


def _matrix(work: Path) -> dict:
    (path,) = (work / "matrix").glob("*/matrix.json")
    return json.loads(path.read_text())


def _numbers(matrix: dict) -> dict:
    return {
        (c["model"], c["train_chamber"], t): (
            ev["at_0.5"]["metrics"],
            ev["operating_point"]["threshold"],
            ev["operating_point"]["metrics"],
        )
        for c in matrix["cells"]
        for t, ev in c["evaluations"].items()
    }


def test_every_study_config_loads() -> None:
    names = study_names()
    assert {"within_chamber", "cross_chamber", "beam_158", "third_chamber"} <= set(names)
    in_all = {s.name for s in load_studies("all")}
    opt_out = {n for n in names if not load_study(n).in_all}
    assert in_all == set(names) - opt_out and "tracking" in opt_out  # ~7 min: run by name
    for study in (load_study(n) for n in names):
        for profile in ("smoke", "quick", "full"):
            assert study.profile(profile).minutes is not None, (study.name, profile)
            if "matrix" in study.stages:
                study.register_presets()
                assert study.matrix_config(profile).profile == profile
    assert load_study("beam_158").matrix_config("quick").chambers[-1] == "MTPCL_158"


def test_report_numbers_are_the_matrix_numbers(builtin_run: Path) -> None:
    """Every within/cross-chamber row shows the matrix's balanced accuracy (the published
    metric), the published figure, their difference, and plain accuracy only as the secondary
    column, in REPORT.md and index.html."""
    from interp.core.published import published_accuracy

    out = builtin_run / "report-tiny-smoke"
    md = (out / "REPORT.md").read_text()
    html = (out / "index.html").read_text()
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[1] in CHAMBERS and cells[2] in CHAMBERS:
            rows[tuple(cells[:3])] = cells
    matrix = _matrix(builtin_run)
    n = 0
    for c in matrix["cells"]:
        for t, ev in c["evaluations"].items():
            row = rows[(c["model"], c["train_chamber"], t)]
            m = ev["at_0.5"]["metrics"]
            ba, plain = m["balanced_accuracy"]["value"], m["accuracy"]["value"]
            pub = published_accuracy(c["model"], c["train_chamber"], t)
            assert row[3] == ("n/a" if pub is None else f"{100 * pub:.1f}")
            assert row[4].split(" ")[0] == f"{100 * ba:.1f}"
            assert row[7].split(" ")[0] == f"{100 * plain:.1f}"
            if pub is not None:
                assert float(row[5]) == pytest.approx(100 * (ba - pub), abs=0.051)
                assert f"<td>{row[4]}</td>" in html
            n += 1
    assert n == len(matrix["cells"]) * len(CHAMBERS)
    assert "balanced accuracies" in md and "What the simulator was tuned to" in md
    assert "Provenance" in md and "Provenance" in html
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["packages"]["numpy"] != "not installed"
    assert prov["machine"]["cpu_count"] >= 1
    assert (out / "figures" / "tiny_within_accuracy.html").is_file()


def test_second_run_reuses_artefacts(builtin_run: Path, study_file: Path) -> None:
    before = _matrix(builtin_run)
    t0 = time.perf_counter()
    res = _reproduce(study_file, builtin_run)
    seconds = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    assert seconds < 15, seconds
    prov = json.loads((builtin_run / "report-tiny-smoke" / "provenance.json").read_text())
    assert prov["stages"]["tiny/matrix"]["status"] == "reused"
    assert _matrix(builtin_run) == before


# h5 repeats the whole study; the other formats only XGBoost (same data, same splits, less time)
@pytest.mark.parametrize(
    ("fmt", "models"),
    [("h5", None), ("parquet", "xgboost"), ("root", "xgboost"), ("npz", "xgboost")],
)
def test_simulate_files_give_same_numbers(
    fmt: str, models: str | None, builtin_run: Path, study_file: Path, tmp_path: Path
) -> None:
    if models is not None:
        text = study_file.read_text().replace('"perceptron", "xgboost"', f'"{models}"')
        study_file = tmp_path / "tiny.toml"
        study_file.write_text(text)
    cfg = load_study(study_file).matrix_config("smoke")
    data_args = []
    for chamber in CHAMBERS:
        out = tmp_path / f"{chamber}.{fmt}"
        res = runner.invoke(app, [*simulate_command(chamber, cfg, out), "-q"])
        assert res.exit_code == 0, res.output
        data_args += ["--data", f"{chamber}={out}"]
    work = tmp_path / "work"
    res = _reproduce(study_file, work, *data_args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    mine, ref = _matrix(work), _matrix(builtin_run)
    assert not any(d["simulated"] for d in mine["data"].values())
    for chamber in CHAMBERS:
        assert mine["data"][chamber]["splits"] == ref["data"][chamber]["splits"]
    ref_numbers = {k: v for k, v in _numbers(ref).items() if k[0] in cfg.models}
    assert _numbers(mine) == ref_numbers


def test_missing_stage_is_reported(builtin_run: Path, tmp_path: Path) -> None:
    from interp.report import build_report
    from interp.study.experiments import StageResult

    study = load_study("weight_maps")
    (folder,) = (builtin_run / "matrix").glob("*/")
    results = {
        "matrix": StageResult("matrix", folder.name, folder, "reused", 1.0, {}),
        "explain": StageResult("explain", "", tmp_path, "missing", 0.0, {}, "explain broke"),
    }
    paths = build_report([(study, results)], tmp_path / "rep", "smoke", "test", 0.0)
    md = paths["markdown"].read_text()
    assert "**Not produced:** No explanation figures: explain broke." in md
    assert "Not produced:</b> No explanation figures: explain broke." in paths["html"].read_text()


def test_failed_explain_stage_exits_nonzero_and_is_named(
    builtin_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import interp.study.explain_stage as explain_report

    def broken(*args, **kwargs):
        raise RuntimeError("simulated explain crash")

    monkeypatch.setattr(explain_report, "explain_run", broken)
    text = STUDY.replace('stages = ["matrix"]', 'stages = ["matrix", "explain"]')
    text = text.replace('sections = ["within_chamber"', 'sections = ["weights", "within_chamber"')
    study = tmp_path / "tinyx.toml"
    study.write_text(text)
    res = _reproduce(study, builtin_run)  # matrix reused, explain fails
    assert res.exit_code == 1, res.output
    assert "FAILED stage tinyx/explain" in res.output
    md = (builtin_run / "report-tinyx-smoke" / "REPORT.md").read_text()
    head = md.split("Contents:", 1)[0]
    assert "FAILED STAGES (1)" in head and "tinyx/explain" in head
    assert "simulated explain crash" in head
    assert "Within-chamber accuracy" in md  # the tables are still there


def _summary_md(md: str) -> str:
    """The summary section of a REPORT.md (from its heading to the first study)."""
    start = md.index("## Summary")
    return md[start : md.index('<a id="', start + 1)]


def _finding(summary: str, label: str) -> str:
    (line,) = [ln for ln in summary.splitlines() if ln[:1].isdigit() and label in ln]
    return line


def test_summary_comes_first_and_its_findings_are_the_matrix_numbers(builtin_run: Path) -> None:
    """The summary is the first section; each finding's numbers, parsed back from the text,
    are the matrix's (computed here independently of interp.report.summary)."""
    import re

    out = builtin_run / "report-tiny-smoke"
    md, html = (out / "REPORT.md").read_text(), (out / "index.html").read_text()
    assert md.index("## Summary") < md.index("## Test study")
    assert html.index('id="summary"') < html.index('id="tiny"')
    summary = _summary_md(md)
    assert "balanced accuracy (the published metric) beside the published figures" in summary
    matrix = _matrix(builtin_run)

    def ba(cell: dict, t: str) -> float:
        return cell["evaluations"][t]["at_0.5"]["metrics"]["balanced_accuracy"]["value"]

    # ordering within each chamber, with the paired difference and its significance
    line = _finding(summary, "Model ordering")
    assert "(#tiny-" in line  # linked to its evidence section
    for c in CHAMBERS:
        part = line.split(f"{c}: ", 1)[1].split(";")[0]
        got = re.findall(r"(\w+) (\d+\.\d) %", part)
        want = sorted(
            ((x["model"], ba(x, c)) for x in matrix["cells"] if x["train_chamber"] == c),
            key=lambda mv: -mv[1],
        )
        assert [(m, float(v)) for m, v in got] == [(m, round(100 * v, 1)) for m, v in want]
        links = re.findall(r"\(([+-]\d+\.\d) points, (significant|not significant)\)", part)
        assert len(links) == len(want) - 1
        for (a, _), (b, _), (d, sig) in zip(want, want[1:], links, strict=False):
            (p,) = [
                q
                for q in matrix["paired"]
                if q["train_chamber"] == c == q["test_chamber"]
                and {q["model_a"], q["model_b"]} == {a, b}
            ]
            sign = 1 if p["model_a"] == a else -1
            assert float(d) == pytest.approx(100 * sign * p["value"], abs=0.051)
            assert (sig == "significant") == p["significant"]

    # the largest cross-chamber drop
    drops = [
        (ba(x, x["train_chamber"]) - ba(x, t), x["model"], x["train_chamber"], t)
        for x in matrix["cells"]
        for t in x["evaluations"]
        if t != x["train_chamber"]
    ]
    drop, model, c, t = max(drops)
    line = _finding(summary, "Largest cross-chamber drop")
    assert f"{model} trained on {c}" in line and f"on {t} (" in line
    assert float(re.search(r"\(([+-]\d+\.\d) points\)", line).group(1)) == pytest.approx(
        -100 * drop, abs=0.051
    )

    # the operating point beside the published rates
    from interp.core.published import published_rates

    line = _finding(summary, "At the operating point")
    for m, ch, nr, sl in re.findall(r"(\w+) \((\w+)\) (\d+\.\d) % / (\d+\.\d) %", line):
        (cell,) = [x for x in matrix["cells"] if x["model"] == m and x["train_chamber"] == ch]
        op = cell["evaluations"][ch]["operating_point"]["metrics"]
        assert float(nr) == round(100 * op["noise_removed"]["value"], 1)
        assert float(sl) == round(100 * op["signal_lost"]["value"], 1)
        assert f"published {100 * published_rates(m)['noise_removed']:.1f}" in line

    # the strongest feature shift and the recalibration counts
    if matrix.get("shift"):
        line = _finding(summary, "Largest feature shift")
        for key, sh in matrix["shift"].items():
            ks = max(v["ks"] for f in sh["features"].values() for v in f["classes"].values())
            assert f"{key}: " in line
            part = line.split(f"{key}: ", 1)[1]
            assert float(re.search(r"KS (\d\.\d\d)", part).group(1)) == pytest.approx(ks, abs=0.006)
        line = _finding(summary, "Few-shot recalibration")
        for x in matrix["cells"]:
            for t, tr in x.get("transfer", {}).items():
                need = tr["recalibration"]["clusters_needed"]
                part = line.split(f"{x['train_chamber']}->{t}: ", 1)[1].split(";")[0]
                want = "not within the sizes tried" if need is None else str(need)
                assert f"{x['model']} {want}" in part


def test_summary_figures_are_inline_exist_and_carry_numbers(builtin_run: Path) -> None:
    """Key figures are inline (Markdown image / <img>) with a caption holding a number, every
    inline file exists, and every figure of the report is listed under All figures."""
    import re

    out = builtin_run / "report-tiny-smoke"
    md, html = (out / "REPORT.md").read_text(), (out / "index.html").read_text()
    summary = _summary_md(md)
    assert "### How do they transfer?" in summary or "### Where do they fail?" in summary
    refs = re.findall(r"\]\(([^)#]+)\)", summary)
    assert refs and all((out / r).is_file() for r in refs), refs
    captions = [ln for ln in summary.splitlines() if ln.startswith("*Figure ")]
    assert captions and all(re.search(r"\d+\.\d", c.split(".*", 1)[1]) for c in captions)
    html_summary = html[html.index('id="summary"') : html.index('id="tiny"')]
    for src in re.findall(r'<(?:img|iframe) src="([^"]+)"', html_summary):
        assert (out / src).is_file(), src
    assert "<figcaption>" in html_summary
    listed = md[md.index('<a id="all-figures">') :]
    for fig in (out / "figures").glob("*.html"):
        assert f"figures/{fig.name}" in listed, fig.name


def test_summary_images_are_pngs_on_disk(builtin_run: Path, tmp_path: Path) -> None:
    """With static images on, the summary's inline figures are PNG images that exist, each
    linked to its interactive HTML."""
    import re

    from interp.report import build_report
    from interp.study.experiments import StageResult

    (folder,) = (builtin_run / "matrix").glob("*/")
    results = {"matrix": StageResult("matrix", folder.name, folder, "reused", 1.0, {})}
    paths = build_report(
        [(load_study("cross_chamber"), results)], tmp_path, "smoke", "t", 0.0, True
    )
    summary = _summary_md(paths["markdown"].read_text())
    images = re.findall(r"\[!\[[^]]*\]\(([^)]+)\)\]\(([^)]+)\)", summary)
    assert len(images) >= 2
    for png, href in images:
        assert png.endswith(".png") and (tmp_path / png).is_file(), png
        assert href.endswith(".html") and (tmp_path / href).is_file(), href
    html = paths["html"].read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html[: html.index('id="all-figures"')])
    assert len(srcs) == len(images)
    assert all(s.endswith(".png") and (tmp_path / s).is_file() for s in srcs)


def test_summary_weight_finding_is_the_explain_summary(builtin_run: Path, tmp_path: Path) -> None:
    """With an explain stage, the weight-map finding states the explain summary's regional
    means and whether the cross is negative; a missing stage is named in the summary first."""
    from interp.report import build_report
    from interp.study.experiments import StageResult

    study = load_study("weight_maps")
    (folder,) = (builtin_run / "matrix").glob("*/")
    figs = tmp_path / "explain" / "figures"
    figs.mkdir(parents=True)
    per = {
        "VTPC2": {"mean_core_diff_weight": 0.25, "mean_cross_diff_weight": -1.1,
                  "mean_outer_diff_weight": 0.0125},
        "MTPCL": {"mean_core_diff_weight": 0.5, "mean_cross_diff_weight": -0.75,
                  "mean_outer_diff_weight": -0.0625},
        "VTPC1": {"mean_core_diff_weight": 0.5, "mean_cross_diff_weight": 0.5,
                  "mean_outer_diff_weight": 0.0},
    }  # fmt: skip
    (figs / "explain_summary.json").write_text(json.dumps({"perceptron": per}))
    results = {
        "matrix": StageResult("matrix", folder.name, folder, "reused", 1.0, {}),
        "explain": StageResult("explain", "x", tmp_path / "explain", "reused", 1.0, {}),
    }
    md = build_report([(study, results)], tmp_path / "rep", "smoke", "t", 0.0)["markdown"]
    line = _finding(_summary_md(md.read_text()), "Perceptron weight map")
    assert "VTPC2: cross -1.1, core 0.25, outer 0.0125" in line
    assert "MTPCL: cross -0.75, core 0.5, outer -0.0625" in line
    assert "negative on the cross in 2 of 3 chamber(s)" in line
    assert "(#weight_maps-weights)" in line

    results["explain"] = StageResult("explain", "", tmp_path, "missing", 0.0, {}, "explain broke")
    md = build_report([(study, results)], tmp_path / "rep2", "smoke", "t", 0.0)["markdown"]
    summary = _summary_md(md.read_text())
    assert summary.index("**Missing:** weight_maps/explain missing: explain broke") < (
        summary.index("**Headline")
    )


def test_latest_matrix_pointer(builtin_run: Path) -> None:
    """``WORKDIR/matrix/latest.json`` names the study's matrix stage folder."""
    from interp.study.experiments import latest_matrix

    (path,) = (builtin_run / "matrix").glob("*/matrix.json")
    assert latest_matrix(builtin_run) == path.parent
