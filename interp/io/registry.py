"""Format registry (by file extension) and the format-independent read API.

Every on-disk format is a :class:`Format` object that registers itself with
:func:`register_format`; lookups go through dictionaries keyed by format name and file
extension, never through if-chains. The read functions here (:func:`read_clusters`,
:func:`iter_clusters`, :func:`count_clusters`, :func:`read_info`) dispatch to a format and
turn every library failure (h5py, pyarrow, uproot, zipfile) into a
:class:`~interp.errors.ClusterDataError` that names the file and, where known, the field.

Error conventions:

* a path that does not exist raises :class:`ClusterFileNotFoundError`, which is both a
  :class:`~interp.errors.ClusterDataError` and a :class:`FileNotFoundError`;
* an unknown extension or format name raises :class:`UnknownFormatError`, both a
  :class:`~interp.errors.ClusterDataError` and an :class:`~interp.errors.UnknownNameError`;
* everything else wrong with a file raises :class:`~interp.errors.ClusterDataError`.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from interp.errors import ClusterDataError, UnknownNameError
from interp.schema import ALL_FIELDS, CORE_FIELDS, TRUTH_FIELDS, ClusterSet

SCHEMA_VERSION: int = 1
"""Version of the on-disk layout written by this module; readers accept versions <= it."""

MAGIC: str = "tpc-interp-clusters"
"""Tag stored in every file's metadata to recognise cluster files."""

FIELD_DTYPES: dict[str, np.dtype] = {
    "charge": np.dtype(np.float32),
    "label": np.dtype(np.int8),
    "event_id": np.dtype(np.int64),
    **TRUTH_FIELDS,
}
"""On-disk dtype of every schema field (equal to the in-memory schema dtypes)."""

DEFAULT_CHUNK_SIZE: int = 65536
"""Default number of clusters per chunk for :func:`iter_clusters` and for writer buffers."""

PathLike = str | os.PathLike[str]


class ClusterFileNotFoundError(ClusterDataError, FileNotFoundError):
    """The cluster file does not exist (a ``ClusterDataError`` and a ``FileNotFoundError``)."""


class UnknownFormatError(ClusterDataError, UnknownNameError):
    """Unknown file extension or format name (a ``ClusterDataError`` and a ``KeyError``)."""

    def __init__(self, source: str | None, name: str, known: list[str]) -> None:
        # Set the attributes of both bases by hand: their __init__ signatures differ.
        self.source = str(source) if source is not None else "<in-memory>"
        self.field = None
        self.reason = (
            f"unknown cluster file format '{name}'; known formats: {', '.join(known)} "
            f"(extensions: {', '.join(sorted(_EXTENSIONS))})"
        )
        self.kind = "format"
        self.name = name
        self.known = sorted(known)
        Exception.__init__(self, f"{self.source}: {self.reason}")

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class FileInfo:
    """What a file holds, read without touching the charge data.

    Attributes:
        path: The file.
        format: Format name (``npz``, ``hdf5``, ``parquet``, ``root``).
        chamber: Chamber name from the metadata.
        window: (pads, time bins) from the metadata.
        n_clusters: Number of clusters (rows of ``charge``).
        fields: Field names stored in the file (in file order).
        schema_version: Layout version from the metadata.
        lengths: Number of rows of each stored field.
        charge_shape: Per-cluster shape of the stored ``charge`` field.
    """

    path: Path
    format: str
    chamber: str
    window: tuple[int, int]
    n_clusters: int
    fields: tuple[str, ...]
    schema_version: int
    lengths: Mapping[str, int]
    charge_shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict view (what :func:`read_info` returns)."""
        return {
            "path": str(self.path),
            "format": self.format,
            "chamber": self.chamber,
            "window": self.window,
            "n_clusters": self.n_clusters,
            "fields": sorted(self.fields, key=_field_order),
            "truth_fields": [f for f in TRUTH_FIELDS if f in self.fields],
            "schema_version": self.schema_version,
        }


def _field_order(name: str) -> tuple[int, str]:
    return (ALL_FIELDS.index(name) if name in ALL_FIELDS else len(ALL_FIELDS), name)


class Sink(Protocol):
    """A format's low-level appender; writes to a (temporary) path, no validation."""

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        """Appends rows; every column has the same number of rows."""

    def close(self) -> None:
        """Finishes the file (footer, metadata); the file is complete afterwards."""

    def abort(self) -> None:
        """Releases resources after an error; the caller deletes the file."""


