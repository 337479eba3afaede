"""Figure regression tests: each figure kind's DATA against a stored expectation, and static
PNG / PDF export with no browser (matplotlib, :mod:`interp.plots.static`)."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from interp.plots import attribution as fattr
from interp.plots import clusters as fclus
from interp.plots import confusion as fconf
from interp.plots import curves as fcurves
from interp.plots import physics as fphys
from interp.plots import weights as fw
from interp.plots.output import FigureWriter, missing_static
from interp.plots.static import render, write_static

WINDOW = (11, 20)
KINDS = ("VTPC2", "MTPCL")


def _scores(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return np.clip(0.5 + 0.2 * (2 * y - 1) + 0.2 * rng.normal(size=n), 0, 1), y


def _signal_lost(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = rng.integers(0, 60, 8)
    n[0] = 0  # an empty bin
    k = rng.binomial(np.maximum(n, 0), 0.03)
    k[1] = 0  # no loss: the interval must not go below zero
    edges = np.linspace(0, 40, 9)
    return {
        "label": "drift length",
        "unit": "cm",
        "edges": edges.tolist(),
        "centres": (edges[:-1] + 2.0).tolist(),
        "n": n.tolist(),
        "lost": k.tolist(),
        "rate": (k / np.maximum(n, 1)).tolist(),
        "error": [0.01] * 8,
    }


def _clusters() -> Any:
    from interp.core.schema import ClusterSet

    rng = np.random.default_rng(3)
    n = 40
    return ClusterSet(
        rng.gamma(2.0, 20.0, size=(n, *WINDOW)).astype(np.float32),
        np.r_[np.ones(20), np.zeros(20)].astype(np.int8),
        np.arange(n) // 10,
        "VTPC2",
        {},
    )


def figures() -> dict[str, go.Figure]:
    """One figure per kind, from fixed-seed data."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(220, 2)) * [1.0, 4.0]  # signal neuron 4x the noise one
    cells = ("TP", "FP", "FN", "TN")
    return {
        "weights_2d": fw.perceptron_heatmap_figure(kernel, WINDOW),
        "weights_3d": fw.perceptron_weights_figure(kernel, WINDOW),
        "chambers": fw.chamber_comparison_figure({k: rng.normal(size=WINDOW) for k in KINDS}),
        "kernels": fw.split_conv_kernels_figure(
            rng.normal(size=(10, 2, 1, 3)), rng.normal(size=(2, 10, 1, 3))
        ),
        "attribution": fattr.attribution_figure(
            {k: (i + 1) * rng.normal(size=WINDOW) for i, k in enumerate(cells)},
            "integrated_gradients",
            "IG",
            dict.fromkeys(cells, 75),
        ),
        "shap": fattr.shap_figure(rng.normal(size=(50, 221)), WINDOW),
        "confusion": fconf.confusion_figure({"tn": 140, "fp": 10, "fn": 13, "tp": 137}, "c"),
        "roc": fcurves.roc_figure(
            {"test VTPC2": _scores(1), "test MTPCL": _scores(2)},
            {"test VTPC2": [("0.5", 0.5)]},
            n_boot=50,
        ),
        "training": fcurves.training_curves_figure(
            {"train_loss": [0.7, 0.5], "val_accuracy": [0.7, 0.8]}, "t"
        ),
        "scores": fcurves.score_distribution_figure(*_scores(4), *_scores(5), "s")[0],
        "physics_signal_lost": fphys.signal_lost_figure(
            {
                "perceptron": {"drift_length": _signal_lost(6)},
                "resnet": {"drift_length": _signal_lost(7)},
            }
        ),
        "physics_noise_removed": fphys.noise_removed_figure(
            {
                "perceptron": {
                    "delta": {"n": 30, "removed": 30, "rate": 1.0, "error": 0.0},
                    "pileup": {"n": 12, "removed": 0, "rate": 0.0, "error": 0.0},
                }
            }
        ),
        "clusters": fclus.example_clusters_figure(_clusters(), n_examples=2),
    }


