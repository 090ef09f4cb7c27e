"""Field values: literals, `$name` / `${expression}` references and raw YAML text."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()  # a reference whose value the generator cannot tell


@dataclass(frozen=True)
class Ref:
    """A `$name` or `${expression}` value, with its meaning as a Python function of the scope."""

    text: str
    fn: Callable[[dict], Any] = field(compare=False)


@dataclass(frozen=True)
class Raw:
    """Text pasted verbatim into the YAML (tags, aliases, odd scalars)."""

    text: str


def resolve(value: Any, env: dict) -> Any:
    """`value` with its references evaluated in `env` (UNKNOWN where that fails)."""
    if isinstance(value, Ref):
        try:
            return value.fn(env)
        except Exception:
            return UNKNOWN
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def flow(value: Any, plain: bool = False) -> str:
    """`value` as a YAML flow node: JSON, plus .inf/.nan, raw text for `Raw`, and with `plain`
    identifiers unquoted (``type: conv``) as people write them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Ref):
        return flow(value.text, plain)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {flow(v, plain)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v, plain) for v in value) + "]"
    if (
        plain
        and isinstance(value, str)
        and (_PLAIN.match(value) or re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", value))
        and value.lower() not in _YAML_WORDS
    ):
        return value
    return json.dumps(value)


def _key(k: str) -> str:
    return k if k.isidentifier() else json.dumps(k)
