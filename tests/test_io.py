"""Round trips, chunked reads and atomic writing of cluster files (interp.data.io)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from interp.core.errors import ClusterDataError, UnknownNameError
from interp.core.schema import TRUTH_FIELDS, ClusterSet
from interp.data.io import (
    FORMATS,
    ClusterWriteError,
    ClusterWriter,
    UnknownFormatError,
    count_clusters,
    format_names,
    get_format,
    iter_clusters,
    read_clusters,
    read_info,
    write_clusters,
)

EXTS = [".npz", ".h5", ".parquet", ".root"]


def _leftovers(folder: Path, keep: set[str] = frozenset()) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_registry_lists_formats() -> None:
    assert format_names() == ["hdf5", "npz", "parquet", "root"]
    assert set(FORMATS) == set(format_names())
    assert get_format(".hdf5").name == "hdf5"
    assert get_format("h5").name == "hdf5"
    with pytest.raises(UnknownFormatError) as info:
        get_format("csv")
    assert isinstance(info.value, UnknownNameError)
    for name in format_names():
        assert name in str(info.value)


@pytest.mark.parametrize("ext", [*EXTS, ".hdf5"])
@pytest.mark.parametrize("truth", [True, False])
def test_round_trip_exact(tmp_path, make_clusters, ext, truth) -> None:
    cs = make_clusters(1500, truth=truth, chamber="MTPCL")
    path = write_clusters(cs, tmp_path / f"set{ext}")
    back = read_clusters(path)
    assert back.equals(cs)
    assert back.chamber == "MTPCL"
    if truth:
        assert np.isnan(back.truth["drift_length"]).any()
    assert _leftovers(tmp_path) == [path.name]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("ext", EXTS)
def test_info_and_count(tmp_path, make_clusters, ext) -> None:
    cs = make_clusters(321, window=(5, 7))
    path = write_clusters(cs, str(tmp_path / f"set{ext}"))
    assert count_clusters(path) == 321
    info = read_info(path)
    assert info["chamber"] == "VTPC2"
    assert info["window"] == (5, 7)
    assert info["n_clusters"] == 321
    assert info["format"] == get_format(ext).name
    assert info["fields"] == ["charge", "label", "event_id", *TRUTH_FIELDS]
    assert info["truth_fields"] == list(TRUTH_FIELDS)
    assert info["schema_version"] == 1
    assert info["chamber_from_file"] is True
    assert read_clusters(path, window=(5, 7)).equals(cs)
    # toolkit metadata wins: a chamber argument only fills in for files that name none
    assert read_clusters(path, chamber="OTHER").chamber == "VTPC2"


@pytest.mark.parametrize(
    ("text", "window"),
    [("11x20", (11, 20)), ("11,20", (11, 20)), ("[5, 7]", (5, 7)), (b"3X4", (3, 4))],
)
def test_parse_window(text, window) -> None:
    from interp.data.io.registry import parse_window

    assert parse_window(text, "src") == window
    assert parse_window(np.array(window), "src") == window


@pytest.mark.parametrize("text", ["11", "0x20", "axb", "1x2x3"])
def test_parse_window_rejects(text) -> None:
    from interp.data.io.registry import parse_window

    with pytest.raises(ClusterDataError, match="window"):
        parse_window(text, "src")


@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("chunk_size", [1, 499, 4096])
def test_chunked_read_visits_every_cluster_once(tmp_path, make_clusters, ext, chunk_size):
    n = 2500 if chunk_size > 1 else 300
    cs = make_clusters(n, n_events=50)
    path = write_clusters(cs, tmp_path / f"set{ext}")
    chunks = list(iter_clusters(path, chunk_size=chunk_size))
    assert all(0 < len(c) <= chunk_size for c in chunks)
    assert sum(len(c) for c in chunks) == n
    assert len(chunks) >= -(-n // chunk_size)
    assert ClusterSet.concatenate(chunks).equals(read_clusters(path))


@pytest.mark.parametrize("ext", EXTS)
def test_writer_appends_events(tmp_path, make_clusters, ext) -> None:
    cs = make_clusters(3000, n_events=40)
    path = tmp_path / f"events{ext}"
    with ClusterWriter(path, cs.chamber, cs.window_shape, tuple(cs.truth), buffer_rows=700) as w:
        w.write(cs.subset(slice(0, 0)))  # events without clusters are allowed
        for event in cs.events():
            w.write(cs.select_events([event]))
            assert not path.exists()  # nothing under the final name before the rename
    assert w.n_written == 3000
    assert read_clusters(path).equals(cs)
    assert _leftovers(tmp_path) == [path.name]
    assert ClusterSet.concatenate(list(iter_clusters(path, chunk_size=1000))).equals(cs)


def test_parquet_row_groups_follow_buffer(tmp_path, make_clusters) -> None:
    import pyarrow.parquet as pq

    cs = make_clusters(2000)
    path = tmp_path / "rg.parquet"
    with ClusterWriter(path, cs.chamber, cs.window_shape, tuple(cs.truth), buffer_rows=500) as w:
        w.write(cs)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4


@pytest.mark.parametrize(
    ("ext", "compression"),
    [
        (".npz", "deflate"),
        (".npz", None),
        (".h5", "lzf"),
        (".h5", None),
        (".parquet", "snappy"),
        (".parquet", None),
        (".root", "zlib"),
        (".root", None),
    ],
)
def test_compression_options(tmp_path, make_clusters, ext, compression) -> None:
    cs = make_clusters(800)
    path = write_clusters(cs, tmp_path / f"c{ext}", compression=compression)
    assert read_clusters(path).equals(cs)
    chunks = list(iter_clusters(path, chunk_size=300))
    assert ClusterSet.concatenate(chunks).equals(cs)


def test_bad_compression_name(tmp_path, make_clusters) -> None:
    with pytest.raises(ClusterDataError, match="compression"):
        write_clusters(make_clusters(10), tmp_path / "x.h5", compression="zip9")
    assert _leftovers(tmp_path) == []


def test_format_override(tmp_path, make_clusters) -> None:
    cs = make_clusters(100)
    path = write_clusters(cs, tmp_path / "data.bin", format="parquet")
    assert read_clusters(path, format="parquet").equals(cs)
    with pytest.raises(UnknownFormatError, match=r"data\.bin"):
        read_clusters(path)


def test_unknown_extension_lists_formats(tmp_path, make_clusters) -> None:
    with pytest.raises(ClusterDataError) as info:
        write_clusters(make_clusters(10), tmp_path / "x.csv")
    message = str(info.value)
    assert "x.csv" in message
    assert all(name in message for name in format_names())
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", EXTS)
def test_exception_in_writer_leaves_nothing(tmp_path, make_clusters, ext) -> None:
    cs = make_clusters(500)
    path = tmp_path / f"x{ext}"
    with pytest.raises(RuntimeError), ClusterWriter(path, "VTPC2", (11, 20), TRUTH_FIELDS) as w:
        w.write(cs)
        raise RuntimeError("simulated crash")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", EXTS)
def test_failed_write_keeps_existing_file(tmp_path, make_clusters, ext) -> None:
    old = make_clusters(100, seed=1)
    path = write_clusters(old, tmp_path / f"x{ext}")
    before = path.read_bytes()
    bad = make_clusters(100, seed=2)
    bad.charge[3, 0, 0] = np.nan
    with pytest.raises(ClusterDataError, match="charge"):
        write_clusters(bad, path)
    with (
        pytest.raises(ClusterDataError, match="chamber"),
        ClusterWriter(path, "VTPC2", (11, 20), TRUTH_FIELDS) as w,
    ):
        w.write(make_clusters(50, seed=3))
        w.write(make_clusters(50, seed=4, chamber="MTPCL"))
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == [path.name]


@pytest.mark.parametrize("ext", EXTS)
def test_rename_failure_cleans_up(tmp_path, make_clusters, ext, monkeypatch) -> None:
    def broken_replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", broken_replace)
    path = tmp_path / f"x{ext}"
    with pytest.raises(ClusterWriteError) as info:
        write_clusters(make_clusters(100), path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, OSError)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", EXTS)
def test_disk_full_is_reported(tmp_path, make_clusters, ext, monkeypatch) -> None:
    fmt = get_format(ext)
    real_open = fmt.open_sink

    def open_full_sink(*args, **kwargs):
        sink = real_open(*args, **kwargs)

        def append(columns):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        sink.append = append
        return sink

    monkeypatch.setattr(fmt, "open_sink", open_full_sink)
    path = tmp_path / f"x{ext}"
    with pytest.raises(ClusterWriteError, match="No space left") as info:
        write_clusters(make_clusters(100), path)
    assert str(path) in str(info.value)
    assert _leftovers(tmp_path) == []


def test_writer_refuses_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.h5"
    with (
        pytest.raises(ClusterDataError, match="no clusters"),
        ClusterWriter(path, "VTPC2", (11, 20)),
    ):
        pass
    assert _leftovers(tmp_path) == []


def test_writer_checks_truth_fields(tmp_path, make_clusters) -> None:
    with pytest.raises(ClusterDataError, match="energy"):
        ClusterWriter(tmp_path / "x.h5", "VTPC2", (11, 20), ["energy"])
    path = tmp_path / "x.parquet"
    with (
        pytest.raises(ClusterDataError, match="truth fields"),
        ClusterWriter(path, "VTPC2", (11, 20), ["dip_angle"]) as w,
    ):
        w.write(make_clusters(10))
    assert _leftovers(tmp_path) == []


def test_writer_checks_window(tmp_path, make_clusters) -> None:
    path = tmp_path / "x.root"
    with (
        pytest.raises(ClusterDataError, match="window"),
        ClusterWriter(path, "VTPC2", (11, 21), TRUTH_FIELDS) as w,
    ):
        w.write(make_clusters(10))
    assert _leftovers(tmp_path) == []


def test_npz_is_sliceable_and_pickle_free(tmp_path, make_clusters) -> None:
    cs = make_clusters(200)
    path = write_clusters(cs, tmp_path / "x.npz")
    with np.load(path, allow_pickle=False) as data:
        assert "__meta__" in data.files
        np.testing.assert_array_equal(data["charge"], cs.charge)
    fmt = get_format("npz")
    members = fmt._open_members(path, fmt.info(path))
    assert all(m.array is None for m in members.values())  # read by offset, not loaded
