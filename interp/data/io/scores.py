"""Atomic, chunked writing of per-cluster score tables (Parquet, HDF5, ROOT).

A score table is a handful of 1-D columns (``event_id``, ``cluster_index``,
``p_signal`` ...). :class:`ScoreWriter` is the cluster files' writer stack
(:class:`~interp.data.io.writer.AtomicTableWriter`: temporary file, fsync, :func:`os.replace`,
one-line errors naming the file) with the score sinks below; on any exception (or if the
process dies) nothing appears under the final name. Formats come from the extension through
:data:`SCORE_SINKS` (:func:`~interp.data.io.registry.lookup_suffix`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from interp.data.io.registry import Sink, lookup_suffix
from interp.data.io.writer import AtomicTableWriter, ClusterWriteError

TREE = "scores"
"""Name of the ROOT TTree / HDF5 group-less datasets' logical table."""
META_KEY = "tpc_interp_scores"
"""Key of the JSON metadata (Parquet schema metadata, HDF5 attribute, ROOT TObjString)."""


class _ParquetSink:
    def __init__(self, path: Path, fields: Mapping[str, np.dtype], meta: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.schema = pa.schema(
            [pa.field(k, pa.from_numpy_dtype(d), nullable=False) for k, d in fields.items()],
            metadata={META_KEY.encode(): meta.encode()},
        )
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        arrays = [self._pa.array(columns[f.name]) for f in self.schema]
        self.writer.write_table(self._pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.close()


class _Hdf5Sink:
    def __init__(self, path: Path, fields: Mapping[str, np.dtype], meta: str) -> None:
        import h5py

        self.file = h5py.File(path, "w")
        self.done = False
        self.file.attrs[META_KEY] = meta
        self.datasets = {
            k: self.file.create_dataset(
                k,
                shape=(0,),
                maxshape=(None,),
                dtype=d,
                chunks=(65536,),
                compression="gzip",
                compression_opts=1,
                shuffle=True,
            )
            for k, d in fields.items()
        }

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        for name, ds in self.datasets.items():
            n0 = ds.shape[0]
            ds.resize(n0 + len(columns[name]), axis=0)
            ds[n0:] = columns[name]

    def close(self) -> None:
        try:
            self.file.flush()
        except BaseException:
            self.abort()
            raise
        self.done = True
        self.file.close()

    def abort(self) -> None:
        """Closes the file without writing to disk again (see ``discard_h5_file``)."""
        if not self.done:
            from interp.data.io.hdf5 import discard_h5_file

            self.done = True
            discard_h5_file(self.file)


class _RootSink:
    def __init__(self, path: Path, fields: Mapping[str, np.dtype], meta: str) -> None:
        import uproot

        self.fields = dict(fields)
        self.file = uproot.recreate(path, compression=uproot.ZSTD(1))
        self.file[META_KEY] = meta
        self.tree = self.file.mktree(TREE, self.fields, title="tpc-interp scores")

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        self.tree.extend({k: np.ascontiguousarray(columns[k], d) for k, d in self.fields.items()})

    def close(self) -> None:
        self.file.close()

    def abort(self) -> None:
        self.file.close()


SCORE_SINKS: dict[str, Callable[[Path, Mapping[str, np.dtype], str], Sink]] = {
    ".parquet": _ParquetSink,
    ".h5": _Hdf5Sink,
    ".hdf5": _Hdf5Sink,
    ".root": _RootSink,
}
"""Score-table writers by file extension."""


def check_score_path(path: str | os.PathLike[str]) -> Path:
    """Validates an output name before any work is done.

    Raises:
        UnknownFormatError: Unsupported extension.
        ClusterWriteError: The folder is missing, not a folder, or not writable, or the
            path is an existing directory.
    """
    p = Path(path)
    reason = (
        f"unsupported score file extension '{p.suffix or '(none)'}'; use one of "
        f"{', '.join(SCORE_SINKS)}"
    )
    lookup_suffix(p, SCORE_SINKS, ["parquet", "hdf5", "root"], reason)
    folder = p.parent
    if not folder.is_dir():
        raise ClusterWriteError(str(p), None, f"output folder '{folder}' does not exist")
    if p.is_dir():
        raise ClusterWriteError(str(p), None, "is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ClusterWriteError(str(p), None, f"output folder '{folder}' is not writable")
    return p


class ScoreWriter(AtomicTableWriter):
    """Context manager writing one score table atomically, chunk by chunk.

    Args:
        path: Final name (``.parquet``, ``.h5``/``.hdf5`` or ``.root``).
        fields: Column name -> numpy dtype, in output order.
        meta: JSON-serialisable metadata stored in the file.

    Raises:
        UnknownFormatError: Unsupported extension.
        ClusterWriteError: The file cannot be created, written or renamed (disk full,
            unwritable folder ...); the temporary file is removed.
    """

    def __init__(
        self, path: str | os.PathLike[str], fields: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> None:
        super().__init__(
            check_score_path(path), "the score file", "; nothing was written under this name"
        )
        self.fields = {k: np.dtype(v) for k, v in fields.items()}
        self._meta = json.dumps(dict(meta), sort_keys=True, default=str)
        self._open_sink = lookup_suffix(self.path, SCORE_SINKS, ["parquet", "hdf5", "root"])
        self.n_written = 0

    def __enter__(self) -> ScoreWriter:
        self.start(lambda tmp: self._open_sink(tmp, self.fields, self._meta))
        return self

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        """Appends one chunk (every field, equal lengths, cast to the declared dtypes)."""
        assert self._sink is not None, "use ScoreWriter as a context manager"
        cols = {k: np.ascontiguousarray(columns[k], dtype=d) for k, d in self.fields.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) != 1:
            raise ValueError(f"score columns have different lengths {sorted(lengths)}")
        if not lengths.pop():
            return
        self.append_columns(cols)
        self.n_written += len(cols[next(iter(cols))])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
            return
        self.commit()
