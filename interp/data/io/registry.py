"""Format registry (by file extension) and the format-independent read API.

Every on-disk format is a :class:`Format` object that registers itself with
:func:`register_format`; lookups go through dictionaries keyed by format name and file
extension, never through if-chains. The read functions here (:func:`read_clusters`,
:func:`iter_clusters`, :func:`count_clusters`, :func:`read_info`) dispatch to a format and
turn every library failure (h5py, pyarrow, uproot, zipfile) into a
:class:`~interp.core.errors.ClusterDataError` that names the file and, where known, the field.

Error conventions:

* a path that does not exist raises :class:`ClusterFileNotFoundError`, which is both a
  :class:`~interp.core.errors.ClusterDataError` and a :class:`FileNotFoundError`;
* an unknown extension or format name raises :class:`UnknownFormatError`, both a
  :class:`~interp.core.errors.ClusterDataError` and an
  :class:`~interp.core.errors.UnknownNameError`;
* everything else wrong with a file raises :class:`~interp.core.errors.ClusterDataError`.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import numpy as np

from interp.core.errors import ClusterDataError, UnknownNameError
from interp.core.schema import ALL_FIELDS, CORE_FIELDS, TRUTH_FIELDS, ClusterSet

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
T = TypeVar("T")


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

    A format's :meth:`Format.info` fills in what the *file* says (``chamber`` and ``window``
    are ``None`` when the file does not say); :func:`resolve_info` then completes them from
    the caller's arguments and checks the whole.

    Attributes:
        path: The file.
        format: Format name (``npz``, ``hdf5``, ``parquet``, ``root``).
        chamber: Chamber name: from the file (toolkit metadata or a plain ``chamber``
            attribute) when it has one, else the caller's ``chamber=`` argument; ``None``
            only before resolution.
        window: (pads, time bins): from the stored ``charge`` shape, the file's metadata or
            ``window`` attribute, or the caller's ``window=`` (flat layouts).
        n_clusters: Number of clusters (rows of ``charge``).
        fields: Schema field names read from the file (in file order).
        schema_version: Layout version from toolkit metadata; ``None`` for a file written
            by other software (no toolkit metadata).
        lengths: Number of rows of each stored field.
        charge_shape: Per-cluster shape of the stored ``charge``: (P, T), or (P*T,) for a
            flat layout that is reshaped row-major (pad-major) to ``window`` on read.
        chamber_from_file: ``True`` when ``chamber`` came from the file itself.
        tree: The TTree (ROOT) or group (HDF5) the clusters were read from, if any.
        ignored_fields: Non-schema fields of a foreign file that are not read.
        layout: Format-private notes on where each field lives (column names, group).
    """

    path: Path
    format: str
    chamber: str | None
    window: tuple[int, int] | None
    n_clusters: int
    fields: tuple[str, ...]
    schema_version: int | None
    lengths: Mapping[str, int]
    charge_shape: tuple[int, ...]
    chamber_from_file: bool = True
    tree: str | None = None
    ignored_fields: tuple[str, ...] = ()
    layout: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict view (what :func:`read_info` returns)."""
        return {
            "path": str(self.path),
            "format": self.format,
            "chamber": self.chamber,
            "chamber_from_file": self.chamber_from_file,
            "window": self.window,
            "n_clusters": self.n_clusters,
            "fields": sorted(self.fields, key=_field_order),
            "truth_fields": [f for f in TRUTH_FIELDS if f in self.fields],
            "schema_version": self.schema_version,
            "tree": self.tree,
            "ignored_fields": list(self.ignored_fields),
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
    def info(self, path: Path, tree: str | None = None) -> FileInfo:
        """Reads metadata and field lengths without reading data.

        Args:
            path: The file.
            tree: TTree (ROOT) or group (HDF5) name chosen by the caller, or ``None``.

        Returns:
            What the file says (see :class:`FileInfo`); ``chamber``/``window`` are ``None``
            where the file does not say.
        """

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
    return _FORMATS[lookup_suffix(path, _EXTENSIONS, format_names())]


def lookup_suffix(
    path: PathLike, table: Mapping[str, T], known: list[str], reason: str | None = None
) -> T:
    """Format dispatch by file extension: ``table[lower-case suffix of path]``.

    Args:
        path: The file.
        table: Lower-case extension including the dot (``".h5"``) -> format or writer.
        known: Format names listed in the error.
        reason: Replaces the default error text (e.g. for score files).

    Raises:
        UnknownFormatError: The extension is not in ``table`` (naming ``path``).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in table:
        err = UnknownFormatError(str(path), suffix or "(no extension)", known)
        if reason is not None:
            err.reason = reason
        raise err
    return table[suffix]


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


