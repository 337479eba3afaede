"""Data layer: chambers, the simulator, cluster-file readers and writers, splits,
preprocessing, per-cluster features, and the cluster/track finders of events with geometry.

Imports only :mod:`interp.core`.
"""
