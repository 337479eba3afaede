"""Chambers that share events (the same collisions seen by two chambers) and fail-fast inputs.

Two user files with overlapping event ids go through ``train``, ``matrix`` and ``reproduce``;
no event may be in a training split of one chamber and in a validation or test split of the
other. ``evaluate`` must use the classifier's own recorded splits. Bad inputs (a mis-cased
``--data`` key, chamber metadata disagreeing with the key, a missing ``--eval-on`` file, a
window mismatch) must fail before anything is trained, leaving no folder behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_bad_inputs import run_cli

from interp.core.schema import ClusterSet
from interp.data.io import write_clusters
from interp.data.splits import Splits, make_splits

FAST = ["--profile", "smoke", "--n-boot", "10", "-q", "--no-png"]
REPRO = ["--profile", "smoke", "-q", "--no-png"]


def _write(path: Path, chamber: str, events: np.ndarray, seed: int, window=(11, 20)) -> Path:
    """Learnable clusters of real-data kind (no simulator truth), 40 per event."""
    rng = np.random.default_rng(seed)
    ev = np.repeat(events, 40).astype(np.int64)
    label = (rng.random(ev.size) < 0.2 + 0.4 * rng.random()).astype(np.int8)
    charge = rng.uniform(0, 40, (ev.size, *window)).astype(np.float32)
    charge[label == 1, window[0] // 2, window[1] // 2] += 150
    write_clusters(ClusterSet(charge, label, ev, chamber), path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("shared")
    return {
        "VTPC2": _write(d / "vtpc2.h5", "VTPC2", np.arange(0, 12), 1),
        "MTPCL": _write(d / "mtpcl.h5", "MTPCL", np.arange(3, 15), 2),
    }


def _data_args(files: dict[str, Path]) -> list[str]:
    return [a for c, f in files.items() for a in ("--data", f"{c}={f}")]


def _event_ids(files: dict[str, Path]) -> dict[str, np.ndarray]:
    from interp.data.io import read_clusters

    return {c: np.unique(read_clusters(f).event_id) for c, f in files.items()}


def _assert_no_leak(splits: dict[str, Splits], events: dict[str, np.ndarray]) -> None:
    """No event in the train split of one chamber and the val/test split of another."""
    for a, sa in splits.items():
        train = set(np.intersect1d(sa.events["train"], events[a]).tolist())
        for b, sb in splits.items():
            if a == b:
                continue
            held = np.concatenate([sb.events["val"], sb.events["test"]])
            held = set(np.intersect1d(held, events[b]).tolist())
            assert not train & held, f"{a} train / {b} val+test share {sorted(train & held)}"


def test_independent_splits_would_leak_for_these_files(files) -> None:
    """Guards the tests below: per-file splits of these data do leak."""
    from interp.data.io import read_clusters

    own = {c: make_splits(read_clusters(f)) for c, f in files.items()}
    with pytest.raises(AssertionError, match="share"):
        _assert_no_leak(own, _event_ids(files))


def test_train_uses_one_split_for_chambers_sharing_events(tmp_path, files, capsys) -> None:
    wd = tmp_path / "w"
    code, out = run_cli(
        [
            "train",
            "--model",
            "xgboost",
            "--train-on",
            "VTPC2",
            "--eval-on",
            "MTPCL",
            *_data_args(files),
            "--workdir",
            str(wd),
            *FAST,
        ],
        capsys,
    )
    assert code == 0, out
    assert "splits: shared across VTPC2, MTPCL" in out
    run_dir = wd / "runs" / "xgboost" / "VTPC2"
    rec = json.loads((run_dir / "run.json").read_text())["splits"]
    assert rec["policy"] == "shared" and rec["chambers"] == ["VTPC2", "MTPCL"]
    s = Splits.load(run_dir / "splits.json")
    _assert_no_leak({"VTPC2": s, "MTPCL": s}, _event_ids(files))
    ev = json.loads((run_dir / "eval_MTPCL.json").read_text())
    assert {"shift", "recalibration", "warning"} <= set(ev["transfer"])


def test_matrix_and_reproduce_share_splits(tmp_path, files, capsys) -> None:
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    events = _event_ids(files)
    res = run_matrix(
        MatrixConfig.smoke(models=("xgboost",), n_boot=10), tmp_path / "m", files, progress=False
    )
    assert res["splits_policy"] == {"policy": "shared", "groups": [["VTPC2", "MTPCL"]]}
    runs = {c: Splits.load(tmp_path / "m" / "runs" / "xgboost" / c / "splits.json") for c in files}
    _assert_no_leak(runs, events)
    assert set(res["shift"]) == {"VTPC2->MTPCL", "MTPCL->VTPC2"}
    assert set(res["cells"][0]["transfer"]) == {"MTPCL"}

    study = tmp_path / "mini.toml"
    study.write_text(
        'name = "mini"\nstages = ["matrix"]\nsections = ["cross_chamber", "shift"]\n'
        '[matrix]\nmodels = ["xgboost"]\nn_boot = 10\n'
    )
    wd = tmp_path / "r"
    args = ["reproduce", str(study), "--workdir", str(wd), *_data_args(files), *REPRO]
    code, out = run_cli(args, capsys)
    assert code == 0, out
    (folder,) = [p for p in (wd / "matrix").iterdir() if p.is_dir()]
    matrix = json.loads((folder / "matrix.json").read_text())
    assert matrix["splits_policy"]["policy"] == "shared"
    runs = {c: Splits.load(folder / "runs" / "xgboost" / c / "splits.json") for c in files}
    _assert_no_leak(runs, events)
    report = (wd / "report-mini-smoke" / "REPORT.md").read_text()
    assert report.count("Splits policy: **shared**") == 2  # cross-chamber and shift sections
    for pair in ("VTPC2->MTPCL", "MTPCL->VTPC2"):
        assert f"Feature shift {pair}" in report and f"Few-shot recalibration {pair}" in report
    assert (wd / "report-mini-smoke" / "figures" / "mini_VTPC2_to_MTPCL_shift.html").is_file()


def test_evaluate_never_resplits_under_a_model(tmp_path, files, capsys) -> None:
    wd = tmp_path / "w"
    data = _data_args(files)
    train = ["train", "--model", "xgboost", "--train-on", "VTPC2", "--eval-on", "MTPCL"]
    code, out = run_cli([*train, *data, "--workdir", str(wd), *FAST], capsys)
    assert code == 0, out
    run_dir = wd / "runs" / "xgboost" / "VTPC2"
    first = json.loads((run_dir / "eval_MTPCL.json").read_text())
    # the cached splits of the work dir are replaced by other ones: evaluate must ignore them
    (cache,) = (wd / "data").glob("shared-*.splits.json")
    other = Splits.load(cache)
    other = Splits(
        {**other.events, "train": other.events["val"], "val": other.events["train"]},
        other.seed,
        other.fractions,
        other.counts,
        other.policy,
        other.chambers,
    )
    other.save(cache)
    before = cache.read_bytes()
    recorded = (run_dir / "splits.json").read_bytes()
    code, out = run_cli(["evaluate", str(run_dir), "--on", "MTPCL", *data, *FAST[2:]], capsys)
    assert code == 0, out
    again = json.loads((run_dir / "eval_MTPCL.json").read_text())
    assert again["at_0.5"] == first["at_0.5"]  # same test split, same threshold
    assert cache.read_bytes() == before and (run_dir / "splits.json").read_bytes() == recorded
    # another split seed is refused, not applied
    code, out = run_cli(
        ["evaluate", str(run_dir), "--on", "MTPCL", *data, "--seed", "3", *FAST[2:]], capsys
    )
    assert code == 2 and "made with seed 0" in out and "Traceback" not in out
    # without the recorded splits file the run record's seed is used (in memory only) and the
    # fingerprint must still match: here the cache is gone, nothing is written back
    (run_dir / "splits.json").unlink()
    cache.unlink()
    code, out = run_cli(["evaluate", str(run_dir), "--on", "MTPCL", *data, *FAST[2:]], capsys)
    assert code == 0, out
    assert not list((wd / "data").glob("*.splits.json")) and not (run_dir / "splits.json").exists()


def test_same_base_name_in_two_folders_gets_own_splits(tmp_path) -> None:
    """Two user inputs called clusters.h5 must not share one cached splits file (issue 17)."""
    from interp.study.config import MatrixConfig
    from interp.study.inputs import load_chamber_data

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _write(tmp_path / "a" / "clusters.h5", "VTPC2", np.arange(0, 8), 1)
    b = _write(tmp_path / "b" / "clusters.h5", "VTPC2", np.arange(100, 108), 2)
    cfg = MatrixConfig.smoke()
    da = load_chamber_data("VTPC2", cfg, tmp_path / "w", {"VTPC2": a})
    db = load_chamber_data("VTPC2", cfg, tmp_path / "w", {"VTPC2": b})
    assert da.splits_path != db.splits_path
    assert len(list((tmp_path / "w" / "data").glob("clusters-*.splits.json"))) == 2
    assert np.isin(db.splits.events["train"], np.arange(100, 108)).all()


# ------------------------------------------------------------------ fail fast
def _bad_window(tmp_path: Path) -> list[str]:
    f = _write(tmp_path / "small.h5", "MTPCL", np.arange(6), 3, window=(9, 16))
    return ["--eval-on", "MTPCL", "--data", f"MTPCL={f}"]


CASES = {
    "lower-case key": (
        lambda t, f: ["--data", f"vtpc2={f['VTPC2']}"],
        "did you mean --data VTPC2=",
    ),
    "metadata disagrees": (lambda t, f: ["--data", f"VTPC2={f['MTPCL']}"], "says chamber 'MTPCL'"),
    "missing eval file": (
        lambda t, f: ["--eval-on", "MTPCL", "--data", f"MTPCL={t / 'nope.h5'}"],
        "no such file",
    ),
    "window mismatch": (lambda t, f: _bad_window(t), r"(9, 16)"),
    "unused key": (lambda t, f: ["--data", f"MTPCL={f['MTPCL']}"], "not used by this command"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", ["train", "matrix"])
def test_bad_inputs_fail_before_anything_is_written(tmp_path, files, capsys, case, command):
    extra, message = CASES[case]
    args = extra(tmp_path, files)
    wd = tmp_path / "w"
    if command == "train":
        cmd = ["train", "--model", "xgboost", "--train-on", "VTPC2", *args]
    else:
        if case == "unused key":
            args = ["--data", f"VTPC1={files['MTPCL']}"]
        cmd = [
            "matrix",
            "--models",
            "xgboost",
            "--chambers",
            "VTPC2,MTPCL",
            *[a for a in args if a not in ("--eval-on", "MTPCL")],
        ]
    opts = FAST if command == "train" else FAST[:-1]  # matrix writes no figures
    code, out = run_cli([*cmd, "--workdir", str(wd), *opts], capsys)
    assert code == 2, out
    assert message in out and "Traceback" not in out
    assert not wd.exists()


def test_rename_chamber_accepts_a_file_under_another_name(tmp_path, files, capsys) -> None:
    wd = tmp_path / "w"
    args = [
        "train",
        "--model",
        "xgboost",
        "--train-on",
        "VTPC2",
        "--data",
        f"VTPC2={files['MTPCL']}",
        "--rename-chamber",
        "--workdir",
        str(wd),
        *FAST,
    ]
    code, out = run_cli(args, capsys)
    assert code == 0, out


def test_reproduce_checks_data_keys_before_any_stage(tmp_path, files, capsys) -> None:
    wd = tmp_path / "r"
    for args, message in (
        (["--data", f"mtpcl={files['MTPCL']}"], "did you mean --data MTPCL="),
        (["--data", f"NOPE={files['MTPCL']}"], "unknown chamber in --data"),
        (["--data", f"VTPC2={files['MTPCL']}"], "says chamber 'MTPCL'"),
    ):
        code, out = run_cli(
            ["reproduce", "cross_chamber", "--workdir", str(wd), *args, *REPRO], capsys
        )
        assert code == 2 and message in out, out
        assert not wd.exists()
