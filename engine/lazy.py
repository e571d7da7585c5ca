"""Packages whose public names load their module on first use (PEP 562).

:mod:`engine.dicom` and :mod:`engine.workflow` list every public name with the
module that defines it; a name is imported when first asked for, and kept as a
plain attribute afterwards. The desktop imports both before its first paint,
and neither pydicom nor the store is needed for it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    ``modules`` maps each public name to its module: relative to ``package``
    (``"files"``) or absolute (``"engine.models.results"``).
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where = module if module.startswith("engine.") else f"{package}.{module}"
        value = getattr(importlib.import_module(where), name)
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(modules))

    return __getattr__, __dir__