def decode_meta(
    text: str | bytes | None, source: str
) -> tuple[str | None, tuple[int, int] | None, int | None]:
    """Parses and checks the metadata JSON; toolkit metadata is optional.

    Returns:
        (chamber, window, schema_version), or ``(None, None, None)`` when ``text`` is
        ``None`` (a file written by other software).

    Raises:
        ClusterDataError: Malformed, foreign-tagged or too-new metadata.
    """
    if text is None:
        return None, None, None
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


def parse_window(value: Any, source: str, field: str = "window") -> tuple[int, int]:
    """A window (pads, time bins) from ``"11x20"``, ``"11,20"``, ``"[11, 20]"`` or a pair.

    Raises:
        ClusterDataError: Naming ``source`` and ``field``, when it is not two positive ints.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip().strip("[]()").replace("x", ",").replace("X", ",")
        parts: Any = [p for p in text.replace(" ", ",").split(",") if p]
    else:
        parts = np.asarray(value).reshape(-1).tolist() if value is not None else []
    try:
        pads, times = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise ClusterDataError(
            source, field, f"window must be PADSxTIME (e.g. 11x20), got {value!r}"
        ) from None
    if pads < 1 or times < 1:
        raise ClusterDataError(source, field, f"window must be positive, got {pads}x{times}")
    return pads, times


def attr_text(value: Any) -> str | None:
    """A plain string attribute (bytes, str or a one-element array of either), else None."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str | np.str_):
        return str(value)
    return None


# ----------------------------------------------------------------------------- reading


