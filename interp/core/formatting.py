"""Text forms of the study's numbers: percent, interval, points, plain numbers, pipe tables.

The one place where fractions become the strings of ``matrix.md``, ``REPORT.md`` and the CLI's
summary lines. Every function takes fractions (0.42 for 42 %) or plain floats and writes
``n/a`` for a missing value (``None``; NaN too in :func:`num`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NA = "n/a"
"""What every formatter writes for a missing value."""


def pct(x: float | None, digits: int = 1) -> str:
    """Fraction -> percent without the sign, e.g. ``pct(0.4213) == "42.1"``."""
    return NA if x is None else f"{100 * x:.{digits}f}"


def with_ci(m: Mapping[str, Any], unit: str = "") -> str:
    """A metric ``{"value", "lo", "hi"}`` (fractions) as ``value [lo, hi]`` in percent.

    Args:
        m: Metric with a ``value`` and its 95 % interval ``lo``/``hi`` (``None``: no interval).
        unit: Written after the value (e.g. ``" %"``), before the brackets.
    """
    if m.get("value") is None:
        return NA
    if m.get("lo") is None:
        return pct(m["value"]) + unit
    return f"{pct(m['value'])}{unit} [{pct(m['lo'])}, {pct(m['hi'])}]"


def pts(x: float | None, digits: int = 1) -> str:
    """A fraction difference in signed percentage points, e.g. ``pts(-0.012) == "-1.2"``."""
    return NA if x is None else f"{100 * x:+.{digits}f}"


def diff_pts(toolkit: float | None, published: float | None) -> str:
    """``toolkit - published`` in signed percentage points (one decimal)."""
    if toolkit is None or published is None:
        return NA
    return pts(toolkit - published)


def seed_spread(ev_part: Mapping[str, Any], metric: str = "balanced_accuracy") -> str:
    """Standard deviation over training seeds of ``metric`` of one evaluation part (e.g. an
    evaluation's ``at_0.5``), in points, with the number of seeds: ``"0.42 (3 seeds)"``."""
    sd = ev_part.get("seed_spread", {}).get(metric)
    n = ev_part.get("n_seeds", 1)
    return f"{NA} ({n} seed)" if sd is None else f"{100 * sd:.2f} ({n} seeds)"


def num(x: float | None, digits: int = 2) -> str:
    """A plain float with ``digits`` decimals; ``n/a`` for ``None`` and NaN."""
    return NA if x is None or x != x else f"{x:.{digits}f}"


def sig(x: float | None, digits: int = 3) -> str:
    """A plain float with ``digits`` significant digits (``%g``); ``n/a`` for ``None``."""
    return NA if x is None else f"{x:.{digits}g}"


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown pipe table (header, separator, one line per row)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]
