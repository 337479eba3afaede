"""Study layer: the train/evaluate matrix, the declarative experiments and their stages
(data, explain, tracking) that write a work directory.

By job: :mod:`~interp.study.config` (what a matrix runs, its profiles),
:mod:`~interp.study.inputs` (input checks, cached data, leak-free splits),
:mod:`~interp.study.identity` (training identity, run-folder reuse, recorded splits),
:mod:`~interp.study.training` (train dispatch, training seeds), :mod:`~interp.study.scoring`
(scores and metrics of a test split), :mod:`~interp.study.matrix` (the matrix, paired
differences, ceiling), :mod:`~interp.study.matrix_tables` (``matrix.md`` and the tables the
report reuses), :mod:`~interp.study.saved_runs` (``train`` / ``evaluate`` of one run),
:mod:`~interp.study.study_inputs` and :mod:`~interp.study.experiments` (studies and stages).
"""
