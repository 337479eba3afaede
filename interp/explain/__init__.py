"""The explanation layer: attributions (JAX), rule distillation, physics breakdowns, report.

Figure functions live in :mod:`interp.plots`; :func:`interp.study.explain_stage.explain_run`
renders all of them for a trained run.
"""
