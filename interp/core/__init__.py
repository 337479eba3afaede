"""Core layer: the cluster schema, errors, names, file helpers, locks and published numbers.

Nothing here imports another ``interp`` layer.
"""
