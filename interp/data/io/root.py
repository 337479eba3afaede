"""ROOT format (via uproot): TTree ``clusters`` plus a TObjString of metadata.

Layout: TTree :data:`TREE` with branches ``charge`` (``float[P][T]``, or
``uint8_t``/``uint16_t`` for integer ADC), ``label`` (int8_t), ``event_id`` (int64_t) and one
branch per truth field (float or int8_t, the schema dtypes, which uproot writes and reads
natively, so round trips are exact). A TObjString :data:`META_KEY` holds the metadata JSON
(chamber, window, schema version). ZSTD(1) compression by default; one basket per writer buffer
(~65k clusters), so chunked reads with entry steps touch only the baskets they need.

Files written by other software (a C++ ROOT macro, plain uproot) are read when the tree has
one entry per cluster and branches named after the schema fields: the tree ``clusters``,
else the only TTree in the file, else the one named by ``tree=``; ``charge`` as a fixed
``float[P][T]`` (any integer or floating type) or a flat ``float[P*T]`` branch with the window
given (``window=``, or a ``TObjString``/``TNamed`` key ``window`` such as ``"11x20"``). A
``TObjString``/``TNamed`` key ``chamber`` names the chamber. Other branches are ignored.
Per-event (jagged) layouts and other branch names go through ``tpc-interp import``
(:mod:`interp.data.io.convert`). Any compression uproot reads (ZLIB, LZMA, LZ4, ZSTD) works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError
from interp.data.io.registry import (
    FileInfo,
    Format,
    decode_meta,
    encode_meta,
    parse_window,
    register_format,
)

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

    def info(self, path: Path, tree: str | None = None) -> FileInfo:
        import uproot

        src = str(path)
        with _open(path) as f:
            keys = set(f.keys(cycle=False))
            meta = str(f[META_KEY]) if META_KEY in keys else None
            chamber, window, version = decode_meta(meta, src)
            if version is None:
                chamber = _text_key(f, keys, "chamber", src)
                text = _text_key(f, keys, "window", src)
                window = None if text is None else parse_window(text, src)
            name = find_tree(f, tree, src)
            t = f[name]
            shapes: dict[str, tuple[int, ...]] = {}
            ignored: list[str] = []
            for branch in t.keys(recursive=False):
                interp = t[branch].interpretation
                if not isinstance(interp, uproot.interpretation.numerical.AsDtype):
                    if version is None and branch not in ("charge", "label", "event_id"):
                        ignored.append(branch)
                        continue
                    hint = (
                        "; a per-event (jagged) layout converts with `tpc-interp import`"
                        if isinstance(interp, uproot.interpretation.jagged.AsJagged)
                        else ""
                    )
                    raise ClusterDataError(
                        src, branch, f"unsupported branch type {t[branch].typename}{hint}"
                    )
                shapes[branch] = tuple(int(x) for x in interp.inner_shape)
            n = int(t.num_entries)
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
            tree=name,
            ignored_fields=tuple(ignored),
        )

    def iter_columns(
        self, path: Path, info: FileInfo, chunk_size: int
    ) -> Iterator[dict[str, np.ndarray]]:
        with _open(path) as f:
            # TTree.iterate keeps baskets that straddle step boundaries, so every basket is
            # decompressed once even when chunk_size is smaller than the basket size.
            tree = f[info.tree or TREE]
            for arrays in tree.iterate(list(info.fields), step_size=chunk_size, library="np"):
                yield {k: np.asarray(arrays[k]) for k in info.fields}


def find_tree(f: Any, tree: str | None, src: str) -> str:
    """The TTree to read: ``tree``, else :data:`TREE`, else the only TTree in the file.

    Raises:
        ClusterDataError: The named tree is missing, or there is no or more than one TTree.
    """
    trees = sorted(
        {k for k, c in f.classnames(recursive=True, cycle=False).items() if c == "TTree"}
    )
    if tree is not None:
        if tree not in trees:
            raise ClusterDataError(
                src, None, f"no TTree '{tree}' in the file; trees: {trees or '(none)'}"
            )
        return tree
    if TREE in trees:
        return TREE
    if len(trees) == 1:
        return trees[0]
    if not trees:
        raise ClusterDataError(src, None, "no TTree in the file")
    raise ClusterDataError(
        src, None, f"no TTree '{TREE}' and several others {trees}; pass --tree NAME"
    )


def _text_key(f: Any, keys: set[str], name: str, src: str) -> str | None:
    """Text of a TObjString or TNamed key ``name`` (its title), or None if absent."""
    if name not in keys:
        return None
    obj = f[name]
    if isinstance(obj, str):
        return str(obj)
    try:
        return str(obj.member("fTitle"))
    except Exception:
        raise ClusterDataError(
            src, name, f"key '{name}' must be a TObjString or TNamed, got {obj.classname}"
        ) from None


FORMAT = register_format(RootFormat())
