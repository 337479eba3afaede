"""Tracking stand-in for the physics-impact study: cluster finder, track finder, matching.

:mod:`~interp.data.reconstruction.clusters` finds clusters (local maxima per pad row) in an event
with
geometry (:mod:`interp.data.simulator.geometry`) and cuts the schema's windows around them;
:mod:`~interp.data.reconstruction.tracks` follows tracks through the pad rows and matches them to
truth;
:mod:`~interp.study.tracking_stage` scores the filter thresholds of trained classifiers by what they
do to the tracks.
"""
