"""The matrix stage's stored scores (interp.study.score_cache): read back only when the split
and the classifier are the ones they were computed for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from interp.study import score_cache as sc


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "classifier.json").write_text('{"model": "x"}')
    (run / "params.safetensors").write_bytes(b"\x01\x02\x03")
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    return run


def _counting(value: float):
    calls = []

    def predict(charge: np.ndarray) -> np.ndarray:
        calls.append(len(charge))
        return np.full(len(charge), value, np.float32)

    return predict, calls


def test_round_trip_and_every_miss(tmp_path: Path, make_clusters) -> None:
    run = _run_dir(tmp_path)
    part = make_clusters(300, seed=1)
    other = make_clusters(300, seed=2)
    data_sha, clf_sha = sc.split_fingerprint(part), sc.classifier_fingerprint(run)
    assert data_sha != sc.split_fingerprint(other)
    scores = np.linspace(0, 1, len(part), dtype=np.float32)
    sc.save_scores(run, "test_VTPC2", scores, data_sha, clf_sha)

    predict, calls = _counting(0.25)
    got = sc.stored_or_scored(run, "test_VTPC2", part, predict, data_sha, clf_sha)
    np.testing.assert_array_equal(got, scores)
    assert calls == []
    # another split, another name, another classifier fingerprint: scored again
    for name, p, dsha, csha in (
        ("test_VTPC2", other, sc.split_fingerprint(other), clf_sha),
        ("test_MTPCL", part, data_sha, clf_sha),
        ("test_VTPC2", part, data_sha, "0" * 64),
    ):
        got = sc.stored_or_scored(run, name, p, predict, dsha, csha)
        np.testing.assert_array_equal(got, np.full(len(p), 0.25, np.float32))
    assert calls == [300, 300, 300]


def test_classifier_fingerprint_follows_the_model_not_the_logs(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    before = sc.classifier_fingerprint(run)
    (run / "metrics.jsonl").write_text('{"epoch": 2}\n')  # a training log
    (run / sc.SCORES_DIR).mkdir()
    assert sc.classifier_fingerprint(run) == before
    (run / "params.safetensors").write_bytes(b"\x01\x02\x04")  # retrained
    assert sc.classifier_fingerprint(run) != before


def test_split_fingerprint_sees_one_changed_adc(make_clusters) -> None:
    part = make_clusters(200, seed=3)
    before = sc.split_fingerprint(part)
    part.charge[17, 3, 4] += 1
    assert sc.split_fingerprint(part) != before


@pytest.mark.parametrize("damage", ["truncated", "length", "dtype"])
def test_damaged_store_is_a_miss(tmp_path: Path, make_clusters, damage: str) -> None:
    run = _run_dir(tmp_path)
    part = make_clusters(100, seed=4)
    data_sha, clf_sha = sc.split_fingerprint(part), sc.classifier_fingerprint(run)
    npy = sc.save_scores(run, "val_VTPC2", np.zeros(100, np.float32), data_sha, clf_sha)
    if damage == "truncated":
        npy.write_bytes(npy.read_bytes()[:40])
    elif damage == "length":
        np.save(npy, np.zeros(99, np.float32))
    else:  # float64 scores are not what save_scores writes
        np.save(npy, np.zeros(100, np.float64))
    assert sc.load_scores(run, "val_VTPC2", data_sha, clf_sha) is None
    predict, calls = _counting(0.5)
    assert sc.stored_or_scored(run, "val_VTPC2", part, predict, data_sha, clf_sha).size == 100
    assert calls == [100]


def test_matrix_scores_each_split_once(tmp_path: Path, monkeypatch) -> None:
    """The validation scores the training computed for the operating point are the ones the
    matrix evaluates: no classifier scores the same split twice in a matrix run."""
    from interp.backends.flax.classifier import FlaxClassifier
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    seen: list[tuple[int, int]] = []
    original = FlaxClassifier.predict_proba

    def counting(self, charge, batch_size=None):
        seen.append((id(self), id(charge)))
        return original(self, charge, batch_size)

    monkeypatch.setattr(FlaxClassifier, "predict_proba", counting)
    cfg = MatrixConfig.smoke(
        models=("perceptron",),
        n_events=4,
        clusters_per_event=150,
        n_boot=0,
        train_seeds=1,
        train_overrides={"perceptron": {"max_epochs": 1, "learning_rate": 1e-2}},
    )
    run_matrix(cfg, tmp_path / "w", progress=False)
    assert seen and len(seen) == len(set(seen)), seen
