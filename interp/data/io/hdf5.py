"""HDF5 format: one chunked, compressed, resizable dataset per field.

Layout (root group): ``charge`` float32, uint8 or uint16 [N, P, T] (the writer's
``charge_dtype``), ``label`` int8 [N], ``event_id`` int64 [N] and one dataset per truth field.
Datasets are chunked by :data:`CHUNK_ROWS` clusters, compressed with gzip level 1 + shuffle by
default, Fletcher-32 checksummed (corruption is detected on read) and resizable along the first
axis so the writer appends. Root attributes: ``tpc_interp_meta`` (metadata JSON) plus readable
copies ``chamber``, ``window`` and ``schema_version``.

Files written by other software (plain ``h5py``, C++ HDF5) are read when their datasets
follow the schema names, either at the root or inside one group (``tree=`` names the group
when there are several). Their chamber and window come from plain ``chamber`` / ``window``
attributes of that group or the root, when present. Other datasets of such a file are
ignored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError
from interp.data.io.registry import (
    SCHEMA_VERSION,
    FileInfo,
    Format,
    attr_text,
    decode_meta,
    encode_meta,
    parse_window,
    register_format,
)

CHUNK_ROWS = 4096
"""Clusters per HDF5 chunk (11 x 20 float32 windows: 3.6 MB uncompressed)."""

META_ATTR = "tpc_interp_meta"
_CACHE_BYTES = 64 << 20  # chunk cache: several charge chunks, so appends never re-inflate
_FILTERS: dict[str | None, dict[str, Any]] = {
    "gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True, "fletcher32": True},
    "lzf": {"compression": "lzf", "shuffle": True, "fletcher32": True},
    None: {"fletcher32": True},
}


def discard_h5_file(file: Any) -> None:
    """Closes an ``h5py.File`` that is being thrown away, without HDF5 writing to disk again.

    After a failed write (disk full) ``H5Fclose`` fails as well and leaves the file open in
    the library, which flushes it once more at interpreter exit and crashes (segmentation
    fault, exit 139). Pointing the file's descriptor at ``/dev/null`` first lets HDF5's final
    writes succeed harmlessly, so the close completes. Call it at most once per file (a
    second call may touch freed objects); the caller deletes the file. Never raises.
    """
    with contextlib.suppress(Exception):
        if not file.id.valid:
            return
    with contextlib.suppress(Exception):
        fd = int(file.id.get_vfd_handle())
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    with contextlib.suppress(Exception):
        file.close()


class _Hdf5Sink:
    def __init__(
        self,
        path: Path,
        chamber: str,
        window: tuple[int, int],
        fields: Mapping[str, np.dtype],
        compression: str | None,
    ) -> None:
        import h5py

        self.file = h5py.File(path, "w", rdcc_nbytes=_CACHE_BYTES)
        self._done = False
        try:
            self.file.attrs[META_ATTR] = encode_meta(chamber, window)
            self.file.attrs["chamber"] = chamber
            self.file.attrs["window"] = np.asarray(window, dtype=np.int64)
            self.file.attrs["schema_version"] = SCHEMA_VERSION
            self.datasets = {}
            for name, dtype in fields.items():
                row = tuple(window) if name == "charge" else ()
                self.datasets[name] = self.file.create_dataset(
                    name,
                    shape=(0, *row),
                    maxshape=(None, *row),
                    dtype=np.dtype(dtype),
                    chunks=(CHUNK_ROWS, *row),
                    **_FILTERS[compression],
                )
        except BaseException:
            self.abort()
            raise

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        for name, ds in self.datasets.items():
            values = np.asarray(columns[name])
            n0 = ds.shape[0]
            ds.resize(n0 + len(values), axis=0)
            ds[n0:] = values

    def close(self) -> None:
        try:
            self.file.flush()
        except BaseException:
            self.abort()
            raise
        self._done = True
        self.file.close()

    def abort(self) -> None:
        if not self._done:  # a second close would touch HDF5 objects freed by the first
            self._done = True
            discard_h5_file(self.file)


class Hdf5Format(Format):
    """Chunked HDF5 (see module docstring)."""

    name = "hdf5"
    extensions = (".h5", ".hdf5")
    compressions = ("gzip", "lzf")

    sink_class = _Hdf5Sink

    def info(self, path: Path, tree: str | None = None) -> FileInfo:
        import h5py

        src = str(path)
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(META_ATTR)
            chamber, window, version = decode_meta(
                raw.decode() if isinstance(raw, bytes) else raw, src
            )
            group = f if version is not None and tree is None else _cluster_group(f, tree, src)
            if version is None:
                chamber, window = _attributes(group, src)
                if group is not f:
                    root_chamber, root_window = _attributes(f, src)
                    chamber, window = chamber or root_chamber, window or root_window
            shapes: dict[str, tuple[int, ...]] = {}
            for name, obj in group.items():
                if not isinstance(obj, h5py.Dataset):
                    if version is None:
                        continue
                    raise ClusterDataError(src, name, "expected a dataset, found a group")
                if obj.ndim == 0:
                    if version is None and name in ("chamber", "window"):
                        continue
                    raise ClusterDataError(src, name, "must be an array with one row per cluster")
                shapes[name] = tuple(int(x) for x in obj.shape)
            group_name = group.name if group is not f else None
        charge = shapes.get("charge", (0,))
        return FileInfo(
            path=path,
            format=self.name,
            chamber=chamber,
            window=window,
            n_clusters=charge[0],
            fields=tuple(shapes),
            schema_version=version,
            lengths={k: s[0] for k, s in shapes.items()},
            charge_shape=charge[1:],
            tree=group_name,
            layout={"group": group_name or "/"},
        )

    def iter_columns(
        self, path: Path, info: FileInfo, chunk_size: int
    ) -> Iterator[dict[str, np.ndarray]]:
        import h5py

        with h5py.File(path, "r", rdcc_nbytes=_CACHE_BYTES) as f:
            group = f[info.layout.get("group", "/")]
            datasets = {k: group[k] for k in info.fields}
            for start in range(0, info.n_clusters, chunk_size):
                stop = min(start + chunk_size, info.n_clusters)
                yield {k: ds[start:stop] for k, ds in datasets.items()}

    def read_columns(self, path: Path, info: FileInfo) -> dict[str, np.ndarray]:
        import h5py

        with h5py.File(path, "r", rdcc_nbytes=_CACHE_BYTES) as f:
            group = f[info.layout.get("group", "/")]
            return {k: group[k][()] for k in info.fields}


def _cluster_group(f: Any, tree: str | None, src: str) -> Any:
    """The group holding the cluster datasets: ``tree``, the root, or the only group."""
    import h5py

    if tree is not None:
        obj = f.get(tree)
        if not isinstance(obj, h5py.Group):
            groups = sorted(k for k, v in f.items() if isinstance(v, h5py.Group))
            raise ClusterDataError(
                src, None, f"no group '{tree}' in the file; groups: {groups or '(none)'}"
            )
        return obj
    if "charge" in f or any(isinstance(v, h5py.Dataset) and v.ndim > 0 for v in f.values()):
        return f
    groups = sorted(k for k, v in f.items() if isinstance(v, h5py.Group))
    if len(groups) == 1:
        return f[groups[0]]
    if not groups:
        return f  # reported as "required field is missing"
    raise ClusterDataError(
        src, None, f"several groups {groups} and no datasets at the root; pass --tree GROUP"
    )


def _attributes(obj: Any, src: str) -> tuple[str | None, tuple[int, int] | None]:
    """Plain ``chamber`` / ``window`` attributes (or scalar datasets) of a foreign file."""
    chamber_raw = obj.attrs.get("chamber")
    if chamber_raw is None and "chamber" in obj and getattr(obj["chamber"], "ndim", 1) == 0:
        chamber_raw = obj["chamber"][()]
    chamber = None
    if chamber_raw is not None:
        chamber = attr_text(chamber_raw)
        if chamber is None:
            raise ClusterDataError(src, "chamber", f"must be a string, got {chamber_raw!r}")
    window_raw = obj.attrs.get("window")
    window = None if window_raw is None else parse_window(window_raw, src)
    return chamber, window


FORMAT = register_format(Hdf5Format())
