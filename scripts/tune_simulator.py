"""Measures how hard the simulated task is, per chamber (physics targets of the simulator).

Trains scikit-learn LogisticRegression and HistGradientBoosting on flattened, per-cluster
max-normalised windows of one event and tests on another event; reports balanced and plain
accuracies, the accuracy per noise kind, the MTPCL/VTPC2 pad-RMS ratio of signal clusters and
the pattern of the linear weight map (centre, cross arms, outer ring).

Calibration target (the only accuracy figure the presets were tuned to): the linear model's
**balanced accuracy** near the published perceptron figure (89.4 % VTPC2, 89.3 % MTPCL; the
published accuracies are balanced accuracies, see
``interp.evaluation.metrics.PUBLISHED_METRIC_NOTE``),
with the non-linear reference ~2-3 points above it. Both models use class-balanced weights, as
the toolkit's trainers do. The script prints the distance of each chamber's linear balanced
accuracy from that target. (The presets were first tuned with plain
accuracy on the 74/26 noise/signal mix; the balanced figure of the same model sits higher.)

Usage: ``python scripts/tune_simulator.py [--seed 1] [--chambers VTPC2 MTPCL] [--json out]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from interp.core.published import published_accuracy
from interp.core.schema import NOISE_KINDS, ClusterSet
from interp.data.chambers import get_chamber
from interp.data.features import pad_rms
from interp.data.simulator import simulate_event


def features(cs: ClusterSet) -> np.ndarray:
    """float32 [N, P*T]: windows divided by their own maximum."""
    flat = cs.charge.reshape(len(cs), -1)
    return flat / np.maximum(flat.max(axis=1, keepdims=True), 1.0)


def weight_pattern(coef: np.ndarray, window: tuple[int, int]) -> dict[str, float]:
    """Centre weight, mean cross-arm weight (central row/column without the centre), mean
    outer-ring weight (window border) and mean inner weight (3 x 3 around the centre)."""
    w = coef.reshape(window)
    cp, ct = window[0] // 2, window[1] // 2
    cross = np.zeros(window, bool)
    cross[cp, :] = True
    cross[:, ct] = True
    inner = np.zeros(window, bool)
    inner[cp - 1 : cp + 2, ct - 1 : ct + 2] = True
    arms_far = cross.copy()
    arms_far[cp - 1 : cp + 2, ct - 2 : ct + 3] = False
    ring = np.ones(window, bool)
    ring[1:-1, 1:-1] = False
    return {
        "centre": float(w[cp, ct]),
        "inner_3x3_mean": float(w[inner].mean()),
        "cross_arm_mean": float(w[cross & ~inner].mean()),
        "cross_arm_far_mean": float(w[arms_far].mean()),
        "outer_ring_mean": float(w[ring].mean()),
        "off_cross_not_inner_mean": float(w[~cross & ~inner & ~ring].mean()),
    }


def balanced(pred: np.ndarray, label: np.ndarray) -> float:
    """Balanced accuracy (mean of noise removed and signal kept) of 0/1 predictions."""
    noise, sig = label == 0, label == 1
    return 0.5 * (float(np.mean(pred[noise] == 0)) + float(np.mean(pred[sig] == 1)))


def evaluate(name: str, seed: int, n_clusters: int | None) -> dict:
    """All measurements for one chamber."""
    preset = get_chamber(name)
    t0 = time.time()
    train, test = (simulate_event(preset, e, seed, n_clusters) for e in (0, 1))
    sim_s = time.time() - t0
    xtr, xte = features(train), features(test)
    # class-balanced weights, like the toolkit's trainers: the models are judged on balanced
    # accuracy at threshold 0.5, which needs P(signal) calibrated to a 50/50 prior
    lr = LogisticRegression(max_iter=3000, C=1.0, class_weight="balanced")
    lr.fit(xtr, train.label)
    pred_lr = lr.predict(xte)
    hgb = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.1, random_state=0, class_weight="balanced"
    )
    hgb.fit(xtr, train.label)
    pred_hgb = hgb.predict(xte)
    # the same linear model on raw ADC / 100 (no per-cluster normalisation), for the weight map
    lr_raw = LogisticRegression(max_iter=3000, C=1.0)
    lr_raw.fit(train.charge.reshape(len(train), -1) / 100.0, train.label)
    raw_acc = lr_raw.score(test.charge.reshape(len(test), -1) / 100.0, test.label)
    kinds = test.truth["noise_kind"]
    per_kind = {
        NOISE_KINDS[k]: {
            "n": int((kinds == k).sum()),
            "lr": float(np.mean(pred_lr[kinds == k] == test.label[kinds == k])),
            "hgb": float(np.mean(pred_hgb[kinds == k] == test.label[kinds == k])),
        }
        for k in range(len(NOISE_KINDS))
    }
    sig = test.label == 1
    return {
        "chamber": name,
        "n_train": len(train),
        "n_test": len(test),
        "noise_fraction": test.noise_fraction,
        "lr_accuracy": float(np.mean(pred_lr == test.label)),
        "hgb_accuracy": float(np.mean(pred_hgb == test.label)),
        "lr_balanced_accuracy": balanced(pred_lr, test.label),
        "hgb_balanced_accuracy": balanced(pred_hgb, test.label),
        "target_balanced_accuracy": published_accuracy("perceptron", name, name),
        "lr_noise_removed": float(np.mean(pred_lr[~sig] == 0)),
        "lr_signal_lost": float(np.mean(pred_lr[sig] == 0)),
        "per_kind": per_kind,
        "signal_pad_rms_mean": float(np.nanmean(pad_rms(test.charge[sig]))),
        "weights": weight_pattern(lr.coef_[0], test.window_shape),
        "lr_raw_accuracy": float(raw_acc),
        "weights_raw": weight_pattern(lr_raw.coef_[0], test.window_shape),
        "simulation_s_two_events": sim_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chambers", nargs="+", default=["VTPC2", "MTPCL"])
    parser.add_argument("--n-clusters", type=int, default=None)
    parser.add_argument("--json", default=None, help="write results to this file")
    args = parser.parse_args()
    results = [evaluate(c, args.seed, args.n_clusters) for c in args.chambers]
    for r in results:
        target = r["target_balanced_accuracy"]
        gap = "n/a" if target is None else f"{100 * (r['lr_balanced_accuracy'] - target):+.2f}"
        print(
            f"{r['chamber']}: noise {r['noise_fraction']:.4f}  balanced: LR "
            f"{r['lr_balanced_accuracy']:.4f} (target {target}, LR - target {gap} points)  "
            f"HGB {r['hgb_balanced_accuracy']:.4f}  plain (secondary): LR {r['lr_accuracy']:.4f}"
            f" HGB {r['hgb_accuracy']:.4f}  (LR noise removed {r['lr_noise_removed']:.3f}, "
            f"signal lost {r['lr_signal_lost']:.3f})  signal pad RMS "
            f"{r['signal_pad_rms_mean']:.3f}"
        )
        for kind, v in r["per_kind"].items():
            print(f"    {kind:16s} n={v['n']:6d}  LR {v['lr']:.3f}  HGB {v['hgb']:.3f}")
        print("    weights:", {k: round(v, 3) for k, v in r["weights"].items()})
        print(
            f"    LR on raw ADC/100: {r['lr_raw_accuracy']:.4f}, weights:",
            {k: round(v, 3) for k, v in r["weights_raw"].items()},
        )
    if len(results) == 2:
        ratio = results[1]["signal_pad_rms_mean"] / results[0]["signal_pad_rms_mean"]
        print(f"pad-RMS ratio {results[1]['chamber']}/{results[0]['chamber']}: {ratio:.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
