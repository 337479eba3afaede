"""``tpc-interp explain <classifier folder>``: the explanation figures of one saved classifier.

A matrix study folder goes through :func:`interp.study.explain_stage.explain_run`; a single
classifier folder (``train``'s ``runs/<model>/<CHAMBER>`` or a fold ensemble's
``runs/<model>_folds<K>/<CHAMBER>``) goes through :func:`explain_classifier_folder`, on the
test split of its own training chamber (the classifier's recorded splits,
:func:`interp.study.saved_runs.saved_run_data`). Sections are chosen by the model spec's
capabilities (:mod:`models.contract`), as in the explain stage:

- ``weight_map``: the weight maps (:meth:`weight_map`; a fold ensemble's is the weighted
  mean of its members' maps, :meth:`interp.backends.ensemble.EnsembleClassifier.weight_map`);
- ``gradient_attributions``: saliency, integrated gradients and occlusion per confusion cell
  (threshold 0.5), with the integrated-gradient completeness gap. The attributed function is
  the classifier's log-odds of signal: a Flax model's logit difference, or, for a fold
  ensemble, the log-odds of the ensemble's mean probability
  (:meth:`interp.backends.ensemble.EnsembleClassifier.log_odds_fn`), the very score it
  classifies with, taken on the members' shared preprocessed input.

Output folder::

    weights_<model>_<C>               weight maps (weight_map capability)
    attr_<model>_<C>_on_<C>_<method>_cells    saliency / IG / occlusion per confusion cell
    explain_summary.json              kind, attributed function, completeness gaps, figures
    index.html                        links to every figure
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from interp.backends.classifier import load_classifier
from interp.core.fsutil import atomic_write_text
from interp.study.explain_stage import (
    SUMMARY_FILE,
    ExplainConfig,
    _sample,
    _write_index,
    classifier_spec,
)

ENSEMBLE_FUNCTION = (
    "log-odds of the ensemble's P(signal), log p - log(1 - p) with p the weighted mean of the "
    "members' P(signal)"
)
SINGLE_FUNCTION = "logit difference (log-odds of signal) of the model"


def attribution_target(clf: Any) -> tuple[Callable[[Any], Any], Any, str]:
    """``(f, preprocessor, words)``: the function attributions are taken of, the input map
    (raw ADC -> its inputs) and a sentence naming ``f``.

    A classifier with its own ``log_odds_fn`` (a fold ensemble) gives that; any other Flax
    classifier its module's logit difference.

    Raises:
        TPCInterpError: A classifier without a differentiable module.
    """
    from interp.core.errors import TPCInterpError
    from interp.explain import attribution as attr

    own = getattr(clf, "log_odds_fn", None)
    if own is not None:
        return own(), clf.preprocessor, ENSEMBLE_FUNCTION
    if getattr(clf, "module", None) is None:
        raise TPCInterpError(
            f"model '{clf.name}' (kind {clf.kind}) has no differentiable module: no gradient "
            "attributions"
        )
    return attr.logit_diff_fn(clf.module, clf.params), clf.preprocessor, SINGLE_FUNCTION


def explain_classifier_folder(
    run_dir: str | Path,
    out_folder: str | Path,
    png: bool = True,
    config: ExplainConfig | None = None,
    progress: Callable[[str], None] | None = None,
    data_files: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Writes the explanation figures of the classifier saved in ``run_dir``.

    Args:
        run_dir: A classifier folder (``classifier.json``) with its run record and splits.
        out_folder: Output folder (created).
        png: Also write PNG + PDF twins.
        config: Explanation sizes (``attr_clusters``, ``ig_steps``, ``ig_chunk``,
            ``ig_max_steps``, ``occlusion_patch``, ``seed``).
        progress: Optional callback for one-line status messages.
        data_files: Chamber -> user cluster file (the ones it was trained on); simulated
            chambers need none.

    Returns:
        The summary written to ``explain_summary.json``: ``kind``, ``model``, ``chamber``,
        ``attributed_function``, ``weight_map`` (peaks of the signal - noise map, when drawn),
        ``ig_completeness``, ``figures``, ``png_skipped_reason``.

    Raises:
        ClusterDataError: Unreadable folder, or data other than those it was trained on.
    """
    from interp.explain import attribution as attr
    from interp.plots import attribution as fattr
    from interp.plots import weights as fw
    from interp.plots.output import FigureWriter
    from interp.study.saved_runs import saved_run_data

    cfg = config or ExplainConfig()
    say = progress or (lambda s: None)
    run_dir, out = Path(run_dir), Path(out_folder)
    clf = load_classifier(run_dir)
    spec = classifier_spec(clf)
    chamber = clf.train_chamber
    tag = f"{clf.name}_{chamber}"
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "kind": clf.kind,
        "model": clf.name,
        "chamber": chamber,
        "ig_completeness": {},
    }
    with saved_run_data(
        run_dir, clf, [chamber], dict(data_files or {}), None, None, 0, None, True, False
    ) as (data, _):
        test = data[chamber].parts["test"]
        with FigureWriter(out, png=png, scale=1.0) as w:
            if spec.weight_map:
                say(f"explain {clf.name} ({clf.kind}) weight maps")
                maps = clf.weight_map()
                wd = maps["signal - noise"]
                w.write(
                    fw.heatmaps_figure(maps, f"{clf.name} weights ({clf.kind}, {chamber})"),
                    f"weights_{tag}",
                    1400,
                    480,
                )
                summary["weight_map"] = {
                    "peak_diff_weight": float(wd.max()),
                    "min_diff_weight": float(wd.min()),
                }
            if spec.gradient_attributions:
                say(f"explain {clf.name} ({clf.kind}) attributions on {chamber}")
                f, pre, words = attribution_target(clf)
                summary["attributed_function"] = words
                sub = test.subset(_sample(len(test), cfg.attr_clusters, cfg.seed))
                x = pre(sub.charge)
                groups = attr.confusion_groups(sub.label, clf.predict_proba(sub.charge), 0.5)
                maps, record = attr.attribution_maps(
                    f, x, cfg.ig_steps, cfg.ig_chunk, cfg.occlusion_patch, cfg.ig_max_steps
                )
                summary["ig_completeness"][f"{tag}_on_{chamber}"] = record
                counts = {k: int(v.size) for k, v in groups.items()}
                for method, m in maps.items():
                    title = (
                        f"{clf.name} ({clf.kind}) {method.replace('_', ' ')}: trained "
                        f"{chamber}, test {chamber}, mean per confusion cell (thr 0.5)"
                    )
                    w.write(
                        fattr.attribution_figure(
                            attr.group_means(m, groups), method, title, counts
                        ),
                        f"attr_{tag}_on_{chamber}_{method}_cells",
                        1200,
                        900,
                    )
        summary["png_skipped_reason"] = w.png_skipped_reason
        summary["figures"] = sorted(p.name for p in w.written)
    _write_index(out, summary["figures"])
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary, indent=1))
    return summary
