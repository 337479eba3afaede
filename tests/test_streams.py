"""Inference calls in flight at once (``ModelSpec.streams``): same numbers as one at a time,
every piece run exactly once, never more calls at once than asked for."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import models
from interp.backends.flax import tuning
from interp.backends.flax.chunking import ladder_chunks, run_pieces
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.data.preprocess import fit_preprocessor
from models.contract import ModelSpec


def _charge(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, 11, 20)).round()
    x[x < 20] = 0
    return np.minimum(x, 255).astype(np.uint8)


@pytest.mark.parametrize("streams", [1, 2, 3])
def test_run_pieces_runs_each_piece_once_and_at_most_streams_at_once(streams: int) -> None:
    plan = list(ladder_chunks(1000, 128, 64))
    seen: list[tuple[int, int, int]] = []
    lock = threading.Lock()
    active, peak = [0], [0]

    def call(start: int, stop: int, size: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
            seen.append((start, stop, size))

    run_pieces(plan, call, streams)
    assert sorted(seen) == sorted(plan)
    assert 1 <= peak[0] <= streams
    if streams > 1:
        assert peak[0] > 1  # really side by side (10 ms sleeps, 10 pieces)


def test_run_pieces_raises_after_the_others_finished() -> None:
    done: list[int] = []

    def call(start: int, stop: int, size: int) -> None:
        if start == 0:
            raise RuntimeError("piece 0 failed")
        time.sleep(0.02)
        done.append(start)

    with pytest.raises(RuntimeError, match="piece 0 failed"):
        run_pieces([(i, i + 1, 1) for i in range(4)], call, 2)
    assert sorted(done) == [1, 2, 3]


@pytest.mark.parametrize("name", models.model_names(backend="flax"))
def test_logits_with_two_streams_equal_one(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    x = _charge(2600)
    module = models.get_model(name)
    params = random_params(module, (11, 20), 1)
    pre = fit_preprocessor("max", x.astype(np.float32))
    out = {}
    for backend in ("jax", "onnx"):
        for streams in (1, 2):
            monkeypatch.setattr(tuning, "preferred_streams", lambda n, p, s=streams: s)
            clf = FlaxClassifier(name, module, params, pre, "VTPC2")
            clf.backend = backend
            out[backend, streams] = clf.logits(x, batch_size=256)  # 11 calls
    np.testing.assert_array_equal(out["jax", 2], out["jax", 1])
    np.testing.assert_array_equal(out["onnx", 2], out["onnx", 1])


def test_preferred_streams_reads_the_spec_and_caps_at_the_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = ModelSpec(name="fake", streams={"cpu": 4, "gpu": 3})
    monkeypatch.setattr(tuning, "_spec", lambda name: spec)
    monkeypatch.setattr(tuning, "usable_cpus", lambda: 2)
    assert tuning.preferred_streams("fake", "cpu") == 2
    assert tuning.preferred_streams("fake", "gpu") == 3
    assert tuning.preferred_streams("fake", "tpu") == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_spec_rejects_bad_streams(bad) -> None:
    with pytest.raises(ValueError, match="streams"):
        ModelSpec(name="fake", streams={"cpu": bad})
