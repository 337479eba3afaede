"""tpc-interp: interpretable classification of TPC clusters.

Layers (one-way): ``interp.core.schema``/``interp.data.io``/``interp.data.simulator`` produce
:class:`~interp.core.schema.ClusterSet` objects; the training pipeline knows models only through
the registry in the top-level ``models`` package; figures read saved artefacts.
"""

from interp.core.errors import ClusterDataError, UnknownChamberError
from interp.core.schema import DEFAULT_WINDOW, NOISE_KINDS, TRUTH_FIELDS, ClusterSet

__all__ = [
    "DEFAULT_WINDOW",
    "NOISE_KINDS",
    "TRUTH_FIELDS",
    "ClusterDataError",
    "ClusterSet",
    "UnknownChamberError",
]
__version__ = "0.1.0"
