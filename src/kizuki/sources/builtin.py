"""Imports every parser module of this package so that their ``@register`` runs.

A new format is a new module here with a ``@register``-decorated ``Parser``; nothing
else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil

_INFRASTRUCTURE = {"base", "registry", "reader", "builtin", "windows", "timeparse"}


def _load() -> None:
    import kizuki.sources as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"kizuki.sources.{info.name}")


_load()
