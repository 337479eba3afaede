"""Renders every explanation figure for a trained matrix run (``interp.study.matrix.run_matrix``).

Input: ``workdir/matrix.json``, the cached chamber data in ``workdir/data`` and every saved
classifier in ``workdir/runs/<model>/<chamber>/``. Nothing is trained: figures come from saved
artefacts only. Output folder (one shared ``plotly.min.js``)::

    index.html                                   links to every figure
    explain_summary.json                         key numbers (see :func:`explain_run`)
    sanity.json                                  attribution sanity checks (interp.explain.sanity)
    weights_perceptron_<C>[_3d].html/.png/.pdf   neuron + difference maps (2D; 3D extra)
    weights_perceptron_chambers[_3d]             the map per training chamber + difference
    splitconv_kernels_<C>, splitconv_branches_<C>_on_<T>
    attr_<model>_<C>_on_<T>_<method>_<cells|kinds>     saliency / IG / occlusion heatmaps
    shap_xgboost_<C>_on_<T>
    reconstructions_<model>_<C>_on_<T>           mean input vs reconstruction per noise kind
    confusion_<model>_<C>_on_<T>
    roc_<model>_<C>, training_<model>_<C>, scores_<model>_<C>
    reliability_<model>_<C>                      raw vs Platt vs isotonic p_signal (test <C>)
    physics_signal_lost_<C>_on_<T>, physics_noise_removed_<C>_on_<T>
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import models
from interp.backends.classifier import CLASSIFIER_FILE, load_classifier
from interp.core.errors import ClusterDataError, TPCInterpError
from interp.core.fsutil import atomic_write_text
from interp.core.schema import ClusterSet
from interp.study.reconstruction_section import reconstruction_section
from interp.study.reliability_section import reliability_section
from interp.study.score_cache import classifier_fingerprint, split_fingerprint, stored_or_scored
from models.contract import ModelSpec

log = logging.getLogger(__name__)

SUMMARY_FILE = "explain_summary.json"

STATIC_WORKERS: int = 2 if (os.cpu_count() or 1) >= 2 else 0
"""Background processes drawing the PNG / PDF twins while the attributions are computed
(:class:`interp.plots.output.FigureWriter` ``workers``). Drawing is about half of the stage's
CPU time (smoke profile, 2026-12-02: 152 s in the workers beside 123 s in the main process);
on 2 cores it now runs beside the JAX work instead of after each figure. The images are
byte-identical to inline drawing."""


@dataclasses.dataclass(frozen=True)
class ExplainConfig:
    """Sizes of the explanation pass.

    Attributes:
        attr_clusters: Test clusters (random, fixed seed) per attribution map set.
        ig_steps: Integrated-gradient path nodes: the initial uniform intervals of the
            adaptive rule, or every node of the fixed one.
        ig_chunk: Nodes per chunk of the fixed rule (memory bound).
        ig_max_steps: Cap on one cluster's integrated-gradient nodes: the rule refines each
            cluster's path until its completeness gap is within
            :data:`interp.explain.attribution.IG_RTOL` (see
            :func:`~interp.explain.attribution.integrated_gradients_adaptive`); ``None`` or
            ``<= ig_steps``: the fixed midpoint rule with ``ig_steps`` nodes.
        occlusion_patch: Patch (pads, time bins).
        shap_clusters: Test clusters for XGBoost SHAP.
        train_clusters: Training clusters scored for the KS test and the rule fit.
        seed: Sampling seed.
    """

    attr_clusters: int = 512
    ig_steps: int = 64
    ig_chunk: int = 16
    ig_max_steps: int | None = 1024
    occlusion_patch: tuple[int, int] = (3, 3)
    shap_clusters: int = 2000
    train_clusters: int = 20000
    seed: int = 0


def classifier_spec(clf: Any) -> ModelSpec:
    """The spec of a loaded classifier's model (by its saved name; a Flax classifier whose
    name no longer resolves falls back to the spec in its module's file)."""
    try:
        return models.model_spec(clf.name)
    except TPCInterpError:
        module = getattr(clf, "module", None)
        if module is not None:
            return models.spec_of(module)
        return ModelSpec(name=str(clf.name), backend=str(getattr(clf, "kind", "xgboost")))