W_UNIT = "weight per unit of normalised charge"
IG = "integrated gradients (log-odds)"
EXPECTED: dict[str, dict[str, Any]] = {
    # trace types, colour-bar titles of the traces that show one, axis titles (x, y)
    "weights_2d": {"types": ["heatmap"] * 3, "colorbars": [W_UNIT] * 3},
    "weights_3d": {"types": ["surface"] * 3, "colorbars": [W_UNIT] * 3, "z": W_UNIT},
    "chambers": {"types": ["heatmap"] * 3, "colorbars": [W_UNIT] * 3},  # difference: 2x range
    "kernels": {
        "types": ["heatmap"] * 6,
        "colorbars": ["kernel weight (per unit of normalised charge)"],
    },
    "attribution": {"types": ["heatmap"] * 4, "colorbars": [IG] * 4},
    "shap": {"types": ["heatmap"] * 2, "colorbars": ["SHAP (log-odds)"] * 2},
    "confusion": {
        "types": ["heatmap"],
        "colorbars": ["row percentage (%)"],
        "axes": ("predicted", "true label"),
    },
    "roc": {
        "types": ["scatter"] * 10,
        "colorbars": [],
        "axes": ("false positive rate (noise kept)", "true positive rate (signal kept)"),
    },
    "training": {"types": ["scatter"] * 2, "colorbars": [], "axes": ("epoch / round", "loss")},
    "scores": {
        "types": ["bar", "scatter", "bar", "scatter"],
        "colorbars": [],
        "axes": ("P(signal)", "density (normalised per class)"),
    },
    "physics_signal_lost": {
        "types": ["scatter"] * 2,
        "colorbars": [],
        "axes": ("drift length (cm)", "signal lost (fraction)"),
    },
    "physics_noise_removed": {
        "types": ["bar"],
        "colorbars": [],
        "axes": ("simulator noise kind", "noise removed (fraction)"),
    },
    "clusters": {"types": ["heatmap"] * 6, "colorbars": ["charge (ADC)"] * 2},
}


def _colorbars(fig: go.Figure) -> list[str]:
    return [
        t.colorbar.title.text
        for t in fig.data
        if t.type in ("heatmap", "surface") and t.showscale is not False
    ]


@pytest.fixture(scope="module")
def figs() -> dict[str, go.Figure]:
    return figures()


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_figure_data_matches_expectation(figs: dict[str, go.Figure], kind: str) -> None:
    fig, exp = figs[kind], EXPECTED[kind]
    assert [t.type for t in fig.data] == exp["types"]
    assert _colorbars(fig) == exp["colorbars"]
    if "axes" in exp:
        assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == exp["axes"]
    if "z" in exp:
        assert fig.layout.scene.zaxis.title.text == exp["z"]
        assert all(t.colorbar.title.text == exp["z"] for t in fig.data)
    text = fig.to_json().lower()
    assert '"bad"' not in text and '"good"' not in text


def test_weight_panels_get_their_own_scale(figs: dict[str, go.Figure]) -> None:
    fig = figs["weights_2d"]  # signal neuron weights are 4x the noise neuron's
    ranges = [t.zmax for t in fig.data]
    assert len(set(ranges)) == 3 and all(t.zmin == -t.zmax for t in fig.data)
    xs = [t.colorbar.x for t in fig.data]
    assert xs == sorted(xs) and len(set(xs)) == 3  # one bar beside each panel
    same = fw.heatmaps_figure({"a": np.ones(WINDOW), "b": -1.2 * np.ones(WINDOW)}, "t")
    assert _colorbars(same) == [W_UNIT]  # comparable ranges: one scale, one bar


def test_shap_magnitude_is_sequential(figs: dict[str, go.Figure]) -> None:
    signed, mag = figs["shap"].data
    assert mag.zmin == 0.0 and mag.colorscale != signed.colorscale
    assert signed.zmin == -signed.zmax