class Format(abc.ABC):
    """One on-disk format. Subclasses implement the low-level hooks, no validation.

    Attributes:
        name: Format name used in ``format=`` arguments and in :func:`read_info`.
        extensions: Lower-case file extensions including the dot, e.g. ``(".h5", ".hdf5")``.
        compressions: Accepted ``compression=`` names; ``"default"`` and ``None`` are always
            accepted (the format's default codec and no compression).
    """

    name: str
    extensions: tuple[str, ...]
    compressions: tuple[str, ...]
    sink_class: type  # called as sink_class(path, chamber, window, fields, compression)

    def check_compression(self, compression: str | None, source: str) -> str | None:
        """Resolves ``"default"`` and rejects codecs this format does not know."""
        if compression is None or compression in self.compressions:
            return compression
        if compression == "default":
            return self.compressions[0]
        raise ClusterDataError(
            source,
            None,
            f"compression {compression!r} not supported by format '{self.name}'; "
            f"use one of {['default', None, *self.compressions]}",
        )

    def open_sink(
        self,
        path: Path,
        chamber: str,
        window: tuple[int, int],
        fields: Mapping[str, np.dtype],
        compression: str | None,
    ) -> Sink:
        """Creates ``path`` and returns an appender for the given fields and dtypes."""
        return self.sink_class(path, chamber, window, fields, compression)

    @abc.abstractmethod
    def info(self, path: Path) -> FileInfo:
        """Reads metadata and field lengths without reading data."""

    @abc.abstractmethod
    def iter_columns(
        self, path: Path, info: FileInfo, chunk_size: int
    ) -> Iterator[dict[str, np.ndarray]]:
        """Yields raw columns, at most ``chunk_size`` rows each, in file order."""

    def read_columns(self, path: Path, info: FileInfo) -> dict[str, np.ndarray]:
        """Reads every row; default: chunks copied into preallocated arrays (peak ~1 copy)."""
        out: dict[str, np.ndarray] = {}
        pos = 0
        for chunk in self.iter_columns(path, info, DEFAULT_CHUNK_SIZE):
            n = len(chunk["charge"]) if "charge" in chunk else len(next(iter(chunk.values())))
            if pos + n > info.n_clusters:
                raise ClusterDataError(
                    str(path), None, f"holds more rows than the {info.n_clusters} it declares"
                )
            for k, values in chunk.items():
                if k not in out:
                    out[k] = np.empty((info.n_clusters, *values.shape[1:]), dtype=values.dtype)
                out[k][pos : pos + n] = values
            pos += n
        if pos != info.n_clusters:
            raise ClusterDataError(
                str(path), None, f"holds {pos} rows but declares {info.n_clusters}"
            )
        return out


_FORMATS: dict[str, Format] = {}
_EXTENSIONS: dict[str, str] = {}
FORMATS: Mapping[str, Format] = MappingProxyType(_FORMATS)
"""Read-only view of the registered formats, by name."""


def register_format(fmt: Format) -> Format:
    """Adds a format to the registry (later registrations replace earlier ones)."""
    _FORMATS[fmt.name] = fmt
    _EXTENSIONS.update(dict.fromkeys(fmt.extensions, fmt.name))
    return fmt


def format_names() -> list[str]:
    """Sorted names of the registered formats."""
    return sorted(_FORMATS)


def get_format(name: str, source: str | None = None) -> Format:
    """Looks up a format by name (``"hdf5"``) or extension (``".h5"``, ``"h5"``)."""
    key = name.lower()
    resolved = _FORMATS.get(key) or _FORMATS.get(
        _EXTENSIONS.get(key if key.startswith(".") else "." + key, "")
    )
    if resolved is None:
        raise UnknownFormatError(source, name, format_names())
    return resolved


