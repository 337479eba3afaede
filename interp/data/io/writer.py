"""The one writer stack of the toolkit: atomic, chunked writing of tables (cluster and score files).

:class:`AtomicTableWriter` is the shared machinery: it creates a temporary file beside the
final name (:class:`~interp.core.fsutil.AtomicFile`), opens a format's sink on it, appends
chunks, and on :meth:`~AtomicTableWriter.commit` closes the sink, fsyncs and renames the file
onto the final name with :func:`os.replace`; on any failure it aborts the sink and deletes the
temporary file, so the final name either holds a complete file or is untouched (a
pre-existing file stays as it was). Every I/O failure becomes one :class:`ClusterWriteError`
line naming the file (:func:`as_write_error`). Formats are chosen by suffix through
:func:`~interp.data.io.registry.lookup_suffix`.

On top of it: :class:`ClusterWriter` appends validated :class:`~interp.core.schema.ClusterSet`
chunks (e.g. one simulated event at a time), buffering at most ``buffer_rows`` clusters in
memory; score tables use :class:`interp.data.io.scores.ScoreWriter`.

The output directory must already exist. Write failures (missing or unwritable directory,
disk full) raise :class:`ClusterWriteError`, which is both a
:class:`~interp.core.errors.ClusterDataError` and an :class:`OSError`, and names the path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType

import numpy as np

from interp.core.adc import INTEGER_ADC_DTYPES
from interp.core.errors import ClusterDataError
from interp.core.fsutil import AtomicFile
from interp.core.schema import CORE_FIELDS, TRUTH_FIELDS, ClusterSet
from interp.data.io.registry import (
    DEFAULT_CHUNK_SIZE,
    FIELD_DTYPES,
    Format,
    PathLike,
    Sink,
    format_for_path,
)


class ClusterWriteError(ClusterDataError, OSError):
    """Writing a cluster file failed (I/O error, disk full, unwritable directory)."""


def as_write_error(path: Path, exc: BaseException, action: str, note: str = "") -> BaseException:
    """One-line :class:`ClusterWriteError` naming ``path`` for an I/O failure while writing.

    Errors that already explain themselves (``ClusterDataError``, ``MemoryError``) and
    non-``Exception`` interrupts (``KeyboardInterrupt``) are returned unchanged.

    Args:
        path: Destination file.
        exc: The failure.
        action: What failed, e.g. ``"finish hdf5 file"``.
        note: Appended to the message.
    """
    if isinstance(exc, ClusterDataError | MemoryError) or not isinstance(exc, Exception):
        return exc
    reason = " ".join(str(getattr(exc, "strerror", None) or exc).split())  # one line
    return ClusterWriteError(
        str(path), None, f"cannot {action} ({type(exc).__name__}: {reason}){note}"
    )


class AtomicTableWriter:
    """Shared lifecycle of a table written atomically, chunk by chunk (no validation).

    Subclasses call :meth:`start` with a function that opens the format's sink on the
    temporary path, :meth:`append_columns` for every chunk, then :meth:`commit` (or
    :meth:`discard` on an error).

    Args:
        path: Final file name.
        what: What the file is, for errors, e.g. ``"hdf5 file"`` or ``"the score file"``.
        note: Appended to every write error, e.g. ``"; nothing was written under this name"``.
    """

    def __init__(self, path: PathLike, what: str, note: str = "") -> None:
        self.path = Path(path)
        self._what = what
        self._note = note
        self._file: AtomicFile | None = None
        self._sink: Sink | None = None

    def write_error(self, exc: BaseException, action: str) -> BaseException:
        """The one-line :class:`ClusterWriteError` for ``exc`` during ``action`` (see
        :func:`as_write_error`)."""
        return as_write_error(self.path, exc, f"{action} {self._what}", self._note)

    def start(self, open_sink: Callable[[Path], Sink]) -> None:
        """Creates the temporary file and opens the sink on it (no-op when started).

        Raises:
            ClusterWriteError: The temporary file or the sink cannot be created (the
                temporary file is removed).
        """
        if self._sink is not None:
            return
        try:
            self._file = AtomicFile(self.path)
        except OSError as exc:
            raise ClusterWriteError(
                str(self.path),
                None,
                f"cannot create a file in directory '{self.path.parent}' "
                f"({type(exc).__name__}: {exc.strerror or exc}){self._note}",
            ) from exc
        try:
            self._sink = open_sink(self._file.tmp)
        except BaseException as exc:
            self.discard()
            raise self.write_error(exc, "create") from exc

    def append_columns(self, columns: Mapping[str, np.ndarray]) -> None:
        """Appends rows to the sink (every column the same number of rows)."""
        assert self._sink is not None, "start() the writer first"
        try:
            self._sink.append(columns)
        except BaseException as exc:
            raise self.write_error(exc, "write") from exc

    def commit(self) -> Path:
        """Closes the sink, fsyncs and renames the temporary file onto the final name.

        Raises:
            ClusterWriteError: Closing or renaming failed (the temporary file is removed).
        """
        try:
            assert self._sink is not None and self._file is not None
            self._sink.close()
            self._sink = None
            self._file.commit()
        except BaseException as exc:
            self.discard()
            raise self.write_error(exc, "finish") from exc
        return self.path

    def discard(self) -> None:
        """Aborts the sink and deletes the temporary file; the final name is left untouched."""
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.abort()
            self._sink = None
        if self._file is not None:
            self._file.discard()


class ClusterWriter(AtomicTableWriter):
    """Context manager that writes one cluster file atomically, chunk by chunk.

    Example::

        with ClusterWriter("run.h5", "VTPC2", (11, 20), TRUTH_FIELDS) as w:
            for event in simulate():
                w.write(event)

    Args:
        path: Final file name; its extension selects the format unless ``format`` is given.
        chamber: Chamber name; every written set must come from this chamber.
        window: (pads, time bins) of every written set.
        truth_fields: Names of the truth fields every written set carries (may be empty).
        format: Format name (``npz``, ``hdf5``, ``parquet``, ``root``) or ``None``.
        compression: ``"default"`` (format default: HDF5 gzip-1 + shuffle, Parquet zstd,
            ROOT ZSTD(1), NPZ uncompressed), ``None`` (none) or a format-specific codec name.
        buffer_rows: Clusters buffered in memory before a chunk goes to disk; also the
            Parquet row-group / ROOT basket / bounded-read granularity.
        charge_dtype: On-disk dtype of ``charge``: float32 (default; holds any set), or one of
            the integer ADC dtypes (:data:`~interp.core.adc.INTEGER_ADC_DTYPES`; uint8 is a
            quarter of the size) when every written set's charge casts to it safely.

    Raises:
        UnknownFormatError: Unknown extension or format.
        ClusterDataError: Unknown truth field, bad compression name, invalid chunk.
        ClusterWriteError: The file cannot be created or written.
    """

    def __init__(
        self,
        path: PathLike,
        chamber: str,
        window: tuple[int, int],
        truth_fields: Iterable[str] = (),
        format: str | None = None,
        *,
        compression: str | None = "default",
        buffer_rows: int = DEFAULT_CHUNK_SIZE,
        charge_dtype: np.dtype | type = np.float32,
    ) -> None:
        self._fmt: Format = format_for_path(path, format)
        super().__init__(path, f"{self._fmt.name} file")
        self.chamber = chamber
        self.window = (int(window[0]), int(window[1]))
        src = str(self.path)
        truth = list(truth_fields)
        for name in truth:
            if name not in TRUTH_FIELDS:
                raise ClusterDataError(
                    src, name, f"unknown truth field; known: {list(TRUTH_FIELDS)}"
                )
        self.truth_fields = tuple(t for t in TRUTH_FIELDS if t in truth)
        self.fields = {k: FIELD_DTYPES[k] for k in (*CORE_FIELDS, *self.truth_fields)}
        dtype = np.dtype(charge_dtype)
        if dtype != np.float32 and dtype not in INTEGER_ADC_DTYPES:
            raise ClusterDataError(
                src, "charge", f"charge_dtype must be float32 or one of "
                f"{[np.dtype(d).name for d in INTEGER_ADC_DTYPES]}, got {dtype}"
            )  # fmt: skip
        self.fields["charge"] = dtype
        self._compression = self._fmt.check_compression(compression, src)
        if int(buffer_rows) <= 0:
            raise ClusterDataError(src, None, f"buffer_rows must be positive, got {buffer_rows}")
        self._buffer_rows = int(buffer_rows)
        self._buffer: list[Mapping[str, np.ndarray]] = []
        self._buffered = 0
        self._closed = False
        self.n_written = 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ClusterWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Creates the temporary file (called by ``__enter__`` or the first write)."""
        if self._closed:
            raise ClusterDataError(str(self.path), None, "writer is already closed")
        if self._sink is not None:
            return
        try:
            self.start(
                lambda tmp: self._fmt.open_sink(
                    tmp, self.chamber, self.window, self.fields, self._compression
                )
            )
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discards everything written so far; the final name is left untouched."""
        self.discard()
        self._buffer.clear()
        self._buffered = 0
        self._closed = True

    def close(self) -> Path:
        """Flushes, fsyncs and renames the temporary file onto the final name.

        Returns:
            The final path.

        Raises:
            ClusterDataError: No cluster was written (empty files are not valid).
            ClusterWriteError: Flushing or renaming failed (the temporary file is removed).
        """
        if self._closed:
            raise ClusterDataError(str(self.path), None, "writer is already closed")
        try:
            self._flush(final=True)
            if self.n_written == 0:
                raise ClusterDataError(
                    str(self.path),
                    "charge",
                    "no clusters were written; refusing to create an empty file",
                )
            self.commit()
        except BaseException as exc:
            self.abort()
            raise self.write_error(exc, "finish") from exc
        self._closed = True
        return self.path

    # ------------------------------------------------------------------ writing

    def write(self, cs: ClusterSet) -> None:
        """Validates and appends one chunk (any number of clusters, e.g. one event).

        An empty set (0 clusters) is accepted and adds nothing; the file as a whole must
        end up with at least one cluster.

        Raises:
            ClusterDataError: Invalid data, another chamber/window or other truth fields.
                The writer is aborted (temporary file deleted) on any error.
        """
        try:
            if len(cs) == 0:  # e.g. an event without clusters in this chamber: nothing to add
                self._check_compatible(cs)
                if cs.charge.ndim != 3 or cs.window_shape != self.window:
                    raise ClusterDataError(
                        str(self.path),
                        "charge",
                        f"shape {cs.charge.shape} does not match window {self.window}",
                    )
                return
            valid = cs.validate(source=str(self.path), window=self.window)
            self._check_compatible(valid)
            if not np.can_cast(valid.charge.dtype, self.fields["charge"], "safe"):
                raise ClusterDataError(
                    str(self.path),
                    "charge",
                    f"{valid.charge.dtype} values do not fit the file's charge dtype "
                    f"{self.fields['charge']} (ClusterWriter(charge_dtype=...))",
                )
            self._append(valid.columns())
        except BaseException:
            self.abort()
            raise

    def _check_compatible(self, cs: ClusterSet) -> None:
        src = str(self.path)
        if cs.chamber != self.chamber:
            raise ClusterDataError(
                src, "chamber", f"writer is for chamber {self.chamber!r}, got {cs.chamber!r}"
            )
        if set(cs.truth) != set(self.truth_fields):
            diff = sorted(set(cs.truth) ^ set(self.truth_fields))
            raise ClusterDataError(
                src,
                diff[0],
                f"truth fields {sorted(cs.truth)} differ from the writer's "
                f"{list(self.truth_fields)}",
            )

    def _append(self, columns: Mapping[str, np.ndarray]) -> None:
        if self._sink is None:
            self.open()
        n = len(columns["charge"])
        if n == 0:
            return
        self._buffer.append(columns)
        self._buffered += n
        if self._buffered >= self._buffer_rows:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Writes whole ``buffer_rows`` slices (and, if ``final``, the remainder)."""
        if not self._buffer:
            return
        if self._sink is None:
            self.open()
        assert self._sink is not None
        if len(self._buffer) == 1:
            cols = dict(self._buffer[0])
        else:
            cols = {k: np.concatenate([b[k] for b in self._buffer]) for k in self.fields}
        self._buffer.clear()
        n = self._buffered
        step = self._buffer_rows
        stop = n if final else n - n % step
        for start in range(0, stop, step):
            end = min(start + step, stop)
            self.append_columns({k: cols[k][start:end] for k in self.fields})
            self.n_written += end - start
        rest = n - stop
        self._buffered = rest
        if rest:
            self._buffer.append({k: cols[k][stop:] for k in self.fields})


def write_clusters(
    cs: ClusterSet,
    path: PathLike,
    *,
    format: str | None = None,
    compression: str | None = "default",
) -> Path:
    """Validates ``cs`` and writes it atomically to ``path``.

    Args:
        cs: Clusters (charge [N, P, T] ADC, labels, event ids, optional truth); integer ADC
            charge is stored in its own dtype (uint8: a quarter of float32), else float32.
        path: Destination; the extension (``.npz``, ``.h5``/``.hdf5``, ``.parquet``, ``.root``)
            selects the format unless ``format`` is given.
        format: Format name or ``None``.
        compression: See :class:`ClusterWriter`.

    Returns:
        The written path.

    Raises:
        ClusterDataError: Invalid data (nothing is created) or unknown format.
        ClusterWriteError: I/O failure; nothing exists under the final name afterwards
            (unless a file was there before, which is left untouched).
    """
    valid = cs.validate(source=str(path))
    writer = ClusterWriter(
        path,
        valid.chamber,
        valid.window_shape,
        tuple(valid.truth),
        format,
        compression=compression,
        charge_dtype=valid.charge.dtype,
    )
    with writer:
        writer._append(valid.columns())
    return writer.path
