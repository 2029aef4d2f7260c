"""Admin service modules imported on first use, so the ``rules_api`` cold import stays small.

Some services bring in much more than a request needs (the integrations the RMM clients and
httpx, the alerts the outbox); the routes that call them are registered when the resolver is built,
but each service module is imported by its first call, once per process (docs/performance.md,
cold imports).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``: the first attribute read imports it, later reads are one
    dictionary lookup more than a plain module attribute."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            # importlib's module lock makes a concurrent first import safe; both callers get one module.
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{' (loaded)' if self._module is not None else ''}>"
