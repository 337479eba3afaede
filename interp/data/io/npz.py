"""NPZ format: a zip of one ``.npy`` array per field plus a ``__meta__.npy`` JSON entry.

Layout: ``charge.npy`` (float32, uint8 or uint16 [N, P, T]), ``label.npy``, ``event_id.npy``,
one ``.npy`` per truth field, and ``__meta__.npy`` (uint8 bytes of the metadata JSON: chamber,
window, schema version). Nothing is pickled; readers use ``allow_pickle=False``.

Members are stored uncompressed by default, so :func:`~interp.data.io.iter_clusters` reads only
the requested rows of each member straight from the file (one seek + read per chunk; the zip
CRC-32 is still checked incrementally, a mismatch is raised after the last chunk). With
``compression="deflate"`` the files are smaller but each member must be decompressed whole:
use compressed NPZ only for small files.

Writing streams each field into a side file next to the temporary output (bounded memory)
and assembles the zip when the writer closes.

Files from ``np.savez`` / ``np.savez_compressed`` (no ``__meta__``) are read too: members
``charge`` ([N, P, T], or [N, P*T] with the window given), ``label``, ``event_id``; optional
scalar members ``chamber`` (a string, e.g. ``np.savez(f, ..., chamber="VTPC2")``) and
``window`` (two integers). Other members of such a file are ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from interp.core.errors import ClusterDataError
from interp.data.io.registry import (
    FileInfo,
    Format,
    attr_text,
    decode_meta,
    encode_meta,
    parse_window,
    register_format,
)

META_MEMBER = "__meta__.npy"
ATTR_MEMBERS = ("chamber.npy", "window.npy")
"""Scalar members a foreign NPZ may carry instead of toolkit metadata."""
_MAX_META_BYTES = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header, 30 bytes
_COMPRESSION = {"deflate": zipfile.ZIP_DEFLATED}
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class _NpzSink:
    """Streams each field to a side file; builds the zip on close."""

    def __init__(
        self,
        path: Path,
        chamber: str,
        window: tuple[int, int],
        fields: Mapping[str, np.dtype],
        compression: str | None,
    ) -> None:
        self.path = path
        self.meta = encode_meta(chamber, window)
        self.fields = {k: np.dtype(v) for k, v in fields.items()}
        self.row_shapes = {k: (window if k == "charge" else ()) for k in self.fields}
        self.zip_compression = _COMPRESSION.get(compression or "", zipfile.ZIP_STORED)
        self.n = 0
        self.parts = {k: path.with_name(f"{path.name}.{k}.part") for k in self.fields}
        self.handles: dict[str, BinaryIO] = {}
        try:
            for k, p in self.parts.items():
                self.handles[k] = open(p, "wb")
        except BaseException:
            self.abort()
            raise

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        n = len(columns["charge"])
        for k, dtype in self.fields.items():
            arr = np.ascontiguousarray(columns[k], dtype=dtype)
            self.handles[k].write(arr.tobytes())
        self.n += n

    def close(self) -> None:
        for h in self.handles.values():
            h.close()
        with zipfile.ZipFile(
            self.path, "w", self.zip_compression, allowZip64=True, compresslevel=1
        ) as zf:
            for k, dtype in self.fields.items():
                header = {
                    "descr": np.lib.format.dtype_to_descr(dtype),
                    "fortran_order": False,
                    "shape": (self.n, *self.row_shapes[k]),
                }
                with zf.open(f"{k}.npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array_header_2_0(out, header)
                    with open(self.parts[k], "rb") as src:
                        shutil.copyfileobj(src, out, 16 << 20)
            meta = np.frombuffer(self.meta.encode(), dtype=np.uint8)
            with zf.open(META_MEMBER, "w") as out:
                np.lib.format.write_array(out, meta, allow_pickle=False)
        self._remove_parts()

    def abort(self) -> None:
        for h in self.handles.values():
            with contextlib.suppress(Exception):
                h.close()
        self._remove_parts()

    def _remove_parts(self) -> None:
        for p in self.parts.values():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _read_header(fp: BinaryIO, source: str, field: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fp)
    except ValueError as exc:
        raise ClusterDataError(source, field, f"not a .npy array: {exc}") from exc
    reader = _HEADER_READERS.get(version)
    if reader is None:
        raise ClusterDataError(source, field, f"unsupported .npy format version {version}")
    shape, fortran, dtype = reader(fp)
    if dtype.hasobject:
        raise ClusterDataError(
            source, field, f"object arrays ({dtype}) are not allowed (pickle is disabled)"
        )
    return tuple(shape), bool(fortran), dtype


class NpzFormat(Format):
    """Zip of ``.npy`` members (see module docstring)."""

    name = "npz"
    extensions = (".npz",)
    compressions = ("none", "deflate")  # "default" = "none": memory-mappable members

    sink_class = _NpzSink

    def info(self, path: Path, tree: str | None = None) -> FileInfo:
        src = str(path)
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            chamber, window, version = None, None, None
            if META_MEMBER in names:
                if zf.getinfo(META_MEMBER).file_size > _MAX_META_BYTES:
                    raise ClusterDataError(src, None, f"{META_MEMBER} is implausibly large")
                with zf.open(META_MEMBER) as fp:
                    meta = np.lib.format.read_array(fp, allow_pickle=False)
                chamber, window, version = decode_meta(np.asarray(meta).tobytes(), src)
            else:
                chamber, window = self._attributes(zf, names, src)
            shapes: dict[str, tuple[int, ...]] = {}
            for member in names:
                if member == META_MEMBER or (version is None and member in ATTR_MEMBERS):
                    continue
                field = member.removesuffix(".npy")
                if not member.endswith(".npy"):
                    raise ClusterDataError(src, member, "unknown member (not a .npy array)")
                with zf.open(member) as fp:
                    shapes[field] = _read_header(fp, src, field)[0]
        for field, shape in shapes.items():
            if len(shape) == 0:
                raise ClusterDataError(src, field, "must be an array with one row per cluster")
        charge = shapes.get("charge", (0,))
        return FileInfo(
            path=path,
            format=self.name,
            chamber=chamber,
            window=window,
            n_clusters=int(charge[0]),
            fields=tuple(shapes),
            schema_version=version,
            lengths={k: int(s[0]) for k, s in shapes.items()},
            charge_shape=tuple(int(x) for x in charge[1:]),
        )

    @staticmethod
    def _attributes(
        zf: zipfile.ZipFile, names: list[str], src: str
    ) -> tuple[str | None, tuple[int, int] | None]:
        """Optional ``chamber`` / ``window`` scalar members of a foreign NPZ."""
        found: dict[str, np.ndarray] = {}
        for member in ATTR_MEMBERS:
            if member not in names:
                continue
            field = member.removesuffix(".npy")
            if zf.getinfo(member).file_size > _MAX_META_BYTES:
                raise ClusterDataError(src, field, "implausibly large")
            with zf.open(member) as fp:
                try:
                    found[field] = np.lib.format.read_array(fp, allow_pickle=False)
                except ValueError as exc:
                    raise ClusterDataError(src, field, f"unreadable ({exc})") from None
        chamber = None
        if "chamber" in found:
            chamber = attr_text(found["chamber"])
            if chamber is None:
                raise ClusterDataError(
                    src, "chamber", f"must be a string, got {found['chamber'].dtype} values"
                )
        window = parse_window(found["window"], src) if "window" in found else None
        return chamber, window

    def _open_members(self, path: Path, info: FileInfo) -> dict[str, _Member]:
        """Locates stored members in the file; loads compressed or Fortran-order ones whole."""
        src = str(path)
        size = path.stat().st_size
        out: dict[str, _Member] = {}
        with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
            for field in info.fields:
                zinfo = zf.getinfo(f"{field}.npy")
                with zf.open(zinfo) as fp:
                    shape, fortran, dtype = _read_header(fp, src, field)
                    header_len = fp.tell()
                if zinfo.compress_type != zipfile.ZIP_STORED or fortran:
                    with zf.open(zinfo) as fp:  # zipfile checks the CRC of whole reads
                        out[field] = _Member(array=np.lib.format.read_array(fp, allow_pickle=False))
                    continue
                raw.seek(zinfo.header_offset)
                local = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
                if local[0] != b"PK\x03\x04":
                    raise ClusterDataError(src, field, "corrupt zip local header")
                start = zinfo.header_offset + _LOCAL_HEADER.size + local[-2] + local[-1]
                offset = start + header_len
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if offset + nbytes > size:
                    raise ClusterDataError(src, field, "file is truncated")
                raw.seek(start)
                out[field] = _Member(
                    offset=offset,
                    dtype=dtype,
                    row_shape=shape[1:],
                    crc=zlib.crc32(raw.read(header_len)),
                    expected_crc=zinfo.CRC,
                )
        return out

    def iter_columns(
        self, path: Path, info: FileInfo, chunk_size: int
    ) -> Iterator[dict[str, np.ndarray]]:
        members = self._open_members(path, info)
        with open(path, "rb") as raw:
            for start in range(0, info.n_clusters, chunk_size):
                stop = min(start + chunk_size, info.n_clusters)
                yield {k: m.rows(raw, start, stop) for k, m in members.items()}
        for field, m in members.items():
            if m.crc != m.expected_crc:
                raise ClusterDataError(
                    str(path), field, "CRC-32 mismatch: the stored data is corrupted"
                )


@dataclasses.dataclass
class _Member:
    """One field: an in-memory array, or the location of a stored C-order .npy payload."""

    array: np.ndarray | None = None
    offset: int = 0
    dtype: np.dtype = dataclasses.field(default_factory=lambda: np.dtype(np.float32))
    row_shape: tuple[int, ...] = ()
    crc: int = 0
    expected_crc: int = 0

    def rows(self, raw: BinaryIO, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (a copy); stored payloads are read with one seek + read and
        their running CRC-32 is updated (rows must be requested in order)."""
        if self.array is not None:
            return np.array(self.array[start:stop])
        per_row = int(np.prod(self.row_shape, dtype=np.int64))
        raw.seek(self.offset + start * per_row * self.dtype.itemsize)
        values = np.fromfile(raw, dtype=self.dtype, count=(stop - start) * per_row)
        self.crc = zlib.crc32(values, self.crc)
        return values.reshape(stop - start, *self.row_shape)


FORMAT = register_format(NpzFormat())
