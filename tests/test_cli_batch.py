"""Batch-job behaviour of the CLI: no bars in log files, --version, name suggestions,
one-line preset-file errors, one rule for output folders, error texts naming real options."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from test_cli_bad_inputs import run_cli_streams


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli_streams(["--version"], capsys)
    assert code == 0 and out.strip() == f"tpc-interp {version('tpc-interp')}"


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--events", "2", "--clusters-per-event", "20", "--out"]
    code, out, err = run_cli_streams([*args, str(tmp_path / "a.h5")], capsys)
    assert code == 0 and "wrote" in out
    assert "\r" not in err and "event/s" not in err and "simulate VTPC2" not in err, err


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["train", "--model", "Perceptron", "--train-on", "VTPC2"], "did you mean 'perceptron'?"),
        (["train", "--model", "percepton", "--train-on", "VTPC2"], "did you mean 'perceptron'?"),
        (["train", "--model", "perceptron", "--train-on", "vtpc2"], "did you mean 'VTPC2'?"),
        (["simulate", "--chamber", "mtpcl", "--out", "x.h5"], "did you mean 'MTPCL'?"),
    ],
)
def test_unknown_names_get_a_suggestion(
    args: list[str],
    hint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli_streams(args, capsys)
    assert code == 2 and hint in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_preset_file_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "my_chamber.toml"
    bad.write_text('name = "MYCH"\nbase = "VTPC2"\ndrift_lenght_cm = 3.0\n')
    out = str(tmp_path / "o.h5")
    for path, words in ((bad, "'drift_lenght_cm'"), (tmp_path / "nope.toml", "not found")):
        code, _, err = run_cli_streams(
            ["simulate", "--preset-file", str(path), "--chamber", "MYCH", "--out", out], capsys
        )
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and str(path) in lines[0] and words in lines[0], err


def test_missing_output_folders_are_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "deeper" / "a.h5"
    args = ["simulate", "--events", "3", "--clusters-per-event", "20", "-q", "--out", str(out)]
    code, _, err = run_cli_streams(args, capsys)
    assert code == 0 and out.is_file(), err


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--chamber", "NOPE", "--out", "{new}/a.h5"],
        ["predict", "{tmp}/no_model", "{tmp}/none.h5", "--out", "{new}/s.parquet"],
        ["export", "{tmp}/no_model", "--out", "{new}/m.onnx"],
        ["figures-clusters", "{tmp}/none.h5", "--out", "{new}"],
    ],
    ids=lambda a: a[0],
)
def test_failed_commands_leave_no_empty_folders(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "made" / "by" / "command"
    args = [a.format(new=new, tmp=tmp_path) for a in args]
    code, _, err = run_cli_streams(args, capsys)
    assert code == 2, err
    assert not (tmp_path / "made").exists()


def test_exists_error_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from interp.core.errors import ClusterDataError
    from interp.evaluation.predict import predict_files

    out = tmp_path / "s.parquet"
    out.write_bytes(b"old")
    with pytest.raises(ClusterDataError, match="--overwrite"):
        predict_files(tmp_path, [tmp_path / "x.h5"], out, overwrite=False)
    assert out.read_bytes() == b"old"
