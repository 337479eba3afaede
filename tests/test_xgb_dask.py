"""XGBoost over a local Dask cluster of 2 workers matches single-process training.

The workers are threads of this process (``processes=False``) to keep start-up to ~2 s; the
same comparison with worker processes gave identical predictions (max difference 0.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask.array")

from interp.backends.classifier import load_classifier
from interp.backends.xgboost.classifier import XGBConfig, train_xgboost
from interp.backends.xgboost.dask import local_client, train_xgboost_dask
from interp.core.schema import ClusterSet


@pytest.fixture(scope="module")
def splits() -> tuple[ClusterSet, ClusterSet]:
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 2, seed=21, n_clusters=3000)
    ids = data.events()
    return data.select_events([ids[0]]), data.select_events([ids[1]])


def _logloss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_two_workers_match_single_process(
    splits: tuple[ClusterSet, ClusterSet], tmp_path: Path
) -> None:
    train, val = splits
    cfg = XGBConfig(n_estimators=40, max_depth=4, learning_rate=0.3, early_stopping_rounds=10)
    single = train_xgboost(train, val, tmp_path / "single", cfg)
    with local_client(n_workers=2, processes=False) as client:  # threads: fast start-up
        assert len(client.scheduler_info()["workers"]) == 2
        dist = train_xgboost_dask(train, val, tmp_path / "dask", cfg, client=client)

    reloaded = load_classifier(tmp_path / "dask")  # same on-disk format as single-process
    p_single, p_dist = single.predict_proba(val.charge), reloaded.predict_proba(val.charge)
    np.testing.assert_array_equal(p_dist, dist.predict_proba(val.charge))
    y = val.label.astype(np.float64)
    assert _logloss(p_dist, y) == pytest.approx(_logloss(p_single, y), rel=0.02)
    acc_single = np.mean((p_single > 0.5) == (y == 1))
    acc_dist = np.mean((p_dist > 0.5) == (y == 1))
    assert abs(acc_single - acc_dist) < 0.01
    assert np.corrcoef(p_single, p_dist)[0, 1] > 0.99
