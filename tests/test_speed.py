"""``benchmarks/speed.py``: the pad-mirror TTA rows (issue 14) on a small event."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.backends.tta import TTAClassifier
from interp.data.preprocess import fit_preprocessor

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed_bench", ROOT / "benchmarks" / "speed.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["speed_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def _event(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.gamma(1.0, 30.0, (n, 11, 20)).round().astype(np.float32)
    x[x < 20] = 0.0
    return np.minimum(x, 255.0), (np.arange(n) % 2).astype(np.int64)


def test_bench_flax_times_tta_against_the_plain_score(speed, monkeypatch) -> None:
    monkeypatch.setattr(speed, "PEAK", {"matmul_gflops": 36.0, "bandwidth_gbs": 16.0})
    x, label = _event()
    r = speed.bench_flax("perceptron", x, label, None, 1)
    t = r["tta"]
    assert t["augmentations"] == ["pad-mirror"]
    assert r["s_per_event"]["tta"] == t["s_per_event"] > 0
    assert r["s_per_event"]["toolkit_proba"] == t["plain_s_per_event"] > 0
    assert t["ratio_to_plain"] == pytest.approx(t["s_per_event"] / t["plain_s_per_event"])
    # the timed TTA path is the TTA classifier around the benchmarked classifier (the same
    # random weights): its largest change of P(signal) on this event, recomputed here
    module = models.get_model("perceptron")
    clf = FlaxClassifier("perceptron", module, random_params(module, (11, 20), 0),
                         fit_preprocessor("max", x), "VTPC2")  # fmt: skip
    change = np.abs(TTAClassifier(clf).predict_proba(x) - clf.predict_proba(x)).max()
    assert change > 1e-3 and t["max_abs_p_change"] == pytest.approx(float(change), abs=1e-6)
    assert not any(k.startswith(("tta", "toolkit_proba")) for k in r["parity_rel_err"])
    # the toolkit on the event's uint8 ADC: the backend the perceptron's spec picks for it
    assert r["toolkit_adc_backend"] == models.model_spec("perceptron").uint8_backends["max"]
    assert r["input_dtype"]["toolkit_adc"] == "uint8" and r["s_per_event"]["toolkit_adc"] > 0
    assert r["parity_rel_err"]["toolkit_adc_vs_reference"] <= 2e-6
    assert speed._adc_cell(r).endswith(f"({r['toolkit_adc_backend']})")
    assert speed._adc_cell({"s_per_event": {}}) == "not measured"


def test_tta_markdown_rows_and_old_results(speed) -> None:
    q = {"noise_removed": 0.8, "signal_lost": 0.05}
    r = {"model": "perceptron",
         "tta": {"s_per_event": 0.006, "plain_s_per_event": 0.0025, "ratio_to_plain": 2.4,
                 "max_abs_p_change": 0.1234, "augmentations": ["pad-mirror"]},
         "quality_by_path": {"toolkit_proba": q, "tta": {**q, "noise_removed": 0.81}}}  # fmt: skip
    md = speed.tta_markdown({"flax": [r, {"model": "old"}]})
    row = next(line for line in md.splitlines() if line.startswith("| perceptron"))
    assert row == "| perceptron | 0.0025 | 0.0060 | 2.40x | 0.800 / 0.810 | 0.050 / 0.050 | 0.123 |"
    assert "| old" not in md and speed._tta_cell(r) == "0.0060 (2.40x)"
    # results written before the TTA rows: no section, "not measured" in the main table
    assert speed.tta_markdown({"flax": [{"model": "old"}]}) == ""
    assert speed._tta_cell({"model": "old"}) == "not measured"


def test_calls_in_flight_rows(speed) -> None:
    """The recorded run's ResNet row: JAX path against ORT one call at a time and with the
    same streams; results without an ``onnx_streams`` path get no section."""
    import json

    res = json.loads((ROOT / "benchmarks/results/speed_2026-12-03_streams/speed1.json").read_text())
    md = speed.markdown(res)
    section = md.split("## Calls in flight (same run)")[1].split("## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| resnet")]
    assert rows == ["| resnet | 2 | 0.9252 | 0.7017 | 0.7331 | 0.76x | 0.79x |"]
    for r in res["flax"]:
        r["s_per_event"].pop("onnx_streams", None)
    assert "## Calls in flight" not in speed.markdown(res)


def test_records_the_commit_timed(speed) -> None:
    """The record names the checkout's commit and the table says it; older records say "not
    recorded"."""
    import json
    import subprocess

    env = speed.environment()
    if (ROOT / ".git").exists():
        cmd = ["git", "-C", str(ROOT), "rev-parse", "HEAD"]
        head = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        assert env["commit"] is not None and env["commit"].removesuffix("-dirty") == head
    res = json.loads((ROOT / "benchmarks/results/speed_2026-12-03_streams/speed1.json").read_text())
    assert "Commit: not recorded." in speed.markdown(res)
    res["env"]["commit"] = "abc123"
    assert "Commit: abc123." in speed.markdown(res)