def test_confusion_precision_follows_counts() -> None:
    small = fconf.confusion_figure({"tn": 140, "fp": 10, "fn": 13, "tp": 137}, "c").data[0]
    assert small.text[0][0].startswith("93 %") and "." not in small.text[0][0].split("%")[0]
    big = fconf.confusion_figure({"tn": 18160, "fp": 1840, "fn": 1410, "tp": 18590}, "c").data[0]
    assert re.match(r"90\.80 %", big.text[0][0])
    assert [fconf.percent_decimals(n) for n in (300, 999, 1000, 9999, 10_000)] == [0, 0, 1, 1, 2]


def test_roc_legend_has_auc_and_interval(figs: dict[str, go.Figure]) -> None:
    from interp.evaluation.metrics import roc_auc

    names = [t.name for t in figs["roc"].data if t.showlegend is not False and "AUC" in t.name]
    assert len(names) == 2
    for name, seed in zip(names, (1, 2), strict=True):
        m = re.fullmatch(r"test \w+: AUC = (\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]", name)
        assert m, name
        auc, lo, hi = map(float, m.groups())
        assert lo <= auc <= hi and hi - lo > 0.005
        assert auc == pytest.approx(roc_auc(*_scores(seed)), abs=5e-4)
    bands = [t for t in figs["roc"].data if t.fill == "toself"]
    assert len(bands) == 4
    for b in bands:
        assert np.all((np.asarray(b.y) >= 0) & (np.asarray(b.y) <= 1))


def test_fraction_intervals_are_clopper_pearson(figs: dict[str, go.Figure]) -> None:
    for t in figs["physics_signal_lost"].data:
        assert t.mode == "markers"  # not joined by lines
        y = np.asarray(t.y, np.float64)
        lo = y - np.asarray(t.error_y.arrayminus, np.float64)
        hi = y + np.asarray(t.error_y.array, np.float64)
        ok = np.isfinite(y)
        assert np.all((lo[ok] >= 0) & (hi[ok] <= 1) & (lo[ok] <= y[ok]) & (y[ok] <= hi[ok]))
        assert np.isnan(y[0])  # the empty bin has no point
        width = np.asarray(t.error_x.array) + np.asarray(t.error_x.arrayminus)
        np.testing.assert_allclose(width, 5.0)  # horizontal bars span the bins
    (bars,) = figs["physics_noise_removed"].data
    hi = np.asarray(bars.y) + np.asarray(bars.error_y.array)
    lo = np.asarray(bars.y) - np.asarray(bars.error_y.arrayminus)
    assert hi[0] == 1.0 and lo[1] == 0.0 and np.all(lo >= 0) and np.all(hi <= 1)
    lo1, hi1 = fphys.clopper_pearson([3], [10], cl=0.95)  # tabulated: 0.0667, 0.6525
    assert lo1[0] == pytest.approx(0.0667, abs=1e-4) and hi1[0] == pytest.approx(0.6525, abs=1e-4)


def test_histogram_bars_span_their_bins(figs: dict[str, go.Figure]) -> None:
    bar = figs["scores"].data[0]
    x = np.asarray(bar.x)
    assert bar.width == pytest.approx(x[1] - x[0]) and bar.marker.line.width > 0


def test_figures_are_deterministic() -> None:
    a, b = figures(), figures()
    for kind in a:
        assert a[kind].to_dict() == b[kind].to_dict(), kind


