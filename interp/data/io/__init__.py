"""Reading and writing :class:`~interp.core.schema.ClusterSet` files.

Formats (chosen by extension, see :data:`FORMATS`): ``.npz`` (small files; uncompressed
members are memory-mapped), ``.h5``/``.hdf5`` (chunked gzip-1 + shuffle), ``.parquet``
(zstd, FixedSizeList charge), ``.root`` (uproot TTree ``clusters``, ZSTD). Each file stores
the chamber, the window shape and a schema version; round trips are exact.

Files written by other software are read too when they use the schema's field names (no
toolkit metadata needed; see each format module for the accepted layouts): the window comes
from the array (or ``window=`` for flat layouts), integer ADC and label dtypes are
converted, and ``chamber=`` names the chamber of a file that names none (the file's own
chamber wins; ``read_info(...)["chamber_from_file"]`` tells which applied). Other layouts
convert with :func:`import_clusters` (``tpc-interp import``, :mod:`interp.data.io.convert`).

* :func:`write_clusters` / :class:`ClusterWriter` write atomically (temp file, fsync,
  :func:`os.replace`); nothing appears under the final name on failure.
* :func:`read_clusters`, :func:`iter_clusters` (bounded memory), :func:`count_clusters`,
  :func:`read_info` validate and raise :class:`~interp.core.errors.ClusterDataError` naming the
  file and field. A missing file raises :class:`ClusterFileNotFoundError` (also a
  ``FileNotFoundError``); an unknown extension :class:`UnknownFormatError` (also a
  ``KeyError``); a write failure :class:`ClusterWriteError` (also an ``OSError``).
"""

from __future__ import annotations

from interp.data.io import hdf5, npz, parquet, root  # noqa: F401  (register the formats)
from interp.data.io.convert import ImportSpec, import_clusters
from interp.data.io.registry import (
    FORMATS,
    SCHEMA_VERSION,
    ClusterFileNotFoundError,
    Format,
    UnknownFormatError,
    count_clusters,
    format_names,
    get_format,
    iter_clusters,
    read_clusters,
    read_info,
    register_format,
)
from interp.data.io.writer import ClusterWriteError, ClusterWriter, write_clusters

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "ClusterFileNotFoundError",
    "ClusterWriteError",
    "ClusterWriter",
    "Format",
    "ImportSpec",
    "UnknownFormatError",
    "count_clusters",
    "format_names",
    "get_format",
    "import_clusters",
    "iter_clusters",
    "read_clusters",
    "read_info",
    "register_format",
    "write_clusters",
]
