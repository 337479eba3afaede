"""Cluster files written by other software load in every command; ``import`` converts others.

The corpus (:mod:`foreign_corpus`) is written at test time with plain numpy, h5py, pyarrow
and uproot: valid files in every supported layout (checked against the clusters they hold,
through the library, ``inspect`` and ``train``) and defective ones (one ``error:`` line
naming the file and the field, exit code 2, no traceback, nothing written).
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from foreign_corpus import Case, N, W, base_columns, defective_files, valid_files
from test_cli_bad_inputs import run_cli_streams

from interp.core.adc import INTEGER_ADC_DTYPES, adc_dtype
from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.io import iter_clusters, read_clusters, read_info, write_clusters
from interp.data.io.convert import ImportSpec, import_clusters, parse_label_map

KEY = "FOREIGN"  # the chamber given on the command line to files that name none


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Case]]:
    root = tmp_path_factory.mktemp("corpus")
    return {"valid": valid_files(root / "valid"), "bad": defective_files(root / "bad")}


def _names(kind: str) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        build = valid_files if kind == "valid" else defective_files
        return sorted(build(Path(d)))


VALID = _names("valid")
BAD = _names("bad")


def _with_chamber(case: Case) -> tuple[str, ...]:
    has = case.chamber is not None or "--chamber" in case.options
    return case.options if has else (*case.options, "--chamber", KEY)


def test_corpus_covers_formats_and_defects() -> None:
    assert len(VALID) + len(BAD) >= 30
    for ext in (".npz", ".h5", ".parquet", ".root"):
        assert any(n.endswith(ext) for n in VALID), ext
        assert any(n.endswith(ext) for n in BAD), ext


@pytest.mark.parametrize("name", VALID)
def test_valid_file_holds_the_written_clusters(corpus, name: str) -> None:
    case = corpus["valid"][name]
    kwargs = case.read_kwargs()
    kwargs.setdefault("chamber", KEY)
    base = base_columns(case.window)
    cs = read_clusters(case.path, **kwargs)
    # whole-number ADC is kept as an 8/16-bit integer (interp.core.adc), values exactly as written
    if adc_dtype(base["charge"]) is None:
        assert cs.charge.dtype == np.float32
    else:
        assert cs.charge.dtype in INTEGER_ADC_DTYPES
    assert cs.window_shape == case.window
    np.testing.assert_array_equal(cs.charge.astype(np.float32), base["charge"].astype(np.float32))
    np.testing.assert_array_equal(cs.label, base["label"])
    np.testing.assert_array_equal(cs.event_id, base["event_id"])
    assert cs.label.dtype == np.int8 and cs.event_id.dtype == np.int64
    info = read_info(case.path, **kwargs)
    assert info["schema_version"] is None  # no toolkit metadata anywhere
    assert info["chamber_from_file"] == (case.chamber is not None)
    assert cs.chamber == (case.chamber or kwargs["chamber"])
    chunks = list(iter_clusters(case.path, chunk_size=50, **kwargs))
    assert ClusterSet.concatenate(chunks).equals(cs)


@pytest.mark.parametrize("name", VALID)
def test_valid_file_inspects(corpus, name: str, capsys) -> None:
    case = corpus["valid"][name]
    code, out, err = run_cli_streams(
        ["inspect", str(case.path), "--json", "-q", *_with_chamber(case)], capsys
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["clusters"] == N and summary["events"] == 12
    assert summary["windows"] == [list(case.window)]
    chamber = case.chamber or case.read_kwargs().get("chamber", KEY)
    assert summary["per_chamber"] == {chamber: N}


def test_file_chamber_wins_over_the_argument(corpus) -> None:
    case = corpus["valid"]["h5py_root.h5"]
    info = read_info(case.path, chamber="OTHER")
    assert info["chamber"] == "MYTPC" and info["chamber_from_file"] is True
    bare = corpus["valid"]["savez_compressed_uint8_bool.npz"]
    info = read_info(bare.path, chamber="OTHER")
    assert info["chamber"] == "OTHER" and info["chamber_from_file"] is False


@pytest.mark.parametrize("name", BAD)
def test_defective_file_is_one_clear_line(corpus, name: str, capsys) -> None:
    case = corpus["bad"][name]
    folder = case.path.parent
    before = sorted(p.name for p in folder.iterdir())
    for command in (["inspect", "-q"], ["split"]):
        code, out, err = run_cli_streams([*command, str(case.path), *case.options], capsys)
        assert code == 2, (command, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert str(case.path) in lines[0]
        if case.field is not None:
            assert f"field '{case.field}'" in lines[0], lines[0]
        assert "Traceback" not in out + err
    assert sorted(p.name for p in folder.iterdir()) == before  # no splits, no partial file


def test_every_valid_file_trains(corpus, tmp_path, capsys) -> None:
    """``train --data NAME=FILE`` on every valid file (the perceptron, smoke profile).

    Files that need ``--tree`` or ``--window`` (which ``train`` does not take) go through
    ``import`` first, the documented route for them.
    """
    for i, name in enumerate(VALID):
        case = corpus["valid"][name]
        key = case.chamber or KEY
        path = case.path
        opts = list(case.options)
        extra = [
            x
            for f, v in zip(opts[::2], opts[1::2], strict=True)
            if f != "--chamber"
            for x in (f, v)
        ]
        if any(o in ("--tree", "--window") for o in case.options):
            path = tmp_path / f"imported_{i}.h5"
            code, out, err = run_cli_streams(
                ["import", str(case.path), "--chamber", key, "--out", str(path), "-q", *extra],
                capsys,
            )
            assert code == 0, err
        code, out, err = run_cli_streams(
            [
                "train",
                "--model",
                "perceptron",
                "--train-on",
                key,
                "--data",
                f"{key}={path}",
                "--profile",
                "smoke",
                "--n-boot",
                "5",
                "--workdir",
                str(tmp_path / f"w{i}"),
                "-q",
            ],
            capsys,
        )
        assert code == 0, (name, err)
        assert f"test {key}: balanced accuracy" in out, out


def test_unknown_chamber_inspects_and_evaluates(tmp_path, capsys) -> None:
    """A chamber the toolkit never heard of, with its own charge scale, written by h5py."""
    import h5py

    base = base_columns()
    for name, scale in (("MYTPC", 1), ("NEWTPC", 3)):
        with h5py.File(tmp_path / f"{name}.h5", "w") as f:
            f["charge"] = base["charge"].astype(np.int32) * scale
            f["label"], f["event_id"] = base["label"], base["event_id"]
    new = tmp_path / "NEWTPC.h5"
    code, out, err = run_cli_streams(["inspect", str(new), "-q", "--chamber", "NEWTPC"], capsys)
    assert code == 0 and "NEWTPC" in out, err
    work = tmp_path / "study"
    code, out, err = run_cli_streams(
        [
            "train",
            "--model",
            "perceptron",
            "--train-on",
            "MYTPC",
            "--eval-on",
            "NEWTPC",
            "--data",
            f"MYTPC={tmp_path / 'MYTPC.h5'}",
            "--data",
            f"NEWTPC={new}",
            "--profile",
            "smoke",
            "--n-boot",
            "5",
            "--workdir",
            str(work),
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    assert "test NEWTPC: balanced accuracy" in out
    ev = json.loads((work / "runs/perceptron/MYTPC/eval_NEWTPC.json").read_text())
    assert ev["at_0.5"]["metrics"]["balanced_accuracy"]["value"] is not None

    # predict and figures-clusters take --chamber for a file that names none
    model, scores = str(work / "runs/perceptron/MYTPC"), tmp_path / "scores.parquet"
    code, out, err = run_cli_streams(
        ["predict", model, str(new), "--out", str(scores), "-q"], capsys
    )
    assert code == 2 and "field 'chamber'" in err and "--chamber" in err, err
    assert not scores.exists()
    code, out, err = run_cli_streams(
        ["predict", model, str(new), "--out", str(scores), "-q", "--chamber", "NEWTPC"], capsys
    )
    assert code == 0 and scores.is_file(), err
    figs = tmp_path / "figs"
    code, out, err = run_cli_streams(
        ["figures-clusters", str(new), "--out", str(figs), "--no-png", "--chamber", "NEWTPC"],
        capsys,
    )
    assert code == 0, err
    assert (figs / "example_clusters_NEWTPC.html").is_file()


# ----------------------------------------------------------------------------- import


def _per_event_root(path: Path, base: dict, compression: str = "ZSTD", codes=(1, 2)) -> Path:
    """One entry per event: q (time-major windows, flat int16), is_good (codes), run, evt."""
    import uproot

    counts = np.bincount(base["event_id"] - base["event_id"].min())
    q = base["charge"].transpose(0, 2, 1).astype(np.int16).reshape(len(counts), -1)  # T, P
    good = np.where(base["label"] == 1, codes[1], codes[0]).astype(np.int32)
    with uproot.recreate(path, compression=getattr(uproot, compression)(1)) as f:
        t = f.mktree(
            "events",
            {"q": "var * int16", "is_good": "var * int32", "run": np.int32, "evt": np.int64},
        )
        t.extend(
            {
                "q": ak.unflatten(q.reshape(-1), counts * W[0] * W[1]),
                "is_good": ak.unflatten(good, counts),
                "run": np.full(len(counts), 7, np.int32),
                "evt": np.unique(base["event_id"]),
            }
        )
    return path


IMPORT_ARGS = [
    "--charge",
    "q",
    "--label",
    "is_good",
    "--axes",
    "time,pad",
    "--window",
    "11x20",
    "--label-map",
    "1,2->0,1",
    "--chamber",
    "MYTPC",
    "-q",
]


@pytest.mark.parametrize("compression", ["ZLIB", "LZ4", "ZSTD"])
def test_import_jagged_root_matches_schema_file(tmp_path, capsys, compression) -> None:
    base = base_columns()
    schema = write_clusters(
        ClusterSet.from_columns(base, "MYTPC", source="base"), tmp_path / "schema.h5"
    )
    src = _per_event_root(tmp_path / "events.root", base, compression)
    out = tmp_path / "imported.parquet"
    code, text, err = run_cli_streams(
        ["import", str(src), "--event", "evt", "--out", str(out), *IMPORT_ARGS], capsys
    )
    assert code == 0, err
    assert "per-event (jagged)" in text and "time-major" in text and "1->0, 2->1" in text
    assert read_clusters(out).equals(read_clusters(schema))
    outputs = []
    for f in (schema, out):
        code, text, err = run_cli_streams(["inspect", str(f), "-q"], capsys)
        assert code == 0, err
        outputs.append(text.replace(str(f), "FILE"))
    assert outputs[0] == outputs[1]


def test_import_several_sources_and_event_columns(tmp_path, capsys) -> None:
    base = base_columns()
    half = {k: v[: N // 2] for k, v in base.items()}
    rest = {k: v[N // 2 :] for k, v in base.items()}
    a = _per_event_root(tmp_path / "a.root", half, "LZ4")
    b = _per_event_root(tmp_path / "b.root", rest, "ZLIB")
    out = tmp_path / "both.root"
    code, _text, err = run_cli_streams(
        ["import", str(a), str(b), "--event", "run,evt", "--out", str(out), *IMPORT_ARGS],
        capsys,
    )
    assert code == 0, err
    got = read_clusters(out)
    np.testing.assert_array_equal(got.charge, base["charge"].astype(np.float32))
    np.testing.assert_array_equal(got.label, base["label"])
    keys = json.loads(out.with_name("both.root.events.json").read_text())
    assert keys["columns"] == ["run", "evt"]
    np.testing.assert_array_equal(  # event_id i <-> (run, evt) = keys[i]
        np.asarray(keys["keys"])[got.event_id], np.stack([np.full(N, 7), base["event_id"]], 1)
    )


def test_import_parquet_string_labels_time_major_windows(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = base_columns()
    q = base["charge"].transpose(0, 2, 1)  # [N, time, pad]
    table = pa.table(
        {
            "adc": pa.array([[list(r) for r in w] for w in q], type=pa.list_(pa.list_(pa.uint8()))),
            "quality": pa.array(np.where(base["label"] == 1, "good", "bad")),
            "evt": base["event_id"].astype(np.int32),
        }
    )
    pq.write_table(table, tmp_path / "src.parquet")
    spec = ImportSpec(
        charge="adc",
        label="quality",
        event=("evt",),
        axes=("time", "pad"),
        label_map=parse_label_map("good=1,bad=0"),
        chunk_size=70,
    )
    res = import_clusters(
        [tmp_path / "src.parquet"], tmp_path / "out.npz", "MYTPC", spec, progress=False
    )
    assert res["clusters"] == N and res["window"] == W
    got = read_clusters(tmp_path / "out.npz")
    np.testing.assert_array_equal(got.charge, base["charge"].astype(np.float32))
    np.testing.assert_array_equal(got.label, base["label"])


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--charge", "nope"], "nope"),  # missing branch
        (["--label-map", "1->0"], "is_good"),  # code 2 not mapped
        (["--window", "10x20"], "q"),  # window does not fit the stored values
        (["--axes", "pad,pads"], None),
    ],
)
def test_import_errors_leave_nothing(tmp_path, capsys, extra, field) -> None:
    src = _per_event_root(tmp_path / "events.root", base_columns())
    out = tmp_path / "out.h5"
    args = ["import", str(src), "--event", "evt", "--out", str(out), *IMPORT_ARGS, *extra]
    code, text, err = run_cli_streams(args, capsys)
    assert code == 2, text + err
    line = err.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: "), err
    if field is not None:
        assert str(src) in line and f"field '{field}'" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.root"]


def test_import_refuses_to_overwrite(tmp_path) -> None:
    src = _per_event_root(tmp_path / "events.root", base_columns())
    out = tmp_path / "out.h5"
    out.write_bytes(b"keep")
    spec = ImportSpec(
        charge="q",
        label="is_good",
        event=("evt",),
        axes=("time", "pad"),
        window=W,
        label_map={1: 0, 2: 1},
    )
    with pytest.raises(ClusterDataError, match="exists"):
        import_clusters([src], out, "MYTPC", spec, progress=False)
    assert out.read_bytes() == b"keep"


def test_label_map_forms() -> None:
    assert parse_label_map("good=1,bad=0") == {"good": 1, "bad": 0}
    assert parse_label_map("1,2->0,1") == {1: 0, 2: 1}
    assert parse_label_map("1, 2 -> 0, 1") == {1: 0, 2: 1}
    for bad in ("good=2", "1,2->0", "good", ""):
        with pytest.raises(ClusterDataError, match="label"):
            parse_label_map(bad)


def test_import_hdf5_time_major_fixed_windows(tmp_path) -> None:
    import h5py

    base = base_columns()
    with h5py.File(tmp_path / "src.h5", "w") as f:
        g = f.create_group("clusters")
        g["adc"] = base["charge"].transpose(0, 2, 1)  # [N, time, pad]
        g["y"] = base["label"].astype(bool)
        g["ev"] = base["event_id"].astype(np.uint32)
    spec = ImportSpec(charge="adc", label="y", event=("ev",), axes=("time", "pad"))
    res = import_clusters([tmp_path / "src.h5"], tmp_path / "out.h5", "MYTPC", spec, progress=False)
    assert res["layout"] == "per-cluster" and res["window"] == W
    expected = ClusterSet.from_columns(base, "MYTPC", source="base")
    assert read_clusters(tmp_path / "out.h5").equals(expected)


def test_reproduce_with_a_chamber_of_ones_own(tmp_path, capsys) -> None:
    """``reproduce cross_chamber --chambers VTPC2,NEWTPC --data NEWTPC=FILE`` runs the study
    on a foreign-written file of a chamber the toolkit has never heard of (no code change),
    and the report shows its shift table for both transfers."""
    import h5py

    base = base_columns()
    new = tmp_path / "new.h5"
    with h5py.File(new, "w") as f:
        f["charge"] = base["charge"].astype(np.int16) * 2  # own ADC scale
        f["label"], f["event_id"] = base["label"], base["event_id"]
        f.attrs["chamber"] = "NEWTPC"
    work = tmp_path / "work"
    args = ["reproduce", "cross_chamber", "--profile", "smoke", "--workdir", str(work)]
    code, _, err = run_cli_streams(
        [*args, "--chambers", "VTPC2,NEWTPC", "--data", f"NEWTPC={new}", "--no-png", "-q"],
        capsys,
    )
    assert code == 0, err
    md = (work / "report-cross_chamber-smoke" / "REPORT.md").read_text()
    shift = md[md.index("Domain shift and recalibration") :]
    assert "VTPC2->NEWTPC" in shift and "NEWTPC->VTPC2" in shift
    # without --chambers the key names no chamber of the study: refused before anything runs
    code, _, err = run_cli_streams(
        [*args[:-1], str(tmp_path / "w2"), "--data", f"NEWTPC={new}", "-q"], capsys
    )
    assert code == 2 and "NEWTPC" in err and not (tmp_path / "w2").exists(), err
