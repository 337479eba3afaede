"""The explain stage's reconstruction figures: mean input vs mean reconstruction per noise
kind, for every trained cell whose model spec has the ``reconstructions`` capability (an
autoencoder). Numbers (mean / median reconstruction error per group) from
:mod:`interp.explain.reconstruction`, figure from :mod:`interp.plots.reconstruction`; one
figure ``reconstructions_<model>_<C>_on_<T>`` per test chamber, numbers into
``explain_summary.json`` under ``reconstructions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interp.explain.reconstruction import mean_reconstructions
from interp.plots.reconstruction import reconstruction_figure


def reconstruction_section(cell: Any, write: Callable[..., None], summary: dict[str, Any]) -> None:
    """Writes ``reconstructions_<tag>_on_<T>`` and ``summary["reconstructions"]``.

    Args:
        cell: The explain stage's cell (``model``, ``chamber``, ``clf``, ``chambers``,
            ``test(t)``, ``tag``).
        write: ``write(figure, name, width, height)``.
        summary: The explain summary (gets ``{"reconstructions": {"<tag>_on_<T>": {group:
            {"n", "mean_error", "median_error"}}}}``).
    """
    for t in cell.chambers:
        test = cell.test(t)
        if len(test) == 0:
            continue
        groups = mean_reconstructions(cell.clf, test)
        title = (
            f"{cell.model} trained on {cell.chamber}, test {t}: mean input vs mean "
            "reconstruction per noise kind"
        )
        rows = -(-len(groups) // 2)
        write(reconstruction_figure(groups, title), f"reconstructions_{cell.tag}_on_{t}",
              1500, 120 + 260 * rows)  # fmt: skip
        summary.setdefault("reconstructions", {})[f"{cell.tag}_on_{t}"] = {
            name: {k: g[k] for k in ("n", "mean_error", "median_error")}
            for name, g in groups.items()
        }
