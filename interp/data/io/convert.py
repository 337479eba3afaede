"""Conversion of cluster files that do not follow the schema (``tpc-interp import``).

:func:`import_clusters` streams one or more source files (ROOT, HDF5, Parquet, NPZ) chunk by
chunk into one file of the toolkit's own layout, written atomically by
:class:`~interp.data.io.ClusterWriter`. What it maps (see :class:`ImportSpec`):

* other field names: ``charge``, ``label`` and event columns are named by the caller;
* axis order: per-cluster windows stored ``[time, pad]`` are transposed to ``[pad, time]``;
  flat windows (P*T values per cluster) are reshaped with the given window;
* label codes: any values (integers, strings) mapped to 0 (noise) / 1 (signal);
* an event key of several columns (e.g. run and event number): each distinct combination
  becomes one int64 ``event_id`` (0, 1, ... in order of first appearance) and the mapping is
  saved beside the output as ``DST.events.json``;
* per-event (jagged) ROOT or Parquet layouts: one entry per event holding all its clusters
  (``charge`` a variable-length list of windows or of P*T values per cluster, ``label`` a
  list, event columns per entry or per cluster);
* any compression uproot or pyarrow reads (ROOT ZLIB, LZMA, LZ4, ZSTD).

Memory stays bounded by the chunk size (a few chunks of ``chunk_size`` clusters, or of
:data:`ROOT_STEP` of ROOT baskets), whatever the size of the sources.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.io.registry import DEFAULT_CHUNK_SIZE, PathLike, _existing, format_for_path
from interp.data.io.writer import ClusterWriter

AXES: tuple[str, ...] = ("pad", "time")
"""Names of the two window axes accepted by ``axes=`` (the schema order)."""

ROOT_STEP = "16 MB"
"""Uncompressed ROOT data read per step (uproot ``step_size``): the streaming bound."""

EVENTS_SUFFIX = ".events.json"
"""Suffix of the event-key mapping saved beside an output whose key has several columns."""


@dataclasses.dataclass(frozen=True)
class ImportSpec:
    """Where the schema fields live in the source files and how to convert them.

    Attributes:
        charge: Source column/branch/dataset of the charge windows.
        label: Source column of the labels.
        event: Source column(s) of the event key; several columns are combined into one
            int64 ``event_id`` (mapping saved beside the output).
        axes: Order of the stored per-cluster axes: ``("pad", "time")`` (the schema) or
            ``("time", "pad")``.
        label_map: Source label value -> 0/1; ``None`` when the labels already are 0/1.
        tree: ROOT TTree (or HDF5 group); ``None``: ``clusters`` or the only one.
        window: (pads, time bins) of flat windows (P*T values per cluster), else ``None``.
        chunk_size: Clusters converted at a time (HDF5, NPZ, Parquet sources).
    """

    charge: str = "charge"
    label: str = "label"
    event: tuple[str, ...] = ("event_id",)
    axes: tuple[str, str] = ("pad", "time")
    label_map: Mapping[Any, int] | None = None
    tree: str | None = None
    window: tuple[int, int] | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if sorted(self.axes) != sorted(AXES):
            raise ClusterDataError(
                "--axes", None, f"axes must be 'pad,time' or 'time,pad', got {','.join(self.axes)}"
            )
        if not self.event:
            raise ClusterDataError("--event", None, "give at least one event column")
        if int(self.chunk_size) <= 0:
            raise ClusterDataError("--chunk-size", None, f"must be positive: {self.chunk_size}")
        for value in (self.label_map or {}).values():
            if value not in (0, 1):
                raise ClusterDataError(
                    "--label-map", "label", f"labels map to 0 (noise) or 1 (signal), got {value}"
                )

    @property
    def columns(self) -> list[str]:
        """Source columns read, in order (charge, label, event columns)."""
        return list(dict.fromkeys([self.charge, self.label, *self.event]))

    @property
    def follows_schema(self) -> bool:
        """True when nothing is renamed, transposed or recoded (the schema readers apply)."""
        return (
            (self.charge, self.label, self.event) == ("charge", "label", ("event_id",))
            and tuple(self.axes) == AXES
            and self.label_map is None
        )

    @property
    def time_major(self) -> bool:
        return tuple(self.axes) == ("time", "pad")


def parse_axes(text: str) -> tuple[str, str]:
    """``"time,pad"`` -> ``("time", "pad")`` (checked by :class:`ImportSpec`)."""
    parts = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    if len(parts) != 2 or sorted(parts) != sorted(AXES):
        raise ClusterDataError("--axes", None, f"expected 'pad,time' or 'time,pad', got {text!r}")
    return parts  # type: ignore[return-value]


def _key(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            return text
        return int(value) if value.is_integer() else value


def parse_label_map(text: str) -> dict[Any, int]:
    """``"good=1,bad=0"`` or ``"1,2->0,1"`` -> ``{source value: 0 or 1}``.

    Source values that read as numbers become numbers; anything else stays a string.

    Raises:
        ClusterDataError: Malformed text or a target other than 0/1.
    """
    src = "--label-map"
    out: dict[Any, int] = {}
    if "->" in text:
        left, _, right = text.partition("->")
        keys = [k for k in left.split(",") if k.strip()]
        values = [v for v in right.split(",") if v.strip()]
        if len(keys) != len(values) or not keys:
            raise ClusterDataError(
                src, "label", f"'A,B->0,1' needs as many values as codes, got {text!r}"
            )
        pairs = list(zip(keys, values, strict=True))
    else:
        pairs = []
        for item in (i for i in text.split(",") if i.strip()):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ClusterDataError(
                    src, "label", f"expected CODE=0|1[,CODE=0|1...] or 'A,B->0,1', got {text!r}"
                )
            pairs.append((key, value))
    for key, value in pairs:
        target = _key(value)
        if target not in (0, 1):
            raise ClusterDataError(
                src, "label", f"labels map to 0 (noise) or 1 (signal), got {value.strip()!r}"
            )
        out[_key(key)] = int(target)
    if not out:
        raise ClusterDataError(src, "label", "empty label map")
    return out


# ----------------------------------------------------------------------------- sources


def _listing(names: Sequence[str], limit: int = 12) -> str:
    """Names for an error line, shortened after ``limit``."""
    names = list(names)
    more = f" ... ({len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _schema_chunks(path: Path, spec: ImportSpec, chamber: str) -> _Source:
    """A source that follows the schema (any layout :mod:`interp.data.io` reads), chunk by chunk."""
    from interp.data.io.registry import file_info, iter_clusters

    info = file_info(path, chamber=chamber, tree=spec.tree, window=spec.window)
    chunks = iter_clusters(
        path, chunk_size=spec.chunk_size, chamber=chamber, tree=spec.tree, window=spec.window
    )

    def columns() -> Iterator[dict[str, Any]]:
        for cs in chunks:
            yield {"charge": cs.charge, "label": cs.label, "event_id": cs.event_id}

    about = {"format": info.format, "tree": info.tree, "entries": info.n_clusters}
    return columns(), about, chunks.close


_Source = tuple[Iterator[dict[str, Any]], dict, Callable[[], None]]
"""(raw chunks, what the source is, close): one opened source file."""


def _root_chunks(path: Path, spec: ImportSpec) -> _Source:
    import uproot

    from interp.data.io.root import find_tree

    src = str(path)
    f = uproot.open(path, object_cache=None, array_cache=None)
    try:
        name = find_tree(f, spec.tree, src)
        tree = f[name]
        missing = [c for c in spec.columns if c not in tree.keys(recursive=False)]
        if missing:
            raise ClusterDataError(
                src,
                missing[0],
                f"no branch '{missing[0]}' in TTree '{name}'; branches: "
                f"{_listing(tree.keys(recursive=False))}",
            )
        compression = getattr(f.file, "compression", None)
        about = {
            "format": "root",
            "tree": name,
            "entries": int(tree.num_entries),
            "compression": None if compression is None else type(compression).__name__,
        }
    except BaseException:
        f.close()
        raise

    def chunks() -> Iterator[dict[str, Any]]:
        yield from tree.iterate(spec.columns, step_size=ROOT_STEP, library="ak")

    return chunks(), about, f.close


def _parquet_chunks(path: Path, spec: ImportSpec) -> _Source:
    import awkward as ak
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    for c in spec.columns:
        if c not in names:
            pf.close()
            raise ClusterDataError(str(path), c, f"no column '{c}'; columns: {_listing(names)}")

    def chunks() -> Iterator[dict[str, Any]]:
        for group in range(pf.num_row_groups):
            table = pf.read_row_group(group, columns=spec.columns)
            for start in range(0, table.num_rows, spec.chunk_size):
                part = table.slice(start, spec.chunk_size)
                yield {c: ak.from_arrow(part.column(c), highlevel=True) for c in spec.columns}

    return chunks(), {"format": "parquet", "entries": int(pf.metadata.num_rows)}, pf.close


def _hdf5_chunks(path: Path, spec: ImportSpec) -> _Source:
    import h5py

    f = h5py.File(path, "r")
    try:
        group = f[spec.tree] if spec.tree is not None and spec.tree in f else f
        if spec.tree is not None and group is f:
            raise ClusterDataError(str(path), None, f"no group '{spec.tree}' in the file")
        if spec.charge not in group and spec.tree is None:
            groups = [k for k, v in f.items() if isinstance(v, h5py.Group)]
            if len(groups) == 1:
                group = f[groups[0]]
        datasets = {}
        for c in spec.columns:
            obj = group.get(c)
            if not isinstance(obj, h5py.Dataset) or obj.ndim == 0:
                raise ClusterDataError(
                    str(path), c, f"no dataset '{c}' with one row per cluster in '{group.name}'"
                )
            datasets[c] = obj
        n = min(len(d) for d in datasets.values())
        lengths = {c: len(d) for c, d in datasets.items()}
        if len(set(lengths.values())) > 1:
            bad = next(c for c, k in lengths.items() if k != lengths[spec.charge])
            raise ClusterDataError(
                str(path),
                bad,
                f"has {lengths[bad]} rows but '{spec.charge}' has "
                f"{lengths[spec.charge]} (length mismatch)",
            )
    except BaseException:
        f.close()
        raise

    def chunks() -> Iterator[dict[str, Any]]:
        for start in range(0, n, spec.chunk_size):
            yield {c: d[start : start + spec.chunk_size] for c, d in datasets.items()}

    return chunks(), {"format": "hdf5", "tree": group.name, "entries": int(n)}, f.close


def _npz_chunks(path: Path, spec: ImportSpec) -> _Source:
    with np.load(path, allow_pickle=False) as z:
        for c in spec.columns:
            if c not in z.files:
                raise ClusterDataError(
                    str(path), c, f"no member '{c}'; members: {_listing(z.files)}"
                )
        arrays = {c: z[c] for c in spec.columns}  # NPZ members load whole: small files only
    n = len(arrays[spec.charge])

    def chunks() -> Iterator[dict[str, Any]]:
        for start in range(0, n, spec.chunk_size):
            yield {c: a[start : start + spec.chunk_size] for c, a in arrays.items()}

    return chunks(), {"format": "npz", "entries": int(n)}, lambda: None


_SOURCES: dict[str, Callable[[Path, ImportSpec], _Source]] = {  # non-schema sources
    "root": _root_chunks,
    "parquet": _parquet_chunks,
    "hdf5": _hdf5_chunks,
    "npz": _npz_chunks,
}


def _is_per_event(path: Path, fmt: str, spec: ImportSpec) -> bool:
    """True for a ROOT/Parquet source whose ``label`` is a list per entry (per-event)."""
    if fmt == "root":
        import uproot

        from interp.data.io.root import find_tree

        with uproot.open(path) as f:
            tree = f[find_tree(f, spec.tree, str(path))]
            if spec.label not in tree.keys(recursive=False):
                return False
            interp = tree[spec.label].interpretation
            return isinstance(interp, uproot.interpretation.jagged.AsJagged)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        return spec.label in schema.names and pa.types.is_nested(schema.field(spec.label).type)
    return False


# ----------------------------------------------------------------------------- mapping


def _is_jagged(values: Any) -> bool:
    """True for an awkward array whose first inner dimension is variable (per-event)."""
    import awkward as ak

    if not isinstance(values, ak.Array) or values.ndim < 2:
        return False
    return isinstance(values.type.content, ak.types.ListType)


def _numpy(values: Any, src: str, field: str) -> np.ndarray:
    import awkward as ak

    if not isinstance(values, ak.Array):
        return np.asarray(values)
    try:
        return ak.to_numpy(values)
    except (ValueError, TypeError):
        pass
    try:  # strings and other non-numeric leaves
        return np.asarray(ak.to_arrow(values).to_numpy(zero_copy_only=False))
    except Exception as exc:
        raise ClusterDataError(src, field, f"cannot be read as an array ({exc})") from None


class _Mapper:
    """Turns raw source chunks into schema columns; keeps the state across chunks."""

    def __init__(self, spec: ImportSpec) -> None:
        self.spec = spec
        self.window: tuple[int, int] | None = None
        self.stored: str = ""
        self.layout: str | None = None
        self.event_keys: dict[tuple[int, ...], int] = {}
        self.labels_seen: dict[Any, int] = {}

    def __call__(self, raw: Mapping[str, Any], src: str) -> dict[str, np.ndarray]:
        import awkward as ak

        spec = self.spec
        charge, label = raw[spec.charge], raw[spec.label]
        per_event = _is_jagged(label)  # one entry per event: a list of labels per entry
        layout = "per-event (jagged)" if per_event else "per-cluster"
        if self.layout is None:
            self.layout = layout
        elif self.layout != layout:
            raise ClusterDataError(
                src, spec.label, f"is {layout}; earlier chunks were {self.layout}"
            )
        if per_event:
            if not _is_jagged(label):
                raise ClusterDataError(
                    src,
                    spec.label,
                    "per-event layout needs one label per cluster (a list per entry)",
                )
            counts = np.asarray(ak.num(label, axis=1), dtype=np.int64)
            n = int(counts.sum())
            label_values = _numpy(ak.flatten(label, axis=1), src, spec.label)
            q = self._per_event_charge(charge, counts, n, src)
            events = [self._per_event_column(raw[c], counts, src, c) for c in spec.event]
        else:
            label_values = _numpy(label, src, spec.label)
            n = len(label_values)
            q = self._per_cluster_charge(charge, src)
            events = [_numpy(raw[c], src, c) for c in spec.event]
        for c, e in zip(spec.event, events, strict=True):
            if e.ndim != 1 or len(e) != n:
                raise ClusterDataError(
                    src, c, f"must hold one value per cluster ({n}), got shape {e.shape}"
                )
        if label_values.ndim != 1:
            raise ClusterDataError(
                src, spec.label, f"must hold one value per cluster, got shape {label_values.shape}"
            )
        if len(q) != n:
            raise ClusterDataError(
                src,
                spec.charge,
                f"has {len(q)} clusters but '{spec.label}' has {n} (length mismatch)",
            )
        return {
            "charge": self._window(q, src),
            "label": self._labels(label_values, src),
            "event_id": self._event_id(events, src),
        }

    def _per_event_charge(self, charge: Any, counts: np.ndarray, n: int, src: str) -> np.ndarray:
        """Jagged charge -> [n, ...]: a list of windows, or P*T flat values, per cluster."""
        import awkward as ak

        spec = self.spec
        if not _is_jagged(charge):
            raise ClusterDataError(
                src, spec.charge, "per-event labels need per-event charge (a list per entry)"
            )
        per_entry = np.asarray(ak.num(charge, axis=1), dtype=np.int64)
        flat = _numpy(ak.flatten(charge, axis=None), src, spec.charge)
        if n == 0:
            return flat.reshape(0, *(self.window or (0, 0)))
        if flat.size % n:
            raise ClusterDataError(
                src, spec.charge, f"{flat.size} values do not divide into {n} clusters"
            )
        size = flat.size // n
        inner = flat.size // max(int(per_entry.sum()), 1)  # values per list element
        bad = np.flatnonzero(per_entry * inner != counts * size)
        if bad.size:
            e = int(bad[0])
            raise ClusterDataError(
                src,
                spec.charge,
                f"entry {e} holds {int(per_entry[e]) * inner} values for {int(counts[e])} "
                f"clusters of {size} (length mismatch with '{spec.label}')",
            )
        inner_shape = _inner_shape(charge)
        if inner_shape and int(np.prod(inner_shape)) == size:
            return flat.reshape(n, *inner_shape)
        return flat.reshape(n, size)

    def _per_cluster_charge(self, charge: Any, src: str) -> np.ndarray:
        """Per-cluster charge -> numpy; a variable-length list must have one constant length."""
        import awkward as ak

        if not isinstance(charge, ak.Array):
            return _numpy(charge, src, self.spec.charge)
        for axis in range(1, charge.ndim):  # lists of one constant length -> regular axes
            try:
                charge = ak.to_regular(charge, axis=axis)
            except ValueError:
                raise ClusterDataError(
                    src,
                    self.spec.charge,
                    f"windows must all have the same size; lists at depth {axis} differ in length",
                ) from None
        return _numpy(charge, src, self.spec.charge)

    def _per_event_column(self, values: Any, counts: np.ndarray, src: str, name: str) -> np.ndarray:
        import awkward as ak

        if _is_jagged(values):
            if not np.array_equal(np.asarray(ak.num(values, axis=1)), counts):
                raise ClusterDataError(
                    src, name, f"list lengths differ from those of '{self.spec.label}'"
                )
            return _numpy(ak.flatten(values, axis=1), src, name)
        per_entry = _numpy(values, src, name)
        if per_entry.ndim != 1 or len(per_entry) != len(counts):
            raise ClusterDataError(
                src, name, f"must hold one value per entry, got {per_entry.shape}"
            )
        return np.repeat(per_entry, counts)

    def _window(self, q: np.ndarray, src: str) -> np.ndarray:
        """Stored windows -> [n, pads, time bins] (transposed or reshaped as specified)."""
        spec = self.spec
        if q.dtype.kind not in "iuf":
            raise ClusterDataError(src, spec.charge, f"must be real numbers (ADC), got {q.dtype}")
        if q.ndim == 3:
            stored = "[time, pad]" if spec.time_major else "[pad, time]"
            out = q.transpose(0, 2, 1) if spec.time_major else q
            if spec.window is not None and tuple(out.shape[1:]) != tuple(spec.window):
                raise ClusterDataError(
                    src,
                    spec.charge,
                    f"window {out.shape[1:]} disagrees with --window "
                    f"{spec.window[0]}x{spec.window[1]}",
                )
        elif q.ndim == 2:
            if spec.window is None:
                raise ClusterDataError(
                    src,
                    spec.charge,
                    f"holds {q.shape[1]} flat values per cluster; give the window with "
                    "--window PADSxTIME",
                )
            pads, times = spec.window
            if pads * times != q.shape[1]:
                raise ClusterDataError(
                    src,
                    spec.charge,
                    f"holds {q.shape[1]} values per cluster, window "
                    f"{pads}x{times} needs {pads * times}",
                )
            stored = f"flat {'time-major' if spec.time_major else 'pad-major'}"
            out = (
                q.reshape(len(q), times, pads).transpose(0, 2, 1)
                if spec.time_major
                else q.reshape(len(q), pads, times)
            )
        else:
            raise ClusterDataError(
                src, spec.charge, f"must hold one window per cluster, got shape {q.shape}"
            )
        window = (int(out.shape[1]), int(out.shape[2]))
        if self.window is None:
            self.window, self.stored = window, f"{stored} {q.dtype}"
        elif window != self.window:
            raise ClusterDataError(
                src, spec.charge, f"window {window} differs from the earlier {self.window}"
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def _labels(self, values: np.ndarray, src: str) -> np.ndarray:
        mapping = self.spec.label_map
        if mapping is None:
            if values.dtype.kind == "f" and np.isin(values, (0.0, 1.0)).all():
                values = values.astype(np.int8)  # 0.0/1.0 floats: exact codes
            return values
        uniques, inverse = np.unique(values, return_inverse=True)
        targets = np.empty(len(uniques), dtype=np.int8)
        for i, u in enumerate(uniques):
            key = u.item() if isinstance(u, np.generic) else u
            if isinstance(key, bytes):
                key = key.decode("utf-8", "replace")
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            if key not in mapping:
                raise ClusterDataError(
                    src,
                    self.spec.label,
                    f"value {key!r} is not in --label-map {dict(mapping)}",
                )
            targets[i] = mapping[key]
            self.labels_seen[key] = int(mapping[key])
        return targets[inverse.reshape(-1)]

    def _event_id(self, events: list[np.ndarray], src: str) -> np.ndarray:
        for c, e in zip(self.spec.event, events, strict=True):
            if e.dtype.kind not in "iub":
                raise ClusterDataError(src, c, f"event numbers must be integers, got {e.dtype}")
        if len(events) == 1:
            return events[0].astype(np.int64)
        rows = np.stack([e.astype(np.int64) for e in events], axis=1)
        uniques, inverse = np.unique(rows, axis=0, return_inverse=True)
        ids = np.empty(len(uniques), dtype=np.int64)
        # unique rows come sorted; number them in order of first appearance in the file
        first = np.full(len(uniques), len(rows), dtype=np.int64)
        np.minimum.at(first, inverse.reshape(-1), np.arange(len(rows)))
        for i in np.argsort(first, kind="stable"):
            key = tuple(int(x) for x in uniques[i])
            ids[i] = self.event_keys.setdefault(key, len(self.event_keys))
        return ids[inverse.reshape(-1)]


def _inner_shape(values: Any) -> tuple[int, ...]:
    """Regular dimensions below the per-event list of an awkward array (e.g. (20, 11))."""
    import awkward as ak

    shape: list[int] = []
    t = values.type.content.content  # below the outer array and the per-event list
    while isinstance(t, ak.types.RegularType):
        shape.append(int(t.size))
        t = t.content
    return tuple(shape)


# ----------------------------------------------------------------------------- driver


def events_path_for(out: PathLike) -> Path:
    """Where the event-key mapping of ``out`` is saved (``DST.events.json``)."""
    out = Path(out)
    return out.with_name(out.name + EVENTS_SUFFIX)


def import_clusters(
    sources: Sequence[PathLike],
    out: PathLike,
    chamber: str,
    spec: ImportSpec | None = None,
    *,
    compression: str | None = "default",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Converts ``sources`` (concatenated in order) into one schema file ``out``.

    Every source is opened and its columns checked before anything is written; the output
    is written atomically (nothing under ``out`` on error) and, for a several-column event
    key, the mapping ``{"columns", "keys"}`` (``keys[i]`` = source values of event_id i) is
    saved to :func:`events_path_for` ``(out)``.

    Args:
        sources: Source files (``.root``, ``.h5``/``.hdf5``, ``.parquet``, ``.npz``).
        out: Output file; its extension chooses the toolkit format.
        chamber: Chamber name stored in the output.
        spec: What to map (:class:`ImportSpec`); ``None``: the schema names.
        compression: Output compression (see :class:`~interp.data.io.ClusterWriter`).
        overwrite: Replace an existing ``out``.
        progress: Show a tqdm bar (clusters).

    Returns:
        Summary dict: ``path``, ``clusters``, ``events``, ``noise_fraction``, ``window``,
        ``layout``, ``sources`` (format, tree, entries, compression per source), ``mapping``
        (one line per schema field), ``events_file`` and ``seconds``.

    Raises:
        ClusterDataError: A source that cannot be read or mapped (naming file and column).
        ClusterWriteError: The output cannot be written.
    """
    from tqdm.auto import tqdm

    from interp.core.fsutil import atomic_write_text

    t0 = time.perf_counter()
    spec = spec or ImportSpec()
    out_path = Path(out)
    format_for_path(out_path)  # unknown output extension: fail before reading anything
    if not sources:
        raise ClusterDataError(None, None, "no source files given")
    if out_path.exists() and not overwrite:
        raise ClusterDataError(str(out_path), None, "exists (pass --overwrite to replace it)")
    paths = [_existing(s) for s in sources]
    for p in paths:
        if p.resolve() == out_path.resolve():
            raise ClusterDataError(str(p), None, "the output file is also a source file")
    opened = []
    try:
        for p in paths:
            fmt = format_for_path(p).name
            schema_route = spec.follows_schema and not _is_per_event(p, fmt, spec)
            source = _schema_chunks(p, spec, chamber) if schema_route else _SOURCES[fmt](p, spec)
            opened.append((p, *source))
    except BaseException:
        for _, _, _, close in opened:
            close()
        raise
    mapper = _Mapper(spec)
    labels_total = [0, 0]
    events_seen: set[int] = set()
    writer: ClusterWriter | None = None
    committed = False
    total = sum(about["entries"] for _, _, about, _ in opened)
    bar = tqdm(
        total=total,
        desc="import",
        unit="entry",
        unit_scale=True,
        disable=None if progress else True,
    )
    try:
        with bar, contextlib.ExitStack() as stack:
            for _, _, _, close in opened:
                stack.callback(close)
            for p, chunks, _about, _ in opened:
                src = str(p)
                for raw in chunks:
                    try:
                        cols = mapper(raw, src)
                    except ClusterDataError:
                        raise
                    except (ValueError, TypeError) as exc:
                        raise ClusterDataError(src, None, f"cannot convert ({exc})") from exc
                    n_entries = len(raw[spec.label])
                    bar.update(n_entries)
                    if len(cols["charge"]) == 0:
                        continue
                    cs = ClusterSet.from_columns(cols, chamber, source=src)
                    if writer is None:
                        writer = stack.enter_context(
                            ClusterWriter(
                                out_path, chamber, cs.window_shape, compression=compression
                            )
                        )
                    writer.write(cs)
                    counts = np.bincount(cs.label, minlength=2)
                    labels_total[0] += int(counts[0])
                    labels_total[1] += int(counts[1])
                    events_seen.update(np.unique(cs.event_id).tolist())
            if writer is None:
                raise ClusterDataError(
                    str(paths[0]), spec.charge, "the sources hold no clusters (N = 0)"
                )
        committed = True
        events_file = None
        if len(spec.event) > 1:
            keys = sorted(mapper.event_keys, key=mapper.event_keys.__getitem__)
            mapping = {"columns": list(spec.event), "keys": [list(k) for k in keys]}
            events_file = str(atomic_write_text(events_path_for(out_path), json.dumps(mapping)))
    except BaseException:
        if committed:  # the cluster file is complete but its event mapping was not saved
            with contextlib.suppress(OSError):
                out_path.unlink()
        raise
    n = labels_total[0] + labels_total[1]
    label_line = f"{spec.label}"
    if spec.label_map is not None:
        label_line += " mapped " + ", ".join(
            f"{k!r}->{v}" for k, v in sorted(mapper.labels_seen.items(), key=str)
        )
    event_line = ",".join(spec.event)
    if len(spec.event) > 1:
        event_line += f" -> int64 key 0..{len(mapper.event_keys) - 1} (mapping in {events_file})"
    assert mapper.window is not None
    return {
        "path": str(out_path),
        "chamber": chamber,
        "clusters": n,
        "events": len(events_seen),
        "noise_fraction": labels_total[0] / max(n, 1),
        "window": mapper.window,
        "layout": mapper.layout,
        "sources": [{"path": str(p), **about} for p, _, about, _ in opened],
        "mapping": {
            "charge": f"{spec.charge} ({mapper.stored}) -> float32 [pad, time] "
            f"{mapper.window[0]}x{mapper.window[1]}",
            "label": label_line,
            "event_id": event_line,
        },
        "events_file": events_file,
        "seconds": time.perf_counter() - t0,
    }
