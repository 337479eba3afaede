"""Cost of reduced-precision inference in balanced accuracy, on a study's test split.

For every trained Flax classifier of a study (``WORKDIR/runs/<model>/<chamber>``) the test
split of its chamber (``WORKDIR/data/<chamber>_*.npz`` + ``.splits.json``) and one fresh
simulated event (28,764 clusters, seed ``--fresh-seed``, not used by any study) are scored at
float32, bfloat16, float16 (JAX) and int8 (ONNX Runtime, static QDQ, calibrated on simulated
clusters of the training chamber). Balanced accuracy = mean of noise removed and signal kept
at P(signal) = 0.5; the cost is float32 minus the reduced precision, in points.

Usage::

    python benchmarks/precision_accuracy.py --workdir /tmp/study [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp.backends.classifier import load_classifier  # noqa: E402
from interp.backends.flax.classifier import INFERENCE_PRECISIONS  # noqa: E402
from interp.data.io import read_clusters  # noqa: E402


def balanced_accuracy(p_signal: np.ndarray, label: np.ndarray) -> float:
    """Mean of noise removed (P < 0.5 on noise) and signal kept (P >= 0.5 on signal)."""
    cut = p_signal < 0.5
    return float(0.5 * (cut[label == 0].mean() + (~cut[label == 1]).mean()))


def test_split(workdir: Path, chamber: str) -> Any:
    """The test-split clusters of ``chamber`` in a study's data folder."""
    data = sorted((workdir / "data").glob(f"{chamber}_*.npz"))
    if not data:
        raise SystemExit(f"error: no {workdir / 'data'}/{chamber}_*.npz")
    splits = json.loads(data[0].with_name(data[0].name.split(".")[0] + ".splits.json").read_text())
    return read_clusters(data[0]).select_events(splits["events"]["test"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--fresh-seed", type=int, default=987_654)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    from interp.data.simulator import simulate

    rows = []
    for cdir in sorted((args.workdir / "runs").glob("*/*")):
        if not (cdir / "classifier.json").is_file():
            continue
        clf = load_classifier(cdir)
        if clf.kind != "flax":
            continue
        chamber = cdir.name
        sets = {
            "test split": test_split(args.workdir, chamber),
            "fresh event": simulate(chamber, 1, args.fresh_seed),
        }
        for set_name, cs in sets.items():
            label = np.asarray(cs.label)
            row: dict[str, Any] = {
                "model": clf.name,
                "chamber": chamber,
                "set": set_name,
                "clusters": len(label),
            }
            for precision in INFERENCE_PRECISIONS:
                clf.precision = precision
                row[precision] = balanced_accuracy(clf.predict_proba(cs.charge), label)
            clf.precision = "float32"
            rows.append(row)
            print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    res = {"workdir": str(args.workdir), "rows": rows}
    (args.out / "precision_accuracy.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        "# Balanced accuracy by inference precision",
        "",
        f"Study: `{args.workdir}`. Cost = float32 minus the reduced precision, in points "
        "(percentage points) of balanced accuracy at P(signal) = 0.5.",
        "",
        "| model | chamber | set | clusters | float32 | bfloat16 cost | float16 cost "
        "| int8 (ORT) cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cost = [f"{100 * (r['float32'] - r[p]):+.2f}" for p in ("bfloat16", "float16", "int8")]
        lines.append(
            f"| {r['model']} | {r['chamber']} | {r['set']} | {r['clusters']:,} | "
            f"{100 * r['float32']:.2f} % | " + " | ".join(cost) + " |"
        )
    (args.out / "precision_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
