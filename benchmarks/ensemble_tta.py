"""Fold-ensemble and pad-mirror TTA gains in balanced accuracy, and the TTA cost per event.

For each model: 60 simulated VTPC2 events x 500 clusters (seed 0) split by event 70/15/15;
one model trained on the train split (quick profile with the model spec's overrides), a
3-fold ensemble (:func:`interp.backends.fold_training.train_fold_ensemble`) on the same
train split, and pad-mirror TTA (:class:`interp.backends.tta.TTAClassifier`) of both. Scored
on 40 further events x 500 clusters (event ids from 1000). Gains: balanced accuracy of A minus
B at P(signal) = 0.5 and at each one's validation operating point (5 % signal loss), with
the event-bootstrap paired 95 % interval (:func:`interp.evaluation.metrics.paired_difference`,
1,000 replicates). Cost: median of 5 ``predict_proba`` calls on one 28,764-cluster event.

Usage::

    python benchmarks/ensemble_tta.py perceptron split_conv [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from interp.backends.classifier import get_trainer  # noqa: E402
from interp.backends.fold_training import train_fold_ensemble  # noqa: E402
from interp.backends.tta import TTAClassifier  # noqa: E402
from interp.data.simulator import simulate  # noqa: E402
from interp.data.splits import make_splits  # noqa: E402
from interp.data.symmetry import pad_mirror_check, symmetry_line  # noqa: E402
from interp.evaluation.metrics import choose_threshold, paired_difference  # noqa: E402
from interp.study.training import make_train_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ensemble_tta"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = simulate("VTPC2", 60, 0, n_clusters=500)
    parts = make_splits(data, (0.7, 0.15, 0.15), seed=0).apply(data)
    test = simulate("VTPC2", 40, 0, first_event=1000, n_clusters=500)
    val = parts["val"]
    print(symmetry_line(pad_mirror_check(test)), flush=True)
    res: dict = {"symmetry": pad_mirror_check(test)}
    for name in args.models:
        over = models.model_spec(name).profile_overrides.get("quick")
        cfg = make_train_config(name, "quick", over, seed=0)
        t0 = time.perf_counter()
        single = get_trainer(name)(
            parts["train"], val, args.workdir / f"{name}_single", config=cfg, progress=False
        )
        t_single = time.perf_counter() - t0
        t0 = time.perf_counter()
        ens = train_fold_ensemble(name, parts["train"], 3, cfg, args.workdir / f"{name}_ens3")
        t_ens = time.perf_counter() - t0
        clfs = {"single": single, "ensemble": ens, "tta": TTAClassifier(single),
                "ensemble_tta": TTAClassifier(ens)}  # fmt: skip
        s = {k: c.predict_proba(test.charge) for k, c in clfs.items()}
        th = {k: choose_threshold(c.predict_proba(val.charge), val.label, 0.05)
              for k, c in clfs.items()}  # fmt: skip
        row: dict = {"train_s_single": t_single, "train_s_ensemble": t_ens}
        row.update(fold_metrics=ens.info["fold_metrics"], weights=ens.weights.tolist())
        for a, b in [("ensemble", "single"), ("tta", "single"), ("ensemble_tta", "ensemble")]:
            for mode in ("0.5", "val"):
                ta, tb = (0.5, 0.5) if mode == "0.5" else (th[a], th[b])
                d = paired_difference(s[a], s[b], test.label, test.event_id, ta, tb,
                                      "balanced_accuracy", 1000, 0)  # fmt: skip
                row[f"{a}-{b}@{mode}"] = d
                print(f"{name} {a} - {b} (threshold {mode}): {100 * d['value']:+.2f} pts "
                      f"[{100 * d['lo']:+.2f}, {100 * d['hi']:+.2f}]", flush=True)  # fmt: skip
        event = simulate("VTPC2", 1, 7, n_clusters=28764).charge
        for k in ("single", "tta", "ensemble"):
            clfs[k].predict_proba(event)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                clfs[k].predict_proba(event)
                ts.append(time.perf_counter() - t0)
            row[f"s_per_event_{k}"] = float(np.median(ts))
            print(f"{name} {k}: {np.median(ts):.4f} s per 28,764-cluster event", flush=True)
        res[name] = row
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ensemble_tta.json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
