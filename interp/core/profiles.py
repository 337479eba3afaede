"""The one table of run profiles: ``smoke``, ``quick`` and ``full``.

Every profiled config (:class:`interp.study.config.MatrixConfig`,
:class:`interp.backends.flax.config.TrainConfig`,
:class:`interp.backends.xgboost.classifier.XGBConfig` and the study files'
``[profiles.<name>]`` sections) is keyed by these names: each config class has one
classmethod per name holding that profile's numbers, and every name check goes through
:func:`check_profile` or :data:`PROFILES`.
"""

from __future__ import annotations

from interp.core.errors import UnknownNameError

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")
"""Profile names, smallest first: ``smoke`` (seconds, for tests), ``quick`` (minutes on two CPU
cores), ``full`` (the published-size run)."""


def check_profile(name: str, what: str = "profile") -> str:
    """Returns ``name`` if it is one of :data:`PROFILES`.

    Args:
        name: Profile name to check.
        what: What the name is for, as the error names it (e.g. ``"training profile"``).

    Raises:
        UnknownNameError: ``name`` is not a profile, listing the known ones.
    """
    if name not in PROFILES:
        raise UnknownNameError(what, name, PROFILES)
    return name