def format_for_path(path: PathLike, format: str | None = None) -> Format:
    """The format named by ``format`` or, if ``None``, by the extension of ``path``."""
    if format is not None:
        return get_format(format, source=str(path))
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise UnknownFormatError(str(path), suffix or "(no extension)", format_names())
    return _FORMATS[_EXTENSIONS[suffix]]


# ----------------------------------------------------------------------------- metadata


def encode_meta(chamber: str, window: tuple[int, int]) -> str:
    """JSON metadata stored in every file (chamber, window, schema version)."""
    return json.dumps(
        {
            "magic": MAGIC,
            "schema_version": SCHEMA_VERSION,
            "chamber": chamber,
            "window": [int(window[0]), int(window[1])],
        },
        sort_keys=True,
    )


def decode_meta(text: str | bytes | None, source: str) -> tuple[str, tuple[int, int], int]:
    """Parses and checks the metadata JSON.

    Returns:
        (chamber, window, schema_version).

    Raises:
        ClusterDataError: Missing, malformed, foreign or too-new metadata.
    """
    if text is None:
        raise ClusterDataError(
            source, None, "no tpc-interp metadata found; not a cluster file written by interp.io"
        )
    try:
        meta = json.loads(text)
        magic = meta.get("magic")
        version = int(meta["schema_version"])
        chamber = meta["chamber"]
        window = (int(meta["window"][0]), int(meta["window"][1]))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ClusterDataError(source, None, f"malformed metadata {text!r}: {exc}") from exc
    if magic != MAGIC:
        raise ClusterDataError(source, None, f"metadata tag {magic!r} is not {MAGIC!r}")
    if version > SCHEMA_VERSION or version < 1:
        raise ClusterDataError(
            source,
            None,
            f"schema version {version} not supported (this reader handles <= {SCHEMA_VERSION})",
        )
    if not isinstance(chamber, str):
        raise ClusterDataError(source, "chamber", f"chamber must be a string, got {chamber!r}")
    return chamber, window, version


# ----------------------------------------------------------------------------- reading


