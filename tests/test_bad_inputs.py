"""Bad cluster files: every case raises ClusterDataError naming the file (and field).

Each case builds a broken file in ``tmp_path`` and returns ``(path, read kwargs, field)``;
``field`` is the field the error must name, or ``None`` for whole-file problems. Files are
made either with a format's raw sink (no validation) or directly with h5py / numpy / bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from interp.core.errors import ClusterDataError
from interp.core.schema import TRUTH_FIELDS, ClusterSet
from interp.data.io import (
    ClusterFileNotFoundError,
    ClusterWriteError,
    ClusterWriter,
    count_clusters,
    get_format,
    iter_clusters,
    read_clusters,
    write_clusters,
)
from interp.data.io.registry import FIELD_DTYPES, encode_meta

N = 64
W = (11, 20)


def _good_columns(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    label = rng.integers(0, 2, n).astype(np.int8)
    return {
        "charge": np.where(rng.random((n, *W)) < 0.6, 0, rng.integers(1, 256, (n, *W))).astype(
            np.float32
        ),
        "label": label,
        "event_id": np.arange(n, dtype=np.int64),
        "noise_kind": np.where(label == 1, 0, 2).astype(np.int8),
        "drift_length": np.full(n, np.nan, np.float32),
    }


def _sink_file(
    path: Path, columns: dict[str, np.ndarray] | None, compression: str | None = None, **dtypes: Any
) -> Path:
    """Writes ``columns`` with the format's raw sink (no validation); None = zero rows."""
    cols = columns if columns is not None else _good_columns()
    fields = {k: np.dtype(dtypes.get(k, FIELD_DTYPES.get(k, v.dtype))) for k, v in cols.items()}
    fmt = get_format(path.suffix)
    sink = fmt.open_sink(path, "VTPC2", W, fields, fmt.check_compression(compression, str(path)))
    if columns is not None:
        sink.append(cols)
    sink.close()
    return path


def _npz_raw(path: Path, window: tuple[int, int] = W, **arrays: np.ndarray) -> Path:
    meta = np.frombuffer(encode_meta("VTPC2", window).encode(), np.uint8)
    np.savez(path, __meta__=meta, **arrays)
    return path


