"""Study configs shipped with the toolkit: ``<name>.toml`` and ``presets/*.toml`` (data only).

A package so that a non-editable install carries them (package data, see ``pyproject.toml``);
:mod:`interp.study.experiments` finds them with :mod:`importlib.resources`. See README.md.
"""