def _existing(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise ClusterFileNotFoundError(str(p), None, "no such file")
    if not p.is_file():
        raise ClusterDataError(str(p), None, "not a regular file")
    return p


def _wrap(exc: Exception, path: Path, fmt: Format, what: str) -> ClusterDataError:
    reason = f"cannot {what} {fmt.name} file ({type(exc).__name__}: {exc})"
    return ClusterDataError(str(path), None, reason)


def _checked_info(path: Path, fmt: Format, window: tuple[int, int] | None) -> FileInfo:
    """Reads and cross-checks file-level metadata before any data is touched."""
    try:
        info = fmt.info(path)
    except ClusterDataError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise _wrap(exc, path, fmt, "open") from exc
    src = str(path)
    unknown = [f for f in info.fields if f not in ALL_FIELDS]
    if unknown:
        raise ClusterDataError(
            src, unknown[0], f"unknown field(s) {unknown}; known: {list(ALL_FIELDS)}"
        )
    for name in CORE_FIELDS:
        if name not in info.fields:
            raise ClusterDataError(src, name, "required field is missing")
    if len(info.charge_shape) != 2:
        raise ClusterDataError(
            src,
            "charge",
            f"must have shape [N, pads, time bins], got per-cluster shape {info.charge_shape}",
        )
    if tuple(info.charge_shape) != info.window:
        raise ClusterDataError(
            src,
            "charge",
            f"stored window {tuple(info.charge_shape)} disagrees with metadata {info.window}",
        )
    if window is not None and tuple(window) != info.window:
        raise ClusterDataError(
            src,
            "charge",
            f"window shape {info.window} (pads, time bins) does not match the expected "
            f"{tuple(window)}",
        )
    for name, n in info.lengths.items():
        if n != info.n_clusters:
            raise ClusterDataError(
                src, name, f"has {n} rows but 'charge' has {info.n_clusters} (length mismatch)"
            )
    if info.n_clusters == 0:
        raise ClusterDataError(src, "charge", "contains no clusters (N = 0)")
    return info


def read_info(path: PathLike, *, format: str | None = None) -> dict[str, Any]:
    """File-level information without reading the charge data.

    Args:
        path: Cluster file.
        format: Format name; ``None`` to use the extension.

    Returns:
        Dict with ``path``, ``format``, ``chamber``, ``window`` (pads, time bins),
        ``n_clusters``, ``fields``, ``truth_fields`` and ``schema_version``.

    Raises:
        ClusterDataError: Unreadable, foreign or inconsistent file.
    """
    fmt = format_for_path(path, format)
    p = _existing(path)
    return _checked_info(p, fmt, None).as_dict()


def count_clusters(path: PathLike, *, format: str | None = None) -> int:
    """Number of clusters in a file, without reading the charge data."""
    return int(read_info(path, format=format)["n_clusters"])


def read_clusters(
    path: PathLike, *, window: tuple[int, int] | None = None, format: str | None = None
) -> ClusterSet:
    """Reads a whole cluster file and validates it against the schema.

    Args:
        path: Cluster file (``.npz``, ``.h5``/``.hdf5``, ``.parquet``, ``.root``).
        window: Expected (pads, time bins), or ``None`` to accept the file's window.
        format: Format name; ``None`` to use the extension.

    Returns:
        The validated set (charge float32 [N, P, T] in ADC counts).

    Raises:
        ClusterFileNotFoundError: ``path`` does not exist.
        ClusterDataError: Anything else wrong, naming the file and field.
    """
    fmt = format_for_path(path, format)
    p = _existing(path)
    info = _checked_info(p, fmt, window)
    try:
        columns = fmt.read_columns(p, info)
    except ClusterDataError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise _wrap(exc, p, fmt, "read") from exc
    return ClusterSet.from_columns(columns, info.chamber, source=str(p), window=window)


def iter_clusters(
    path: PathLike,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    window: tuple[int, int] | None = None,
    format: str | None = None,
) -> Iterator[ClusterSet]:
    """Reads a cluster file in chunks of at most ``chunk_size`` clusters (bounded memory).

    Every cluster is yielded exactly once, in file order; each chunk is validated. NPZ files
    written uncompressed (the default) are memory-mapped; compressed NPZ members are loaded
    whole, so use NPZ only for small files.

    Args:
        path: Cluster file.
        chunk_size: Maximum clusters per chunk (> 0).
        window: Expected (pads, time bins), or ``None``.
        format: Format name; ``None`` to use the extension.

    Yields:
        Validated :class:`ClusterSet` chunks.

    Raises:
        ClusterDataError: As :func:`read_clusters`; the metadata is checked when this
            function is called, data errors surface at the chunk that holds them.
    """
    if int(chunk_size) <= 0:
        raise ClusterDataError(str(path), None, f"chunk_size must be positive, got {chunk_size}")
    fmt = format_for_path(path, format)
    p = _existing(path)
    info = _checked_info(p, fmt, window)
    return _iter_checked(p, fmt, info, int(chunk_size), window)


def _iter_checked(
    p: Path, fmt: Format, info: FileInfo, chunk_size: int, window: tuple[int, int] | None
) -> Iterator[ClusterSet]:
    src = str(p)
    it = fmt.iter_columns(p, info, chunk_size)
    start = 0
    try:
        while True:
            try:
                columns = next(it)
            except StopIteration:
                break
            except (ClusterDataError, MemoryError):
                raise
            except Exception as exc:
                raise _wrap(exc, p, fmt, f"read rows from {start} of") from exc
            chunk = ClusterSet.from_columns(columns, info.chamber, source=src, window=window)
            start += len(chunk)
            yield chunk
    finally:
        it.close()  # release the file promptly when the caller stops early
    if start != info.n_clusters:
        raise ClusterDataError(
            src, None, f"read {start} clusters but the file declares {info.n_clusters}"
        )