def _h5_raw(path: Path, meta: bool = True, **arrays: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        if meta:
            f.attrs["tpc_interp_meta"] = encode_meta("VTPC2", W)
        for k, v in arrays.items():
            f[k] = v
    return path


def _with(**changes: Any) -> dict[str, np.ndarray]:
    cols = _good_columns()
    for k, v in changes.items():
        if v is None:
            del cols[k]
        else:
            cols[k] = v(cols) if callable(v) else v
    return cols


def _nan_charge(c: dict[str, np.ndarray]) -> np.ndarray:
    charge = c["charge"].copy()
    charge[7, 3, 4] = np.nan
    return charge


def _inf_charge(c: dict[str, np.ndarray]) -> np.ndarray:
    charge = c["charge"].copy()
    charge[N - 1, 0, 0] = np.inf
    return charge


def _valid_file(path: Path) -> Path:
    return _sink_file(path, _good_columns(300), compression="default")


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = _valid_file(path).read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _future_schema(path: Path) -> Path:
    _h5_raw(path, **_good_columns())
    with h5py.File(path, "a") as f:
        f.attrs["tpc_interp_meta"] = f.attrs["tpc_interp_meta"].replace(
            '"schema_version": 1', '"schema_version": 99'
        )
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    return path


def _corrupt_middle(path: Path) -> Path:
    data = bytearray(_valid_file(path).read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2000] = np.random.default_rng(2).bytes(2000)
    path.write_bytes(bytes(data))
    return path


Case = Callable[[Path], tuple[Path, dict[str, Any], str | None]]

CASES: dict[str, Case] = {
    # --- values -------------------------------------------------------------------------
    **{
        f"nan_charge{ext}": (
            lambda t, ext=ext: (_sink_file(t / f"f{ext}", _with(charge=_nan_charge)), {}, "charge")
        )
        for ext in (".npz", ".h5", ".parquet", ".root")
    },
    **{
        f"inf_charge{ext}": (
            lambda t, ext=ext: (_sink_file(t / f"f{ext}", _with(charge=_inf_charge)), {}, "charge")
        )
        for ext in (".h5", ".root")
    },
    **{
        f"label_2{ext}": (
            lambda t, ext=ext: (
                _sink_file(t / f"f{ext}", _with(label=lambda c: c["label"] * 2)),
                {},
                "label",
            )
        )
        for ext in (".npz", ".parquet", ".root")
    },
    "label_negative.h5": lambda t: (
        _sink_file(t / "f.h5", _with(label=lambda c: c["label"] - 1)),
        {},
        "label",
    ),
    **{
        f"float_labels{ext}": (
            lambda t, ext=ext: (
                _sink_file(
                    t / f"f{ext}", _with(label=lambda c: c["label"] * 0.5), label=np.float64
                ),
                {},
                "label",
            )
        )
        for ext in (".h5", ".parquet", ".npz")
    },
    "noise_kind_vs_label.root": lambda t: (
        _sink_file(t / "f.root", _with(noise_kind=lambda c: c["noise_kind"] * 0)),
        {},
        "noise_kind",
    ),
    # --- shapes and dtypes ----------------------------------------------------------------
    # flat windows are read when the window is known; 219 values fit no 11 x 20 window
    "charge_flat_wrong_size.h5": lambda t: (
        _h5_raw(
            t / "f.h5",
            charge=np.zeros((N, 219), np.float32),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "charge",
    ),
    # flat windows are read when the window is known; 219 values fit no 11 x 20 window
    "charge_flat_wrong_size.npz": lambda t: (
        _npz_raw(
            t / "f.npz",
            charge=np.zeros((N, 219), np.float32),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "charge",
    ),
    "charge_strings.h5": lambda t: (
        _h5_raw(
            t / "f.h5",
            charge=np.full((N, *W), b"abc"),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "charge",
    ),
    "charge_complex.npz": lambda t: (
        _npz_raw(
            t / "f.npz",
            charge=np.zeros((N, *W), np.complex64),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "charge",
    ),
    "charge_object.npz": lambda t: (
        _npz_raw(
            t / "f.npz",
            charge=np.array([None] * N, dtype=object),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "charge",
    ),
    "missing_label.npz": lambda t: (_sink_file(t / "f.npz", _with(label=None)), {}, "label"),
    "missing_label.parquet": lambda t: (
        _sink_file(t / "f.parquet", _with(label=None, noise_kind=None)),
        {},
        "label",
    ),
    "missing_event_id.root": lambda t: (
        _sink_file(t / "f.root", _with(event_id=None)),
        {},
        "event_id",
    ),
    "length_mismatch.h5": lambda t: (
        _h5_raw(
            t / "f.h5",
            charge=np.zeros((N, *W), np.float32),
            label=np.zeros(N, np.int8),
            event_id=np.zeros(N - 3, np.int64),
        ),
        {},
        "event_id",
    ),
    "length_mismatch.npz": lambda t: (
        _npz_raw(
            t / "f.npz",
            charge=np.zeros((N, *W), np.float32),
            label=np.zeros(N + 1, np.int8),
            event_id=np.zeros(N, np.int64),
        ),
        {},
        "label",
    ),
    "unknown_field.npz": lambda t: (
        _npz_raw(t / "f.npz", energy=np.zeros(N), **_good_columns()),
        {},
        "energy",
    ),
    "unknown_field.h5": lambda t: (
        _h5_raw(t / "f.h5", pt=np.zeros(N), **_good_columns()),
        {},
        "pt",
    ),
    "unknown_field.parquet": lambda t: (
        _sink_file(t / "f.parquet", _with(momentum=np.zeros(N, np.float32))),
        {},
        "momentum",
    ),
    "h5_group_as_field.h5": lambda t: (_h5_raw(t / "f.h5", **_good_columns()), {}, None),
    "future_schema.h5": lambda t: (_future_schema(t / "f.h5"), {}, None),
    # a foreign file is read, but one that names no chamber needs chamber= (or --chamber)
    "no_chamber.h5": lambda t: (
        _h5_raw(t / "f.h5", meta=False, **_good_columns()),
        {},
        "chamber",
    ),
    # --- empty, truncated, corrupt --------------------------------------------------------
    **{
        f"empty{ext}": (lambda t, ext=ext: (_sink_file(t / f"f{ext}", None), {}, "charge"))
        for ext in (".npz", ".h5", ".parquet", ".root")
    },
    "zero_byte.h5": lambda t: (_write(t / "f.h5", b""), {}, None),
    "corrupt.h5": lambda t: (_corrupt_middle(t / "f.h5"), {}, None),
    "corrupt.root": lambda t: (_corrupt_middle(t / "f.root"), {}, None),
    "truncated.h5": lambda t: (_truncate(t / "f.h5"), {}, None),
    "garbage.h5": lambda t: (_garbage(t / "f.h5"), {}, None),
    "truncated.root": lambda t: (_truncate(t / "f.root"), {}, None),
    "garbage.root": lambda t: (_garbage(t / "f.root"), {}, None),
    "truncated.parquet": lambda t: (_truncate(t / "f.parquet"), {}, None),
    "corrupt.parquet": lambda t: (_corrupt_middle(t / "f.parquet"), {}, None),
    "corrupt.npz": lambda t: (_corrupt_middle(t / "f.npz"), {}, None),
    "truncated.npz": lambda t: (_truncate(t / "f.npz", 0.9), {}, None),
    "garbage.npz": lambda t: (_garbage(t / "f.npz"), {}, None),
    # --- usage ----------------------------------------------------------------------------
    **{
        f"window_mismatch{ext}": (
            lambda t, ext=ext: (_valid_file(t / f"f{ext}"), {"window": (11, 21)}, "charge")
        )
        for ext in (".npz", ".h5", ".parquet", ".root")
    },
    "unknown_extension.csv": lambda t: (_write(t / "f.csv", b"1,2\n"), {}, None),
    "directory_not_file.h5": lambda t: ((t / "d.h5").mkdir() or t / "d.h5", {}, None),
}


def _add_group(case: Case) -> Case:
    def build(t: Path) -> tuple[Path, dict[str, Any], str | None]:
        path, kwargs, _ = case(t)
        with h5py.File(path, "a") as f:
            f.create_group("label_group")
        return path, kwargs, "label_group"

    return build


CASES["h5_group_as_field.h5"] = _add_group(CASES["h5_group_as_field.h5"])

READERS: dict[str, Callable[..., Any]] = {
    "read": read_clusters,
    "iter": lambda path, **kw: list(iter_clusters(path, chunk_size=16, **kw)),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_raises_named_error(tmp_path, case, reader) -> None:
    path, kwargs, field = CASES[case](tmp_path)
    with pytest.raises(ClusterDataError) as info:
        READERS[reader](path, **kwargs)
    err = info.value
    message = str(err)
    assert str(path) in message, message
    if field is not None:
        assert err.field == field, message
        assert f"'{field}'" in message
    # the cause is kept for library failures, but the error itself is ours
    assert type(err).__module__.startswith("interp.")


def test_case_count() -> None:
    assert len(CASES) >= 15


def test_missing_path_is_file_not_found(tmp_path) -> None:
    path = tmp_path / "nope.h5"
    for call in (read_clusters, count_clusters, iter_clusters):  # iter fails before next()
        with pytest.raises(ClusterFileNotFoundError) as info:
            call(path)
        assert isinstance(info.value, FileNotFoundError)
        assert isinstance(info.value, ClusterDataError)
        assert str(path) in str(info.value)


def test_library_errors_are_chained(tmp_path) -> None:
    path = _garbage(tmp_path / "f.h5")
    with pytest.raises(ClusterDataError) as info:
        read_clusters(path)
    assert info.value.__cause__ is not None


def test_count_rejects_bad_file_without_data(tmp_path) -> None:
    path, _, _ = CASES["length_mismatch.h5"](tmp_path)
    with pytest.raises(ClusterDataError, match="event_id"):
        count_clusters(path)


def _bad_set(kind: str, make: Callable[..., ClusterSet]) -> ClusterSet:
    cs = make(200)
    if kind == "nan":
        cs.charge[5, 1, 1] = np.nan
    elif kind == "label":
        cs.label[9] = 3
    elif kind == "shape":
        return ClusterSet(cs.charge.reshape(200, -1), cs.label, cs.event_id, cs.chamber, cs.truth)
    elif kind == "chamber":
        return ClusterSet(cs.charge, cs.label, cs.event_id, "bad name!", cs.truth)
    elif kind == "truth":
        return ClusterSet(cs.charge, cs.label, cs.event_id, cs.chamber, {"energy": cs.label})
    return cs


@pytest.mark.parametrize("ext", [".npz", ".h5", ".parquet", ".root"])
@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("nan", "charge"),
        ("label", "label"),
        ("shape", "charge"),
        ("chamber", "chamber"),
        ("truth", "energy"),
    ],
)
def test_writing_invalid_data_creates_nothing(tmp_path, make_clusters, ext, kind, field):
    path = tmp_path / f"out{ext}"
    with pytest.raises(ClusterDataError) as info:
        write_clusters(_bad_set(kind, make_clusters), path)
    assert info.value.field == field
    assert str(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "where", ["missing_dir", "parent_is_file"] + (["read_only"] if os.geteuid() != 0 else [])
)
def test_unwritable_output_directory(tmp_path, make_clusters, where) -> None:
    folder = tmp_path / "out"
    if where == "parent_is_file":
        folder.write_text("not a folder")
    elif where == "read_only":
        folder.mkdir()
        folder.chmod(0o500)
    path = folder / "x.h5"
    try:
        with pytest.raises(ClusterWriteError) as info:
            write_clusters(make_clusters(20), path)
        assert isinstance(info.value, OSError)
        assert str(path) in str(info.value)
        assert str(folder) in str(info.value)
        with pytest.raises(ClusterWriteError):
            ClusterWriter(path, "VTPC2", (11, 20), TRUTH_FIELDS).open()
    finally:
        if where == "read_only":
            folder.chmod(0o700)