@pytest.fixture
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Chrome/Chromium and no kaleido: the machine has only the pip install."""
    monkeypatch.setitem(sys.modules, "kaleido", None)
    monkeypatch.setenv("PATH", "/nonexistent")


def test_static_png_and_pdf_without_browser(
    figs: dict[str, go.Figure], tmp_path: Path, no_browser: None
) -> None:
    with FigureWriter(tmp_path, scale=1.0) as w:
        for kind, fig in figs.items():
            w.write(fig, kind, 700, 450)
    assert w.png_skipped_reason is None
    for kind in figs:
        png, pdf = tmp_path / f"{kind}.png", tmp_path / f"{kind}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", kind
        assert pdf.read_bytes()[:5] == b"%PDF-" and b"%%EOF" in pdf.read_bytes()[-32:], kind
    assert missing_static(tmp_path) == []
    (tmp_path / "roc.pdf").unlink()
    assert missing_static(tmp_path) == [tmp_path / "roc.pdf"]


def test_static_render_is_deterministic_and_reads_the_figure(
    figs: dict[str, go.Figure], tmp_path: Path
) -> None:
    fig = figs["physics_signal_lost"]
    paths = [tmp_path / "a.png", tmp_path / "a.pdf"]
    write_static(fig, paths, 600, 400)
    first = [p.read_bytes() for p in paths]
    write_static(fig, paths, 600, 400)
    assert [p.read_bytes() for p in paths] == first
    m = render(figs["weights_2d"], 900, 400)
    panels = [ax for ax in m.axes if ax.get_xlabel() == "time bin"]
    images = [im for ax in panels for im in ax.collections]
    assert len(images) == 3  # one mesh per heatmap panel
    np.testing.assert_allclose(
        np.asarray(images[2].get_array()).reshape(WINDOW), np.asarray(figs["weights_2d"].data[2].z)
    )
    labels = sorted(ax.get_ylabel() for ax in m.axes if ax.get_ylabel())
    assert labels.count(W_UNIT) == 3 and "pad" in labels  # colour-bar titles drawn
    m3 = render(figs["weights_3d"], 1400, 550)  # 3D: z titles, one colour bar per panel
    assert [ax.get_zlabel() for ax in m3.axes if hasattr(ax, "get_zlabel")] == [W_UNIT] * 3
    assert sum(ax.get_xlabel() == W_UNIT for ax in m3.axes) == 3


def test_writer_static_images_and_failures(figs: dict[str, go.Figure], tmp_path: Path) -> None:
    """Every static image is listed as written; an undrawable figure keeps its HTML."""
    bad = go.Figure(go.Sankey(node={"label": ["a", "b"]}, link={"source": [0], "target": [1]}))
    with FigureWriter(tmp_path, scale=1.0) as w:
        w.write(figs["confusion"], "c", 500, 400)
        w.write(bad, "s")
        w.write(figs["roc"], "r", 800, 400)
        names = sorted(p.name for p in w.written)
    assert names == ["c.html", "c.pdf", "c.png", "r.html", "r.pdf", "r.png", "s.html"]
    assert (tmp_path / "s.html").is_file() and not (tmp_path / "s.png").exists()
    assert "sankey" in (w.png_skipped_reason or "")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (inline,) = write_static(figs["roc"], [tmp_path / "inline.png"], 800, 400, dpi=100)
    assert inline.read_bytes() == (tmp_path / "r.png").read_bytes()  # same drawing


def test_without_matplotlib_html_is_kept(
    figs: dict[str, go.Figure], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with FigureWriter(tmp_path) as w:
        w.write(figs["confusion"], "c")
    assert [p.name for p in w.written] == ["c.html"]
    assert "matplotlib is not installed" in (w.png_skipped_reason or "")


def test_stage_without_static_images_runs_again(tmp_path: Path) -> None:
    from interp.study.experiments import (
        STAGE_FILE,
        _redo_without_static,
        config_key,
        partial_folder,
    )

    config = {"png": True}
    folder = tmp_path / "explain" / config_key({"kind": "explain", **config})
    (folder / "figures").mkdir(parents=True)
    (folder / STAGE_FILE).write_text("{}")
    (folder / "figures" / "a.html").write_text("x")
    logs: list[str] = []
    ctx = types.SimpleNamespace(
        workdir=tmp_path, png=True, log=logs.append, study=types.SimpleNamespace(name="s")
    )
    _redo_without_static("explain", ctx, config)  # type: ignore[arg-type]
    build = partial_folder(folder)  # unpublished: rerun in its private build folder
    assert not folder.exists() and not (build / STAGE_FILE).exists() and "again" in logs[0]
    assert (build / "figures" / "a.html").is_file()  # the figures stay for the rerun
    os.rename(build, folder)
    for suffix in (".png", ".pdf"):
        (folder / "figures" / f"a{suffix}").write_bytes(b"x")
    (folder / STAGE_FILE).write_text("{}")
    _redo_without_static("explain", ctx, config)  # type: ignore[arg-type]
    assert (folder / STAGE_FILE).exists()