def _sample(n: int, k: int, seed: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def load_run_data(workdir: Path) -> tuple[dict[str, Any], dict[str, dict[str, ClusterSet]]]:
    """``matrix.json`` and each chamber's ``{"train", "val", "test"}`` sets (from the cache).

    Raises:
        ClusterDataError: If ``matrix.json`` is missing.
    """
    from interp.study.config import MatrixConfig
    from interp.study.inputs import load_study_data

    mpath = workdir / "matrix.json"
    if not mpath.is_file():
        raise ClusterDataError(str(mpath), None, "no matrix.json: run `tpc-interp matrix` first")
    matrix = json.loads(mpath.read_text())
    cfg_d = dict(matrix["config"])
    cfg_d["fractions"] = tuple(cfg_d["fractions"])
    known = {f.name for f in dataclasses.fields(MatrixConfig)}
    cfg = MatrixConfig(**{k: v for k, v in cfg_d.items() if k in known})
    files = {c: d["path"] for c, d in matrix["data"].items() if not d.get("simulated", True)}
    # the matrix accepted these files already (with --rename-chamber where it was given)
    data = load_study_data(cfg.chambers, cfg, workdir, files, rename_chamber=True)
    parts = {c: d.parts for c, d in data.items()}
    return matrix, parts


def find_runs(workdir: Path) -> list[tuple[str, str, Path]]:
    """``(model, chamber, dir)`` of every finished classifier under ``workdir/runs``."""
    return sorted(
        (p.parent.parent.name, p.parent.name, p.parent)
        for p in (workdir / "runs").glob(f"*/*/{CLASSIFIER_FILE}")
    )


def _history(run_dir: Path, clf: Any) -> dict[str, list[float]]:
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        keys = ("train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy")
        return {k: [r[k] for r in rows if k in r] for k in keys if any(k in r for r in rows)}
    hist = getattr(clf, "history", None) or {}
    return {f"{k}_logloss": list(v) for k, v in hist.items()}


@dataclasses.dataclass
class _Cell:
    """One trained classifier and everything its figures need."""

    model: str
    chamber: str
    clf: Any
    run_dir: Path
    parts: dict[str, dict[str, ClusterSet]]
    train: ClusterSet
    threshold: float
    test_scores: dict[str, np.ndarray]
    val_scores: np.ndarray
    max_signal_loss: float

    @property
    def tag(self) -> str:
        return f"{self.model}_{self.chamber}"

    @property
    def chambers(self) -> list[str]:
        return list(self.parts)

    def test(self, t: str) -> ClusterSet:
        return self.parts[t]["test"]


Writer = Callable[..., None]


class _KeptScores:
    """``(split, chamber) -> float32 [N]`` P(signal) of one classifier: the scores its matrix
    stage stored (:mod:`interp.study.score_cache`), or scored now when they do not match."""

    def __init__(
        self,
        run_dir: Path,
        clf: Any,
        parts: dict[str, dict[str, ClusterSet]],
        fingerprints: dict[int, str],
    ) -> None:
        self.run_dir, self.clf, self.parts, self.fingerprints = run_dir, clf, parts, fingerprints
        self.clf_sha = classifier_fingerprint(run_dir)

    def __call__(self, split: str, chamber: str) -> np.ndarray:
        part = self.parts[chamber][split]
        return stored_or_scored(
            self.run_dir,
            f"{split}_{chamber}",
            part,
            self.clf.predict_proba,
            self.fingerprints[id(part)],
            self.clf_sha,
        )


def explain_run(
    workdir: str | Path,
    out_folder: str | Path,
    png: bool = True,
    config: ExplainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Renders every figure kind for every model x train chamber x test chamber.

    Args:
        workdir: Study folder of :func:`interp.study.matrix.run_matrix`.
        out_folder: Output folder (created).
        png: Also write the static PNG and PDF of every figure (matplotlib, no browser).
        config: Explanation sizes (default :class:`ExplainConfig`).
        progress: Optional callback for one-line status messages.

    Returns:
        The summary written to ``explain_summary.json``: ``perceptron`` (per chamber: peak
        signal-neuron weight, mean core / cross / outer weight of the signal - noise map),
        ``rules`` (coefficients, train/test accuracy, noise removed, signal lost beside the
        perceptron's; per rule ``like_for_like``: balanced accuracy of rule and perceptron at
        their validation operating points and their decision agreement per test chamber,
        :func:`interp.explain.rule.like_for_like`), ``ks`` (p-values per model and
        chamber), ``ig_completeness`` (per cell: gaps, tolerance, passed and the nodes used,
        :func:`interp.explain.attribution.completeness_record`), ``accuracy`` per cell, ``physics``,
        ``calibration`` (test ECE / Brier raw vs Platt vs isotonic per cell), ``figures`` and
        ``png_skipped_reason``.

    Raises:
        ClusterDataError: No ``matrix.json`` or no trained classifier in ``workdir``.
        WorkdirBusyError: Another process writes the matrix run (whose data cache this may
            fill) or the work directory holding ``out_folder`` (the matrix run's own for the
            default ``RUN/explain``; see :func:`interp.core.locking.owner_workdir`). Both are locked
            while the figures are written.
    """
    from interp.core.locking import owner_workdir, workdir_locks

    mpath = Path(workdir) / "matrix.json"
    if not mpath.is_file():  # one line before any folder or lock is made
        raise ClusterDataError(str(mpath), None, "no matrix.json: run `tpc-interp matrix` first")
    with workdir_locks([owner_workdir(workdir), owner_workdir(out_folder)]):
        return _explain_run(workdir, out_folder, png, config, progress)


def _explain_run(
    workdir: str | Path,
    out_folder: str | Path,
    png: bool,
    config: ExplainConfig | None,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """:func:`explain_run` holding the lock."""
    from interp.evaluation.metrics import choose_threshold
    from interp.explain import sanity
    from interp.plots import physics as fphys
    from interp.plots import weights as fw
    from interp.plots.output import FigureWriter

    cfg = config or ExplainConfig()
    say = progress or (lambda s: log.info(s))
    workdir, out = Path(workdir), Path(out_folder)
    matrix, parts = load_run_data(workdir)
    max_loss = float(matrix["config"].get("max_signal_loss", 0.05))
    runs = [r for r in find_runs(workdir) if r[1] in parts]
    if not runs:
        raise ClusterDataError(str(workdir / "runs"), None, "no trained classifiers found")
    summary: dict[str, Any] = {
        "workdir": str(workdir),
        "perceptron": {},
        "rules": {},
        "ks": {},
        "accuracy": {},
        "ig_completeness": {},
        "explain_config": dataclasses.asdict(cfg),
    }
    physics: dict[tuple[str, str], dict[str, Any]] = {}
    perceptron_diff: dict[str, np.ndarray] = {}
    sanity_rows: list[dict[str, Any]] = []  # interp.explain.sanity, written to sanity.json

    with FigureWriter(out, png=png, scale=1.0, workers=STATIC_WORKERS) as w:

        def write(fig: Any, name: str, width: int = 1100, height: int = 650) -> None:
            w.write(fig, name, width, height)

        fingerprints = {
            id(p): split_fingerprint(p) for c in parts for p in (parts[c]["val"], parts[c]["test"])
        }
        for model, chamber, run_dir in runs:
            say(f"explain {model} trained on {chamber}")
            clf = load_classifier(run_dir)
            kept = _KeptScores(run_dir, clf, parts, fingerprints)
            train = parts[chamber]["train"]
            val = parts[chamber]["val"]
            val_scores = kept("val", chamber)
            cell = _Cell(
                model=model,
                chamber=chamber,
                clf=clf,
                run_dir=run_dir,
                parts=parts,
                train=train.subset(_sample(len(train), cfg.train_clusters, cfg.seed)),
                threshold=choose_threshold(val_scores, val.label, max_loss),
                test_scores={t: kept("test", t) for t in parts},
                val_scores=val_scores,
                max_signal_loss=max_loss,
            )
            _common_section(cell, write, summary, physics, max_loss)
            reliability_section(cell, write, summary)  # raw vs Platt vs isotonic (issue 18)
            spec = classifier_spec(clf)  # the sections are chosen by capability
            if spec.weight_map:
                perceptron_diff[chamber] = _perceptron_section(cell, write, summary)
            if spec.kernel_figures:
                _split_conv_section(cell, write)
            if spec.gradient_attributions:
                _attribution_section(cell, write, summary, cfg)
            if spec.gradient_attributions or spec.shap:
                sanity_rows += sanity.run_sanity_checks(cell, cfg)  # errors become rows
            if spec.shap:
                _shap_section(cell, write, cfg)
            if spec.reconstructions:  # an autoencoder: mean reconstructions per noise kind
                reconstruction_section(cell, write, summary)

        if len(perceptron_diff) >= 2:
            say("explain perceptron weight maps across chambers")
            write(
                fw.chamber_comparison_figure(perceptron_diff),
                "weights_perceptron_chambers",
                1400,
                500,
            )
            write(
                fw.chamber_comparison_figure(perceptron_diff, three_d=True),
                "weights_perceptron_chambers_3d",
                1400,
                550,
            )
        for (c, t), by_model in physics.items():
            say(f"explain physics breakdowns (trained {c}, test {t})")
            sl = {m: b["signal_lost"] for m, b in by_model.items() if b["signal_lost"]}
            if sl:
                title = f"Signal lost at the operating point (trained {c}, test {t})"
                write(
                    fphys.signal_lost_figure(sl, title),
                    f"physics_signal_lost_{c}_on_{t}",
                    1300,
                    500,
                )
            nr = {m: b["noise_removed"] for m, b in by_model.items() if b["noise_removed"]}
            if nr:
                title = f"Noise removed per kind at the operating point (trained {c}, test {t})"
                write(
                    fphys.noise_removed_figure(nr, title),
                    f"physics_noise_removed_{c}_on_{t}",
                    1000,
                    500,
                )
        summary["physics"] = {f"{c}_on_{t}": v for (c, t), v in physics.items()}
        w.finish()  # the background static images
        summary["png_skipped_reason"] = w.png_skipped_reason
        summary["figures"] = sorted(p.name for p in w.written)

    summary["sanity"] = sanity.summary_rows(sanity_rows)
    sanity.write_sanity(out, sanity_rows)
    _write_index(out, summary["figures"])
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1, default=_json_default))
    return summary


def _common_section(
    cell: _Cell,
    write: Writer,
    summary: dict[str, Any],
    physics: dict[tuple[str, str], dict[str, Any]],
    max_loss: float,
) -> None:
    """ROC, training curves, score distributions + KS, confusion matrices, physics numbers."""
    from interp.evaluation.metrics import confusion_counts
    from interp.explain.breakdown import physics_breakdown
    from interp.plots import confusion as fconf
    from interp.plots import curves as fcurves

    model, chamber, tag = cell.model, cell.chamber, cell.tag
    curves = {f"test {t}": (cell.test_scores[t], cell.test(t).label) for t in cell.chambers}
    points = [("0.5", 0.5), (f"val op. point (loss<={max_loss:.0%})", cell.threshold)]
    write(
        fcurves.roc_figure(curves, dict.fromkeys(curves, points), f"{model} trained on {chamber}"),
        f"roc_{tag}",
    )
    hist = _history(cell.run_dir, cell.clf)
    if hist:
        write(
            fcurves.training_curves_figure(hist, f"Training: {model} on {chamber}"),
            f"training_{tag}",
            800,
            500,
        )
    fig, ks = fcurves.score_distribution_figure(
        cell.clf.predict_proba(cell.train.charge),
        cell.train.label,
        cell.test_scores[chamber],
        cell.test(chamber).label,
        f"{model} on {chamber}: score distributions train vs test",
    )
    write(fig, f"scores_{tag}", 900, 550)
    summary["ks"][tag] = ks
    for t in cell.chambers:
        test = cell.test(t)
        cc = confusion_counts(cell.test_scores[t], test.label, 0.5)
        title = f"{model}: trained on {chamber}, tested on {t} (threshold 0.5)"
        write(fconf.confusion_figure(cc, title), f"confusion_{tag}_on_{t}", 560, 480)
        summary["accuracy"][f"{tag}_on_{t}"] = (cc["tn"] + cc["tp"]) / len(test)
        physics.setdefault((chamber, t), {})[model] = physics_breakdown(
            test, cell.test_scores[t], cell.threshold
        )


def _perceptron_section(cell: _Cell, write: Writer, summary: dict[str, Any]) -> np.ndarray:
    """Weight maps (3D + 2D), weight numbers and the distilled rules; returns the diff map."""
    from interp.explain.rule import (
        distil_rule,
        like_for_like,
        max_accuracy_threshold,
        rates,
        region_masks,
    )
    from interp.plots import weights as fw

    clf, chamber, tag = cell.clf, cell.chamber, cell.tag
    kernel = np.asarray(clf.params["dense"]["kernel"])
    bias = np.asarray(clf.params["dense"]["bias"])
    win = tuple(clf.window)
    write(
        fw.perceptron_heatmap_figure(kernel, win, f"Perceptron weights ({chamber})"),
        f"weights_{tag}",
        1400,
        480,
    )
    write(
        fw.perceptron_weights_figure(kernel, win, f"Perceptron weights ({chamber}), 3D"),
        f"weights_{tag}_3d",
        1400,
        550,
    )
    maps = fw.perceptron_maps(kernel, win)
    wd, ws = maps["signal - noise"], maps["signal neuron"]
    masks = region_masks(win)
    summary["perceptron"][chamber] = {
        "preprocessing": clf.preprocessor.method,
        "peak_signal_weight": float(ws.max()),
        "peak_diff_weight": float(wd.max()),
        "peak_diff_position_pad_time": [int(v) for v in np.unravel_index(wd.argmax(), wd.shape)],
        **{f"mean_{r}_diff_weight": float(wd[m].mean()) for r, m in masks.items()},
        **{f"mean_{r}_signal_weight": float(ws[m].mean()) for r, m in masks.items()},
    }
    xtr = clf.preprocessor(cell.train.charge)
    bd = float(bias[1] - bias[0])
    p_thr = max_accuracy_threshold(xtr.reshape(len(xtr), -1) @ wd.ravel() + bd, cell.train.label)
    x_test = {t: clf.preprocessor(cell.test(t).charge) for t in cell.chambers}
    val = cell.parts[chamber]["val"]
    x_val = clf.preprocessor(val.charge)
    rules: dict[str, Any] = {}
    for method in ("project", "lstsq", "logistic"):
        rule = distil_rule(xtr, cell.train.label, method, wd, bd)
        rules[method] = {
            **rule.to_dict(),
            "train": rates(rule.predict(xtr), cell.train.label),
            "test": {t: rates(rule.predict(x), cell.test(t).label) for t, x in x_test.items()},
            # the perceptron's policy: validation operating point, balanced accuracy (issue 14)
            "like_for_like": {
                t: like_for_like(
                    rule.score(x_val),
                    cell.val_scores,
                    val.label,
                    rule.score(x),
                    cell.test_scores[t],
                    cell.test(t).label,
                    cell.max_signal_loss,
                    cell.test(t).event_id,
                )
                for t, x in x_test.items()
            },
        }
    logit = {t: x.reshape(len(x), -1) @ wd.ravel() + bd for t, x in x_test.items()}
    summary["rules"][chamber] = {
        "rules": rules,
        "perceptron": {
            "train_max_acc_threshold_logit": p_thr,
            "test_at_0.5": {t: rates(z > 0, cell.test(t).label) for t, z in logit.items()},
            "test_at_train_max_acc": {
                t: rates(z > p_thr, cell.test(t).label) for t, z in logit.items()
            },
        },
    }
    return wd


def _split_conv_section(cell: _Cell, write: Writer) -> None:
    """Kernels of both branches and each branch's mean contribution map per class."""
    from interp.explain import attribution as attr
    from interp.plots import weights as fw

    p, chamber = cell.clf.params, cell.chamber
    write(
        fw.split_conv_kernels_figure(
            p["pad_conv"]["kernel"],
            p["time_conv"]["kernel"],
            f"Split convolution kernels ({chamber})",
        ),
        f"splitconv_kernels_{chamber}",
        1300,
        550,
    )
    for t in cell.chambers:
        test = cell.test(t)
        c = attr.split_conv_contributions(cell.clf.module, p, cell.clf.preprocessor(test.charge))
        sig, noi = test.label == 1, test.label == 0
        panels = {
            "pad branch | signal": c["pad"][sig].mean(0),
            "time branch | signal": c["time"][sig].mean(0),
            "pad branch | noise": c["pad"][noi].mean(0),
            "time branch | noise": c["time"][noi].mean(0),
        }
        title = f"Split conv branch contributions to the log-odds (trained {chamber}, test {t})"
        write(
            fw.maps_figure(panels, title, "contribution (log-odds)", cols=2),
            f"splitconv_branches_{chamber}_on_{t}",
            1100,
            900,
        )


def _attribution_section(
    cell: _Cell, write: Writer, summary: dict[str, Any], cfg: ExplainConfig
) -> None:
    """Saliency, IG and occlusion, averaged per confusion cell and per noise kind."""
    from interp.explain import attribution as attr
    from interp.plots import attribution as fattr

    f = attr.logit_diff_fn(cell.clf.module, cell.clf.params)
    for t in cell.chambers:
        idx = _sample(len(cell.test(t)), cfg.attr_clusters, cfg.seed)
        sub = cell.test(t).subset(idx)
        x = cell.clf.preprocessor(sub.charge)
        groupings = {"cells": attr.confusion_groups(sub.label, cell.test_scores[t][idx], 0.5)}
        if "noise_kind" in sub.truth:
            groupings["kinds"] = attr.noise_kind_groups(sub.truth["noise_kind"])
        maps, record = attr.attribution_maps(
            f, x, cfg.ig_steps, cfg.ig_chunk, cfg.occlusion_patch, cfg.ig_max_steps
        )
        summary["ig_completeness"][f"{cell.tag}_on_{t}"] = record
        for method, m in maps.items():
            for gname, groups in groupings.items():
                per = "confusion cell (thr 0.5)" if gname == "cells" else "noise kind"
                title = (
                    f"{cell.model} {method.replace('_', ' ')}: trained {cell.chamber}, "
                    f"test {t}, mean per {per}"
                )
                counts = {k: int(v.size) for k, v in groups.items()}
                write(
                    fattr.attribution_figure(attr.group_means(m, groups), method, title, counts),
                    f"attr_{cell.tag}_on_{t}_{method}_{gname}",
                    1200,
                    900,
                )


def _shap_section(cell: _Cell, write: Writer, cfg: ExplainConfig) -> None:
    """XGBoost per-pixel SHAP (signed mean and mean absolute) per test chamber."""
    from interp.plots import attribution as fattr

    for t in cell.chambers:
        test = cell.test(t)
        idx = _sample(len(test), cfg.shap_clusters, cfg.seed)
        contribs = cell.clf.pred_contribs(test.charge[idx])
        title = f"XGBoost SHAP (trained {cell.chamber}, test {t})"
        write(
            fattr.shap_figure(contribs, tuple(cell.clf.window), title),
            f"shap_{cell.tag}_on_{t}",
            1100,
            550,
        )


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _write_index(out: Path, names: list[str]) -> None:
    items = "\n".join(
        f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>'
        for n in names
        if n.endswith(".html")
    )
    atomic_write_text(
        out / "index.html",
        f"<!doctype html><title>tpc-interp explanations</title>"
        f"<h1>Explanation figures</h1><ul>{items}</ul>\n",
    )
