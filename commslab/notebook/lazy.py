"""A module loaded at its first use, not at its import (Python's own recipe: importlib's
"Implementing lazy imports", https://docs.python.org/3/library/importlib.html).

The setup cell imports commslab.lab; the figures' modules bring matplotlib, most of that
cell's time (issue 23: the setup cell within 2 s). commslab.lab names them with
`lazy_import`, so matplotlib loads when the first picture is drawn.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_import"]


def lazy_import(name: str) -> ModuleType:
    """The module NAME, executed at the first access to one of its attributes."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
