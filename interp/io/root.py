"""ROOT format (via uproot): TTree ``clusters`` plus a TObjString of metadata.

Layout: TTree :data:`TREE` with branches ``charge`` (``float[P][T]``), ``label`` (int8_t),
``event_id`` (int64_t) and one branch per truth field (float or int8_t, the schema dtypes,
which uproot writes and reads natively, so round trips are exact). A TObjString
:data:`META_KEY` holds the metadata JSON (chamber, window, schema version). ZSTD(1)
compression by default; one basket per writer buffer (~65k clusters), so chunked reads with
entry steps touch only the baskets they need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.errors import ClusterDataError
from interp.io.registry import FileInfo, Format, decode_meta, encode_meta, register_format

TREE = "clusters"
META_KEY = "tpc_interp_meta"


def _codecs() -> dict[str | None, Callable[[], Any]]:
    import uproot

    return {
        "zstd": lambda: uproot.ZSTD(1),
        "zlib": lambda: uproot.ZLIB(1),
        "lz4": lambda: uproot.LZ4(1),
        "lzma": lambda: uproot.LZMA(1),
        None: lambda: None,
    }


class _RootSink:
    def __init__(
        self,
        path: Path,
        chamber: str,
        window: tuple[int, int],
        fields: Mapping[str, np.dtype],
        compression: str | None,
    ) -> None:
        import uproot

        self.fields = {k: np.dtype(v) for k, v in fields.items()}
        self.file = uproot.recreate(path, compression=_codecs()[compression]())
        try:
            self.file[META_KEY] = encode_meta(chamber, window)
            branches = {
                k: (dtype, tuple(window)) if k == "charge" else dtype
                for k, dtype in self.fields.items()
            }
            self.tree = self.file.mktree(TREE, branches, title="tpc-interp clusters")
        except BaseException:
            self.file.close()
            raise

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        self.tree.extend(
            {k: np.ascontiguousarray(columns[k], dtype=d) for k, d in self.fields.items()}
        )

    def close(self) -> None:
        self.file.close()

    def abort(self) -> None:
        self.file.close()


def _open(path: Path) -> Any:
    import uproot

    return uproot.open(path, object_cache=None, array_cache=None)


class RootFormat(Format):
    """uproot TTree (see module docstring)."""

    name = "root"
    extensions = (".root",)
    compressions = ("zstd", "zlib", "lz4", "lzma")

    sink_class = _RootSink

    def info(self, path: Path) -> FileInfo:
        import uproot

        src = str(path)
        with _open(path) as f:
            keys = set(f.keys(cycle=False))
            meta = str(f[META_KEY]) if META_KEY in keys else None
            chamber, window, version = decode_meta(meta, src)
            if TREE not in keys:
                raise ClusterDataError(src, None, f"no TTree '{TREE}' in the file")
            tree = f[TREE]
            shapes: dict[str, tuple[int, ...]] = {}
            for name in tree.keys(recursive=False):
                interp = tree[name].interpretation
                if not isinstance(interp, uproot.interpretation.numerical.AsDtype):
                    raise ClusterDataError(
                        src, name, f"unsupported branch type {tree[name].typename}"
                    )
                shapes[name] = tuple(int(x) for x in interp.inner_shape)
            n = int(tree.num_entries)
        fields = tuple(shapes)
        return FileInfo(
            path=path,
            format=self.name,
            chamber=chamber,
            window=window,
            n_clusters=n,
            fields=fields,
            schema_version=version,
            lengths=dict.fromkeys(fields, n),
            charge_shape=shapes.get("charge", ()),
        )

    def iter_columns(
        self, path: Path, info: FileInfo, chunk_size: int
    ) -> Iterator[dict[str, np.ndarray]]:
        with _open(path) as f:
            # TTree.iterate keeps baskets that straddle step boundaries, so every basket is
            # decompressed once even when chunk_size is smaller than the basket size.
            for arrays in f[TREE].iterate(list(info.fields), step_size=chunk_size, library="np"):
                yield {k: np.asarray(arrays[k]) for k in info.fields}


FORMAT = register_format(RootFormat())
