"""A corpus of cluster files written by other software (plain numpy, h5py, pyarrow, uproot).

None of these files is written through :mod:`interp.data.io`: they are what a physicist's own
conversion script produces when following the README's schema section. :func:`valid_files`
writes one file per supported layout, :func:`defective_files` one per kind of defect; both
write into a folder given by the test (nothing binary lives in the repository).

Every valid file holds the same clusters (:func:`base_columns`) in its own layout, so a
reader can be checked against the truth, not only for not failing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

N_EVENTS = 12
PER_EVENT = 20
N = N_EVENTS * PER_EVENT
W = (11, 20)
SMALL_W = (5, 8)


@dataclasses.dataclass(frozen=True)
class Case:
    """One corpus file.

    Attributes:
        path: The file.
        options: CLI read options it needs (``--chamber``, ``--tree``, ``--window``).
        chamber: Chamber the file names itself (``None``: given by ``options`` or the key).
        window: Window of its clusters.
        field: For a defective file, the field its error must name (``None``: whole file).
    """

    path: Path
    options: tuple[str, ...] = ()
    chamber: str | None = None
    window: tuple[int, int] = W
    field: str | None = None

    def read_kwargs(self) -> dict:
        """The library keywords equivalent to ``options``."""
        out: dict = {}
        opts = list(self.options)
        for flag, value in zip(opts[::2], opts[1::2], strict=True):
            key = flag.removeprefix("--")
            out[key] = tuple(int(x) for x in value.split("x")) if key == "window" else value
        return out


def base_columns(window: tuple[int, int] = W, seed: int = 0) -> dict[str, np.ndarray]:
    """Integer ADC windows (uint8 range, 60 % zeros), labels 0/1, 12 events of 20 clusters."""
    rng = np.random.default_rng(seed)
    charge = np.where(rng.random((N, *window)) < 0.6, 0, rng.integers(1, 256, (N, *window)))
    label = (np.arange(N) % 3 != 0).astype(np.int8)  # both classes in every event
    event_id = np.repeat(np.arange(100, 100 + N_EVENTS), PER_EVENT).astype(np.int64)
    return {"charge": charge.astype(np.uint8), "label": label, "event_id": event_id}


# ----------------------------------------------------------------------------- writers


def _npz(path: Path, compressed: bool = False, **arrays: object) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def _h5(path: Path, datasets: dict, attrs: dict | None = None, group: str | None = None) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        where = f if group is None else f.create_group(group)
        for k, v in datasets.items():
            where[k] = v
        for k, v in (attrs or {}).items():
            where.attrs[k] = v
    return path


def _parquet(path: Path, columns: dict, metadata: dict | None = None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path)
    return path


def _fixed_list(charge: np.ndarray, value_type: object = None) -> object:
    import pyarrow as pa

    flat = pa.array(charge.reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(charge.shape[1:])))


def _root(
    path: Path,
    trees: dict[str, dict[str, np.ndarray]],
    keys: dict[str, str] | None = None,
    compression: str = "ZLIB",
) -> Path:
    import uproot

    codec = getattr(uproot, compression)(1)
    with uproot.recreate(path, compression=codec) as f:
        for name, branches in trees.items():
            t = f.mktree(
                name,
                {
                    k: v.dtype if v.ndim == 1 else (v.dtype, v.shape[1:])
                    for k, v in branches.items()
                },
            )
            t.extend(branches)
        for k, v in (keys or {}).items():
            f[k] = v
    return path


def _cols(window: tuple[int, int] = W, **dtypes: object) -> dict[str, np.ndarray]:
    base = base_columns(window)
    return {k: v.astype(dtypes.get(k, v.dtype)) for k, v in base.items()}


# ----------------------------------------------------------------------------- valid


def valid_files(folder: Path) -> dict[str, Case]:
    """One file per supported layout (18), each holding :func:`base_columns`."""
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    d = folder
    c = base_columns()
    small = base_columns(SMALL_W)
    flat = c["charge"].reshape(N, -1)
    cases: dict[str, Case] = {}

    def add(name: str, make: Callable[[Path], Path], **kw: object) -> None:
        cases[name] = Case(make(d / name), **kw)  # type: ignore[arg-type]

    # --- NPZ (np.savez / np.savez_compressed)
    add(
        "savez.npz", lambda p: _npz(p, **_cols(charge=np.float32), chamber="MYTPC"), chamber="MYTPC"
    )
    add(
        "savez_compressed_uint8_bool.npz",
        lambda p: _npz(
            p, True, charge=c["charge"], label=c["label"].astype(bool), event_id=c["event_id"]
        ),
        options=("--chamber", "MYTPC"),
    )
    add(
        "savez_flat_window_member.npz",
        lambda p: _npz(
            p,
            charge=flat.astype(np.int16),
            label=c["label"].astype(np.int32),
            event_id=c["event_id"].astype(np.int32),
            window=np.array(W),
            chamber="MYTPC",
        ),
        chamber="MYTPC",
    )
    # --- HDF5 (plain h5py)
    add(
        "h5py_root.h5",
        lambda p: _h5(p, _cols(charge=np.float32), {"chamber": "MYTPC"}),
        chamber="MYTPC",
    )
    add(
        "h5py_one_group_int16.h5",
        lambda p: _h5(
            p, _cols(charge=np.int16, label=np.uint8), {"chamber": b"MYTPC"}, group="run42"
        ),
        chamber="MYTPC",
    )
    add(
        "h5py_flat_window_attr.h5",
        lambda p: _h5(
            p,
            {"charge": flat.astype(np.int32), "label": c["label"], "event_id": c["event_id"]},
            {"window": "11x20"},
        ),
        options=("--chamber", "MYTPC"),
    )
    add(
        "h5py_small_window_extra_dataset.h5",
        lambda p: _h5(
            p,
            {**small, "label": small["label"].astype(bool), "pad_row": np.arange(N)},
            {"chamber": "SMALLTPC"},
        ),
        chamber="SMALLTPC",
        window=SMALL_W,
    )
    add(
        "h5py_two_groups.h5",
        lambda p: _h5h5_two_groups(p, c),
        options=("--tree", "physics", "--chamber", "MYTPC"),
    )
    # --- Parquet (pyarrow)
    add(
        "pyarrow_fixed_size_list.parquet",
        lambda p: _parquet(
            p,
            {
                "charge": _fixed_list(c["charge"].astype(np.float32)),
                "label": c["label"],
                "event_id": c["event_id"],
            },
            {"chamber": "MYTPC", "window": "11x20"},
        ),
        chamber="MYTPC",
    )
    add(
        "pyarrow_list_constant_length.parquet",
        lambda p: _parquet(
            p,
            {
                "charge": pa.array(list(flat.astype(np.float32)), type=pa.list_(pa.float32())),
                "label": c["label"].astype(np.int64),
                "event_id": c["event_id"],
            },
            {"window": "[11, 20]"},
        ),
        options=("--chamber", "MYTPC"),
    )
    add(
        "pyarrow_nested_lists_uint8.parquet",
        lambda p: _parquet(
            p,
            {
                "charge": pa.array(
                    [[list(r) for r in w] for w in c["charge"]], type=pa.list_(pa.list_(pa.uint8()))
                ),
                "label": c["label"].astype(bool),
                "event_id": c["event_id"],
            },
            {"chamber": "MYTPC"},
        ),
        chamber="MYTPC",
    )
    add(
        "pyarrow_columns_p_t.parquet",
        lambda p: _parquet(
            p,
            {
                **{
                    f"charge_{i}_{j}": c["charge"][:, i, j].astype(np.int16)
                    for i in range(W[0])
                    for j in range(W[1])
                },
                "label": c["label"],
                "event_id": c["event_id"],
                "run": np.full(N, 7),
            },
        ),
        options=("--chamber", "MYTPC"),
    )
    add(
        "pyarrow_columns_flat.parquet",
        lambda p: _parquet(
            p,
            {
                **{f"charge_{i}": flat[:, i].astype(np.float32) for i in range(flat.shape[1])},
                "label": c["label"],
                "event_id": c["event_id"],
            },
            {"chamber": "MYTPC"},
        ),
        options=("--window", "11x20"),
        chamber="MYTPC",
    )
    # --- ROOT (uproot, one entry per cluster)
    add(
        "uproot_clusters_zlib.root",
        lambda p: _root(p, {"clusters": _cols(charge=np.float32)}, {"chamber": "MYTPC"}),
        chamber="MYTPC",
    )
    add(
        "uproot_only_tree_lz4_int16.root",
        lambda p: _root(
            p,
            {"T": _cols(charge=np.int16, label=np.bool_, event_id=np.int32)},
            compression="LZ4",
        ),
        options=("--chamber", "MYTPC"),
    )
    add(
        "uproot_flat_window_key_zstd.root",
        lambda p: _root(
            p,
            {
                "clusters": {
                    "charge": flat.astype(np.float32),
                    "label": c["label"],
                    "event_id": c["event_id"],
                }
            },
            {"chamber": "MYTPC", "window": "11x20"},
            compression="ZSTD",
        ),
        chamber="MYTPC",
    )
    add(
        "uproot_two_trees_lzma.root",
        lambda p: _root(
            p,
            {"calibration": {"x": np.arange(5.0)}, "physics": _cols(charge=np.float32)},
            {"chamber": "MYTPC"},
            compression="LZMA",
        ),
        options=("--tree", "physics"),
        chamber="MYTPC",
    )
    add(
        "uproot_small_window_uint8.root",
        lambda p: _root(p, {"clusters": small}, {"chamber": "SMALLTPC"}),
        chamber="SMALLTPC",
        window=SMALL_W,
    )
    return cases


def _h5h5_two_groups(path: Path, c: dict[str, np.ndarray]) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        for name, shift in (("calibration", 1), ("physics", 0)):
            g = f.create_group(name)
            g["charge"] = np.roll(c["charge"], shift, axis=0)
            g["label"] = c["label"]
            g["event_id"] = c["event_id"]
    return path


# ----------------------------------------------------------------------------- defective


def _truncated(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def defective_files(folder: Path) -> dict[str, Case]:
    """One file per defect (18); ``Case.field`` is the field its error must name."""
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    d = folder
    c = base_columns()
    f32 = c["charge"].astype(np.float32)
    nan = f32.copy()
    nan[7, 3, 4] = np.nan
    inf = f32.copy()
    inf[11, 0, 0] = np.inf
    bad_label = c["label"].astype(np.int32)
    bad_label[5] = 2
    cases: dict[str, Case] = {}
    mine = {"chamber": "MYTPC"}

    def add(name: str, make: Callable[[Path], Path], field: str | None, **kw: object) -> None:
        cases[name] = Case(make(d / name), field=field, **kw)  # type: ignore[arg-type]

    add("nan_charge.h5", lambda p: _h5(p, {**c, "charge": nan}, mine), "charge")
    add(
        "inf_charge.parquet",
        lambda p: _parquet(
            p,
            {"charge": _fixed_list(inf), "label": c["label"], "event_id": c["event_id"]},
            {"chamber": "MYTPC", "window": "11x20"},
        ),
        "charge",
    )
    add(
        "charge_4d.npz",
        lambda p: _npz(p, **{**c, "charge": f32[:, :, :, None]}, chamber="MYTPC"),
        "charge",
    )
    add(
        "label_two.root", lambda p: _root(p, {"clusters": {**c, "label": bad_label}}, mine), "label"
    )
    add("label_float.h5", lambda p: _h5(p, {**c, "label": c["label"] + 0.5}, mine), "label")
    add(
        "label_strings.parquet",
        lambda p: _parquet(
            p,
            {
                "charge": _fixed_list(f32),
                "label": pa.array(["good"] * N),
                "event_id": c["event_id"],
            },
            {"chamber": "MYTPC", "window": "11x20"},
        ),
        "label",
    )
    add("truncated.h5", lambda p: _truncated(_h5(p, c, mine)), None)
    add("truncated.root", lambda p: _truncated(_root(p, {"clusters": c}, mine), 0.7), None)
    add("zero_bytes.parquet", lambda p: (p.write_bytes(b""), p)[1], None)
    add(
        "empty.npz",
        lambda p: _npz(p, **{k: v[:0] for k, v in c.items()}, chamber="MYTPC"),
        "charge",
    )
    add(
        "wrong_tree.root",
        lambda p: _root(p, {"clusters": c}, mine),
        None,
        options=("--tree", "nope"),
    )
    add("several_trees.root", lambda p: _root(p, {"a": c, "b": c}, mine), None)
    add("length_mismatch.h5", lambda p: _h5(p, {**c, "label": c["label"][:-3]}, mine), "label")
    add(
        "length_mismatch.npz",
        lambda p: _npz(p, **{**c, "event_id": c["event_id"][:7]}, chamber="MYTPC"),
        "event_id",
    )
    add(
        "missing_event_id.parquet",
        lambda p: _parquet(
            p,
            {"charge": _fixed_list(f32), "label": c["label"]},
            {"chamber": "MYTPC", "window": "11x20"},
        ),
        "event_id",
    )
    add(
        "charge_strings.h5",
        lambda p: _h5(p, {**c, "charge": np.full((N, *W), b"x")}, mine),
        "charge",
    )
    add("no_chamber.h5", lambda p: _h5(p, c), "chamber")
    add(
        "flat_without_window.root",
        lambda p: _root(p, {"clusters": {**c, "charge": f32.reshape(N, -1)}}, mine),
        "charge",
    )
    add(
        "ragged_list.parquet",
        lambda p: _parquet(
            p,
            {
                "charge": pa.array(
                    [list(r[: 220 - (i % 2)]) for i, r in enumerate(f32.reshape(N, -1))],
                    type=pa.list_(pa.float32()),
                ),
                "label": c["label"],
                "event_id": c["event_id"],
            },
            {"chamber": "MYTPC", "window": "11x20"},
        ),
        "charge",
    )
    return cases
