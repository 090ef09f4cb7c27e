"""The optional parts of archc and the packages they need.

`pip install archc` brings the static verbs only (check, summary, diagram, expand, schema,
explain, memory). A verb that runs the network needs an extra: ``archc[torch]`` for `build`
and `to_torch`, ``archc[train]``, ``archc[export]``. A missing package is found before anything
is imported, and reported as one line that names the extra to install.
"""

from __future__ import annotations

import importlib.util
import sys

from archc.errors import UsageError

TORCH = {"torch": "torch"}  # import name -> distribution name


def missing(packages: dict[str, str]) -> list[str]:
    """The distributions of `packages` (import name -> distribution) that are not installed."""
    return [dist for name, dist in packages.items() if not _installed(name)]


def _installed(name: str) -> bool:
    if name in sys.modules:  # imported already, or blocked (None) as a missing package is
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def install_hint(extra: str, packages: list[str]) -> str:
    return f"needs {', '.join(packages)}: pip install 'archc[{extra}]'"


def require_for_verb(verb: str, extra: str, packages: dict[str, str]) -> None:
    """Raise a one-line UsageError (E006) if `archc VERB` lacks a package of `extra`."""
    absent = missing(packages)
    if absent:
        raise UsageError(f"`archc {verb}` {install_hint(extra, absent)}", code="E006")


def require_for_api(function: str, extra: str, packages: dict[str, str]) -> None:
    """Raise an ImportError naming the extra if `archc.FUNCTION` lacks a package of it."""
    absent = missing(packages)
    if absent:
        raise ImportError(f"archc.{function} {install_hint(extra, absent)}")
