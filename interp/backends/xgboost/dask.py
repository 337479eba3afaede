"""XGBoost training over several Dask workers (optional extra ``dask``).

:func:`train_xgboost_dask` is the distributed twin of
:func:`interp.backends.xgboost.classifier.train_xgboost`:
same :class:`~interp.backends.xgboost.classifier.XGBConfig`, same preprocessing (fitted on the
train split),
same class weights, same early stopping and the same saved
:class:`~interp.backends.xgboost.classifier.XGBoostClassifier`, so ``predict`` and the explanation
tools work
on its output unchanged. The feature matrix is split row-wise into dask partitions that
live on the workers; XGBoost's collective (rabit) all-reduces the gradient histograms.

Results match single-process training up to the approximate quantile sketch, which is
merged across workers (tests: validation log-loss within 2 %, accuracy within 1 point).

The inputs are in-memory :class:`~interp.core.schema.ClusterSet` objects on the client; the
work (histograms, trees) is distributed, the loading is not. Requires
``pip install "tpc-interp[dask]"`` (``dask[distributed,dataframe]``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.xgboost.classifier import (
    XGBConfig,
    XGBoostClassifier,
    _params,
    _sample_weights,
    finish_training,
    resolve_config,
)
from interp.core.errors import TPCInterpError
from interp.core.schema import ClusterSet
from interp.data.preprocess import fit_preprocessor


class DaskUnavailableError(TPCInterpError, ImportError):
    """``dask``/``distributed`` are not installed."""


def _import_dask() -> tuple[Any, Any, Any]:
    try:
        import dask.array as da
        from distributed import Client, LocalCluster
        from xgboost import dask as dxgb
    except ImportError as exc:
        raise DaskUnavailableError(
            f"distributed XGBoost needs dask: pip install 'tpc-interp[dask]' ({exc})"
        ) from exc
    return da, dxgb, (Client, LocalCluster)


@contextlib.contextmanager
def local_client(
    n_workers: int = 2, threads_per_worker: int = 1, processes: bool = True
) -> Iterator[Any]:
    """A throw-away ``LocalCluster`` + ``Client`` (no dashboard).

    Worker processes are started with ``spawn``: a script calling this needs the
    ``if __name__ == "__main__":`` guard. ``processes=False`` runs the workers as threads of
    this process (faster start-up, still separate XGBoost ranks).
    """
    _, _, (Client, LocalCluster) = _import_dask()
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            dashboard_address=None,
            processes=processes,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _n_workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def train_xgboost_dask(
    train: ClusterSet,
    val: ClusterSet,
    workdir: str | Path | None = None,
    config: XGBConfig | None = None,
    *,
    client: Any = None,
    n_workers: int = 2,
    partitions: int | None = None,
    **overrides: Any,
) -> XGBoostClassifier:
    """Trains the XGBoost baseline data-parallel over Dask workers.

    Args:
        train: Training clusters (one chamber).
        val: Validation clusters (early stopping).
        workdir: If given, the classifier is saved there (same layout as the 1-process one).
        config: Hyper-parameters (default :class:`XGBConfig`); ``n_jobs`` is the threads
            per worker.
        client: A ``distributed.Client`` (e.g. of a SLURM cluster via ``dask-jobqueue``);
            ``None`` starts a local cluster of ``n_workers`` processes for this call.
        n_workers: Workers of the local cluster (ignored with ``client``).
        partitions: Row partitions of each split (default: one per worker).
        **overrides: Replace config fields, e.g. ``n_estimators=50``; ``progress`` is ignored.

    Returns:
        The trained :class:`XGBoostClassifier` (trees up to the best validation round).

    Raises:
        DaskUnavailableError: dask/distributed missing.
        ClusterDataError: Empty split or a split with one class.
        ShapeMismatchError: Train and validation windows differ.
        UnknownNameError: Unknown class weighting or preprocessing.
    """
    cfg = resolve_config(config, overrides, train, val)
    da, dxgb, _ = _import_dask()
    if client is None:
        with local_client(n_workers) as own:
            return train_xgboost_dask(train, val, workdir, cfg, client=own, partitions=partitions)

    pre = fit_preprocessor(cfg.preprocessing, train.charge)
    parts = int(partitions or _n_workers(client))

    def dmatrix(part: ClusterSet) -> Any:
        x = pre(part.charge).reshape(len(part), -1)
        rows = -(-len(part) // parts)
        w = _sample_weights(part.label, cfg.class_weight)
        return dxgb.DaskDMatrix(
            client,
            da.from_array(x, chunks=(rows, x.shape[1])),
            da.from_array(part.label.astype(np.float32), chunks=rows),
            weight=None if w is None else da.from_array(w, chunks=rows),
        )

    dtrain, dval = dmatrix(train), dmatrix(val)
    out = dxgb.train(
        client,
        _params(cfg),
        dtrain,
        num_boost_round=cfg.n_estimators,
        evals=[(dtrain, "train"), (dval, "val")],
        early_stopping_rounds=cfg.early_stopping_rounds,
        verbose_eval=False,
    )
    return finish_training(out["booster"], pre, train.chamber, cfg, out["history"], workdir)
