"""Example clusters per class and per noise kind, from saved cluster files (no simulation).

Usage::

    python figures/example_clusters.py out/quick/data/VTPC2.h5 out/quick/data/MTPCL.h5

writes ``figures/output/example_clusters_<CHAMBER>.html`` (+ ``.png`` where Chromium exists).
"""

from __future__ import annotations

import sys
from pathlib import Path

from interp.data.io import iter_clusters
from interp.plots.clusters import example_clusters_figure
from interp.plots.output import FigureWriter

OUTPUT = Path(__file__).resolve().parent / "output"


def main(files: list[str]) -> None:
    with FigureWriter(OUTPUT) as writer:
        for f in files:
            data = next(iter_clusters(f, chunk_size=200_000))
            fig = example_clusters_figure(data)
            print(writer.write(fig, f"example_clusters_{data.chamber}", width=1100, height=1400))
        if writer.png_skipped_reason:
            print(f"note: {writer.png_skipped_reason}")


if __name__ == "__main__":
    main(sys.argv[1:])