def _existing(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise ClusterFileNotFoundError(str(p), None, "no such file")
    if not p.is_file():
        raise ClusterDataError(str(p), None, "not a regular file")
    return p


def _wrap(exc: Exception, path: Path, fmt: Format, what: str) -> ClusterDataError:
    detail = " ".join(str(exc).split())  # library messages may span lines: keep one line
    reason = f"cannot {what} {fmt.name} file ({type(exc).__name__}: {detail})"
    return ClusterDataError(str(path), None, reason)


CHAMBER_HINT = "pass --chamber NAME (or --data NAME=FILE)"
"""How a user gives the chamber of a file that does not name one (used in errors)."""

WINDOW_HINT = "pass --window PADSxTIME (e.g. --window 11x20) or store a 'window' attribute"
"""How a user gives the window of a flat ``charge`` layout (used in errors)."""


def resolve_info(
    info: FileInfo,
    chamber: str | None = None,
    window: tuple[int, int] | None = None,
) -> FileInfo:
    """Completes a format's :class:`FileInfo` from the caller's arguments and checks it.

    The file wins where it says something: its chamber is kept even when ``chamber`` is
    given (``chamber_from_file`` tells the caller which applied). The window comes from a
    two-dimensional stored ``charge``; for a flat layout from the file's metadata or
    ``window`` attribute, else from ``window``; a given ``window`` that disagrees with the
    file is an error.

    Raises:
        ClusterDataError: Missing core field, unknown field in a toolkit file, bad or
            unknowable window, no chamber anywhere, length mismatch, no clusters.
    """
    src = str(info.path)
    fields, ignored = list(info.fields), list(info.ignored_fields)
    unknown = [f for f in fields if f not in ALL_FIELDS]
    if unknown and info.schema_version is not None:
        raise ClusterDataError(
            src, unknown[0], f"unknown field(s) {unknown}; known: {list(ALL_FIELDS)}"
        )
    if unknown:  # a foreign file may carry more columns than the schema: they are not read
        ignored += unknown
        fields = [f for f in fields if f not in unknown]
    for name in CORE_FIELDS:
        if name not in fields:
            raise ClusterDataError(src, name, "required field is missing")
    if info.n_clusters == 0:
        raise ClusterDataError(src, "charge", "contains no clusters (N = 0)")
    wanted = None if window is None else (int(window[0]), int(window[1]))
    shape = tuple(int(x) for x in info.charge_shape)
    declared = info.window
    if len(shape) == 2:
        if declared is not None and shape != declared:
            raise ClusterDataError(
                src, "charge", f"stored window {shape} disagrees with metadata {declared}"
            )
        resolved = shape
    elif len(shape) == 1:
        resolved = declared or wanted
        if resolved is None:
            raise ClusterDataError(
                src,
                "charge",
                f"stored flat ({shape[0]} values per cluster) and the file gives no window; "
                f"{WINDOW_HINT}",
            )
        if resolved[0] * resolved[1] != shape[0]:
            raise ClusterDataError(
                src,
                "charge",
                f"window {resolved[0]}x{resolved[1]} needs {resolved[0] * resolved[1]} values "
                f"per cluster, the file stores {shape[0]}",
            )
    else:
        raise ClusterDataError(
            src,
            "charge",
            f"must have shape [N, pads, time bins] (or [N, pads*time bins] with the window "
            f"given), got per-cluster shape {shape}",
        )
    if wanted is not None and wanted != resolved:
        raise ClusterDataError(
            src,
            "charge",
            f"window shape {resolved} (pads, time bins) does not match the expected {wanted}",
        )
    for name in fields:
        n = info.lengths.get(name, info.n_clusters)
        if n != info.n_clusters:
            raise ClusterDataError(
                src, name, f"has {n} rows but 'charge' has {info.n_clusters} (length mismatch)"
            )
    from_file = info.chamber is not None
    name = info.chamber if from_file else chamber
    if name is None:
        raise ClusterDataError(src, "chamber", f"the file names no chamber; {CHAMBER_HINT}")
    return dataclasses.replace(
        info,
        chamber=name,
        chamber_from_file=from_file,
        window=resolved,
        fields=tuple(fields),
        ignored_fields=tuple(ignored),
    )


def _checked_info(
    path: Path,
    fmt: Format,
    chamber: str | None,
    tree: str | None,
    window: tuple[int, int] | None,
) -> FileInfo:
    """Reads and cross-checks file-level metadata before any data is touched."""
    try:
        info = fmt.info(path, tree)
    except ClusterDataError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise _wrap(exc, path, fmt, "open") from exc
    return resolve_info(info, chamber, window)


def to_schema_columns(columns: Mapping[str, np.ndarray], info: FileInfo) -> dict[str, np.ndarray]:
    """Raw columns of a chunk -> schema columns: flat ``charge`` reshaped to the window."""
    out = {k: columns[k] for k in info.fields if k in columns}
    charge = out.get("charge")
    if charge is not None and info.window is not None and charge.ndim == 2:
        out["charge"] = charge.reshape(len(charge), *info.window)
    return out


def file_info(
    path: PathLike,
    *,
    chamber: str | None = None,
    tree: str | None = None,
    window: tuple[int, int] | None = None,
    format: str | None = None,
) -> FileInfo:
    """The resolved :class:`FileInfo` of a file (see :func:`read_info` for the arguments)."""
    fmt = format_for_path(path, format)
    p = _existing(path)
    return _checked_info(p, fmt, chamber, tree, window)


def read_info(
    path: PathLike,
    *,
    chamber: str | None = None,
    tree: str | None = None,
    window: tuple[int, int] | None = None,
    format: str | None = None,
) -> dict[str, Any]:
    """File-level information without reading the charge data.

    Args:
        path: Cluster file, written by this toolkit or by any other software that follows
            the schema (see the module docstring of :mod:`interp.data.io`).
        chamber: Chamber name used only when the file names none.
        tree: ROOT TTree (or HDF5 group) holding the clusters; ``None``: ``clusters``, or
            the only one in the file.
        window: (pads, time bins): the expected window, and the shape of a flat ``charge``
            layout whose file does not give it.
        format: Format name; ``None`` to use the extension.

    Returns:
        Dict with ``path``, ``format``, ``chamber``, ``chamber_from_file``, ``window``
        (pads, time bins), ``n_clusters``, ``fields``, ``truth_fields``, ``schema_version``
        (``None`` without toolkit metadata), ``tree`` and ``ignored_fields``.

    Raises:
        ClusterDataError: Unreadable or inconsistent file, or no chamber anywhere.
    """
    return file_info(path, chamber=chamber, tree=tree, window=window, format=format).as_dict()


def count_clusters(
    path: PathLike,
    *,
    chamber: str | None = None,
    tree: str | None = None,
    window: tuple[int, int] | None = None,
    format: str | None = None,
) -> int:
    """Number of clusters in a file, without reading the charge data."""
    info = file_info(path, chamber=chamber, tree=tree, window=window, format=format)
    return int(info.n_clusters)


def read_clusters(
    path: PathLike,
    *,
    chamber: str | None = None,
    tree: str | None = None,
    window: tuple[int, int] | None = None,
    format: str | None = None,
) -> ClusterSet:
    """Reads a whole cluster file and validates it against the schema.

    Args:
        path: Cluster file (``.npz``, ``.h5``/``.hdf5``, ``.parquet``, ``.root``), written
            by any software that follows the schema.
        chamber: Chamber name used only when the file names none (the file's own chamber
            wins; compare ``read_info(...)["chamber_from_file"]``).
        tree: ROOT TTree (or HDF5 group) holding the clusters; ``None``: the default.
        window: Expected (pads, time bins), or ``None`` to accept the file's window; also
            the shape of a flat ``charge`` layout whose file does not give it.
        format: Format name; ``None`` to use the extension.

    Returns:
        The validated set (charge [N, P, T] in ADC counts: uint8/uint16 for integer ADC,
        else float32; see :mod:`interp.core.adc`).

    Raises:
        ClusterFileNotFoundError: ``path`` does not exist.
        ClusterDataError: Anything else wrong, naming the file and field.
    """
    fmt = format_for_path(path, format)
    p = _existing(path)
    info = _checked_info(p, fmt, chamber, tree, window)
    try:
        columns = fmt.read_columns(p, info)
    except ClusterDataError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise _wrap(exc, p, fmt, "read") from exc
    return ClusterSet.from_columns(
        to_schema_columns(columns, info), info.chamber, source=str(p), window=info.window
    )


def iter_clusters(
    path: PathLike,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chamber: str | None = None,
    tree: str | None = None,
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
        chamber: Chamber name used only when the file names none.
        tree: ROOT TTree (or HDF5 group) holding the clusters; ``None``: the default.
        window: Expected (pads, time bins), or ``None``; also the shape of a flat layout.
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
    info = _checked_info(p, fmt, chamber, tree, window)
    return _iter_checked(p, fmt, info, int(chunk_size))


def _iter_checked(p: Path, fmt: Format, info: FileInfo, chunk_size: int) -> Iterator[ClusterSet]:
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
            chunk = ClusterSet.from_columns(
                to_schema_columns(columns, info), info.chamber, source=src, window=info.window
            )
            start += len(chunk)
            yield chunk
    finally:
        it.close()  # release the file promptly when the caller stops early
    if start != info.n_clusters:
        raise ClusterDataError(
            src, None, f"read {start} clusters but the file declares {info.n_clusters}"
        )
