"""Bad inputs at the command line: one clear ``error:`` line, exit code 2, no output file.

Two corpora: every broken cluster file of ``tests/test_bad_inputs.py`` fed to ``predict``
(so each reader failure is also checked end to end), and CLI-specific cases (bad model
folders, bad output names, bad options, bad data found mid-stream, ``simulate`` and
``inspect`` misuse). No case may print a traceback or leave a file under the output name.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_bad_inputs import CASES as READER_CASES

from interp.core.schema import ClusterSet
from interp.data.io import write_clusters

W = (11, 20)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Runs the console entry point in-process; returns (exit code, stdout + stderr)."""
    code, out, err = run_cli_streams(args, capsys)
    return code, out + err


def run_cli_streams(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Runs the console entry point in-process; returns (exit code, stdout, stderr).

    An exception escaping the entry point gives exit code -1 and its traceback on stderr.
    """
    import interp.cli

    argv = sys.argv
    sys.argv = ["tpc-interp", *args]
    code = 0
    try:
        interp.cli.app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception:  # escaped the entry point: the user would see this traceback
        code = -1
        print("Traceback (escaped the CLI)\n" + traceback.format_exc(), file=sys.stderr)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _clusters(n: int = 300, window: tuple[int, int] = W, seed: int = 0) -> ClusterSet:
    rng = np.random.default_rng(seed)
    charge = np.where(rng.random((n, *window)) < 0.6, 0, rng.integers(1, 200, (n, *window)))
    return ClusterSet(
        charge.astype(np.float32),
        rng.integers(0, 2, n).astype(np.int8),
        np.repeat(np.arange(3), -(-n // 3))[:n].astype(np.int64),
        "VTPC2",
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An XGBoost and a (untrained, freshly initialised) Flax perceptron classifier."""
    import jax

    from interp.backends.flax.classifier import FlaxClassifier, build_module
    from interp.backends.xgboost.classifier import XGBConfig, train_xgboost
    from interp.data.preprocess import fit_preprocessor

    root = tmp_path_factory.mktemp("models")
    data = _clusters(600)
    train_xgboost(
        data.subset(slice(0, 400)), data.subset(slice(400, None)), root / "xgb", XGBConfig.smoke()
    )
    module = build_module("perceptron")
    x = np.zeros((1, *W), np.float32)
    params = module.init({"params": jax.random.key(0)}, x, train=False)["params"]
    FlaxClassifier(
        "perceptron", module, jax.device_get(params), fit_preprocessor("max", data.charge), "VTPC2"
    ).save(root / "flax")
    return {"xgb": root / "xgb", "flax": root / "flax"}


def _assert_clean_failure(code: int, text: str, out_dir: Path, *needles: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text, text
    assert "error" in text.lower(), text
    for needle in needles:
        assert needle in text, (needle, text)
    leftovers = [p.name for p in out_dir.iterdir()] if out_dir.is_dir() else []
    assert leftovers == [], leftovers


# --------------------------------------------------------------------------- reader corpus
READER_CLI_CASES = sorted(READER_CASES)


@pytest.mark.parametrize("case", READER_CLI_CASES)
def test_predict_on_bad_cluster_file(
    tmp_path: Path, models_dir: dict[str, Path], capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path, kwargs, _field = READER_CASES[case](tmp_path)
    if kwargs:  # reader options (an expected window) have no CLI form; the file is fine
        pytest.skip("case is about a reader keyword")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, text = run_cli(
        [
            "predict",
            str(models_dir["xgb"]),
            str(path),
            "--out",
            str(out_dir / "s.parquet"),
            "--chunk-size",
            "16",
            "-q",
        ],
        capsys,
    )
    _assert_clean_failure(code, text, out_dir, str(path))


# --------------------------------------------------------------------------- CLI corpus
def _good_file(t: Path) -> Path:
    return write_clusters(_clusters(), t / "good.h5")


def _bad_chunk_file(t: Path, column: str) -> Path:
    """Valid metadata and first chunks; an invalid value deep in the file."""
    from interp.data.io import get_format

    cs = _clusters(300)
    cols = {k: v.copy() for k, v in cs.columns().items()}
    if column == "charge":
        cols["charge"][250, 5, 5] = np.nan
    else:
        cols["label"][250] = 7
    path = t / f"late_{column}.parquet"
    fmt = get_format("parquet")
    fields = {k: v.dtype for k, v in cols.items()}
    sink = fmt.open_sink(path, "VTPC2", W, fields, fmt.check_compression("default", str(path)))
    for start in range(0, 300, 100):
        sink.append({k: v[start : start + 100] for k, v in cols.items()})
    sink.close()
    return path


def _model_without_json(t: Path, m: dict[str, Path]) -> str:
    d = t / "empty_model"
    d.mkdir()
    return str(d)


def _model_copy(t: Path, m: dict[str, Path], kind: str = "flax") -> Path:
    import shutil

    d = t / f"model_{kind}"
    shutil.copytree(m[kind], d)
    return d


def _corrupt_json(t: Path, m: dict[str, Path]) -> str:
    d = _model_copy(t, m)
    (d / "classifier.json").write_text("{not json")
    return str(d)


def _unknown_kind(t: Path, m: dict[str, Path]) -> str:
    d = _model_copy(t, m)
    meta = json.loads((d / "classifier.json").read_text())
    (d / "classifier.json").write_text(json.dumps({**meta, "kind": "torch"}))
    return str(d)


def _corrupt_params(t: Path, m: dict[str, Path]) -> str:
    d = _model_copy(t, m)
    (d / "params.safetensors").write_bytes(b"\x00garbage" * 10)
    return str(d)


def _missing_params(t: Path, m: dict[str, Path]) -> str:
    d = _model_copy(t, m)
    (d / "params.safetensors").unlink()
    return str(d)


def _corrupt_booster(t: Path, m: dict[str, Path]) -> str:
    d = _model_copy(t, m, "xgb")
    for f in d.glob("*.ubj"):
        f.write_bytes(b"not a booster")
    return str(d)


CliCase = Callable[[Path, dict[str, Path]], list[str]]
"""Builds the argument list; ``{out}`` is replaced by the output path."""


def _predict(
    model: Callable[[Path, dict[str, Path]], str] | str = "xgb",
    inputs: Callable[[Path], list[str]] | None = None,
    out: str = "s.parquet",
    extra: tuple[str, ...] = (),
) -> CliCase:
    def build(t: Path, m: dict[str, Path]) -> list[str]:
        model_arg = m[model] if isinstance(model, str) else model(t, m)
        files = inputs(t) if inputs is not None else [str(_good_file(t))]
        return ["predict", str(model_arg), *files, "--out", str(t / "out" / out), *extra]

    return build


def _window_mismatch(t: Path) -> list[str]:
    return [str(write_clusters(_clusters(window=(11, 21)), t / "wide.h5"))]


def _output_is_input(t: Path) -> list[str]:
    (t / "out").mkdir(exist_ok=True)
    return [str(write_clusters(_clusters(), t / "out" / "s.parquet"))]


CLI_CASES: dict[str, tuple[CliCase, str]] = {
    # model folder
    "model_missing": (_predict(lambda t, m: str(t / "nope")), "does not exist"),
    "model_no_json": (_predict(_model_without_json), "no saved classifier"),
    "model_corrupt_json": (_predict(_corrupt_json), "corrupt JSON"),
    "model_unknown_kind": (_predict(_unknown_kind), "unknown classifier kind"),
    "model_corrupt_params": (_predict(_corrupt_params), "cannot read weights"),
    "model_missing_params": (_predict(_missing_params), "params.safetensors"),
    "model_corrupt_booster": (_predict(_corrupt_booster), "corrupt booster"),
    "model_is_file": (_predict(lambda t, m: str(_good_file(t))), "does not exist"),
    # inputs
    "input_missing": (_predict(inputs=lambda t: [str(t / "missing.h5")]), "no such file"),
    "input_is_dir": (_predict(inputs=lambda t: [str(t)]), "unknown cluster file format"),
    "input_window_mismatch": (_predict(inputs=_window_mismatch), "(11, 21)"),
    "input_window_mismatch_flax": (_predict("flax", inputs=_window_mismatch), "(11, 20)"),
    "input_nan_late": (
        _predict(
            inputs=lambda t: [str(_bad_chunk_file(t, "charge"))], extra=("--chunk-size", "100")
        ),
        "NaN values",
    ),
    "input_bad_label_late": (
        _predict(
            inputs=lambda t: [str(_bad_chunk_file(t, "label"))], extra=("--chunk-size", "100")
        ),
        "labels must be 0",
    ),
    "input_second_file_bad": (
        _predict(inputs=lambda t: [str(_good_file(t)), str(t / "missing.parquet")]),
        "missing.parquet",
    ),
    "input_second_file_bad_late": (
        _predict(inputs=lambda t: [str(_good_file(t)), str(_bad_chunk_file(t, "charge"))]),
        "NaN values",
    ),
    "input_unknown_extension": (
        _predict(inputs=lambda t: [str(t / "run.csv")]),
        "unknown cluster file format",
    ),
    "input_is_output": (_predict(inputs=_output_is_input, extra=("--overwrite",)), "also an input"),
    # output
    "out_extension_csv": (_predict(out="s.csv"), "unsupported score file extension"),
    "out_extension_npz": (_predict(out="s.npz"), "unsupported score file extension"),
    "out_no_extension": (_predict(out="scores"), "unsupported score file extension"),
    # a missing output folder is created (one rule for every command: tests/test_cli_batch.py)
    "out_is_directory": (_predict(out="dir.parquet"), "is a directory"),
    "out_exists": (_predict(out="old.parquet"), "exists"),
    # options
    "chunk_size_zero": (_predict(extra=("--chunk-size", "0")), "chunk-size"),
    "chunk_size_negative": (_predict(extra=("--chunk-size", "-5")), "chunk-size"),
    "chunk_size_text": (_predict(extra=("--chunk-size", "many")), "chunk-size"),
    "batch_size_zero": (_predict(extra=("--batch-size", "0")), "batch-size"),
    "devices_zero": (_predict("flax", extra=("--devices", "0")), "devices"),
    "devices_too_many": (_predict("flax", extra=("--devices", "64")), "asked for 64 devices"),
    "unknown_option": (_predict(extra=("--speed", "fast")), "No such option"),
    "no_out": (lambda t, m: ["predict", str(m["xgb"]), str(_good_file(t))], "--out"),
    "no_files": (
        lambda t, m: ["predict", str(m["xgb"]), "--out", str(t / "out/s.h5")],
        "Missing argument",
    ),
    # other commands
    "simulate_zero_events": (
        lambda t, m: ["simulate", "--events", "0", "--out", str(t / "out" / "x.h5")],
        "--events",
    ),
    "simulate_bad_extension": (
        lambda t, m: [
            "simulate",
            "--events",
            "1",
            "--clusters-per-event",
            "10",
            "--out",
            str(t / "out" / "x.txt"),
        ],
        "unknown cluster file format",
    ),
    "simulate_unknown_chamber": (
        lambda t, m: [
            "simulate",
            "--chamber",
            "VTPC9",
            "--events",
            "1",
            "--out",
            str(t / "out" / "x.h5"),
        ],
        "VTPC9",
    ),
    "simulate_bad_fractions": (
        lambda t, m: [
            "simulate",
            "--events",
            "1",
            "--clusters-per-event",
            "10",
            "--fractions",
            "a,b",
            "--out",
            str(t / "out" / "x.h5"),
        ],
        "comma-separated",
    ),
    "inspect_missing_file": (lambda t, m: ["inspect", str(t / "nope.parquet")], "no such file"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_input(
    tmp_path: Path, models_dir: dict[str, Path], capsys: pytest.CaptureFixture[str], case: str
) -> None:
    build, needle = CLI_CASES[case]
    out_dir = tmp_path / "out"
    args = build(tmp_path, models_dir)
    out_dir.mkdir(exist_ok=True)
    before = sorted(p.name for p in out_dir.iterdir())
    if case == "out_is_directory":
        (out_dir / "dir.parquet").mkdir()
        before = ["dir.parquet"]
    if case == "out_exists":
        (out_dir / "old.parquet").write_bytes(b"old")
        before = ["old.parquet"]
    code, text = run_cli(args, capsys)
    assert code == 2, text
    assert "Traceback" not in text, text
    assert needle.lower() in text.lower(), (needle, text)
    assert sorted(p.name for p in out_dir.iterdir()) == before  # nothing new, nothing partial


def test_corpus_size() -> None:
    assert len(CLI_CASES) >= 30
    assert len(READER_CLI_CASES) >= 30
