"""The explanation layer: attributions (JAX), rule distillation, physics breakdowns, report.

Figure functions live in :mod:`interp.figures`; :func:`interp.explain.report.explain_run`
renders all of them for a trained run.
"""
