"""Scale-out helpers: data-parallel meshes, multi-host start-up and sharded inference.

Importing this package is cheap; :mod:`interp.parallel.mesh` imports jax.

* :func:`~interp.parallel.mesh.initialize_distributed`: ``jax.distributed.initialize`` from
  explicit arguments or the environment (``TPC_INTERP_COORDINATOR`` ... or SLURM).
* :func:`~interp.parallel.mesh.data_mesh`: a 1-D ``("data",)`` mesh over the chosen devices.
* :class:`~interp.parallel.mesh.DataParallel`: places batches with ``P("data")`` and
  parameters with ``P()`` (replicated); a plain jitted step then all-reduces by itself.
* :class:`~interp.parallel.mesh.ShardedScorer`: data-parallel inference for a
  :class:`~interp.train.flax_classifier.FlaxClassifier`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DataParallel", "ShardedScorer", "data_mesh", "initialize_distributed"]


def __getattr__(name: str) -> Any:  # lazy: importing jax costs seconds
    if name in __all__:
        from interp.parallel import mesh

        return getattr(mesh, name)
    raise AttributeError(f"module 'interp.parallel' has no attribute {name!r}")
