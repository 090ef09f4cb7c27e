"""``--set key=value`` overrides, applied to the loaded data before expansion.

The value is YAML, parsed by the same safe loader as spec files, so an override is checked
exactly like file content; errors in the value itself name the override instead of a file line
(a var's value is checked where the spec uses it). An override may add a key to a layer or to
the spec, which validation then checks, but not a var: a var nothing uses would hide a typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from archc.errors import Pos, UsageError
from archc.load import YMap, YSeq, parse_yaml

_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")  # ASCII digits only: `int` also reads `²` and `٠`
_SHOWN = 80  # characters of an override quoted in a message


def shown(text: str) -> str:
    """An override as messages quote it: whole when short, else its start and its length."""
    if len(text) <= _SHOWN:
        return text
    return f"{text[:_SHOWN]}... ({len(text):,} characters)"


def apply_overrides(data: YMap, overrides: Sequence[str]) -> YMap:
    """A copy of `data` with each ``dotted.key=yaml value`` override applied."""
    for full in overrides:
        key, sep, raw = full.partition("=")
        text = shown(full)
        if not sep or not key.strip():
            raise UsageError(
                f"--set expects KEY=VALUE, e.g. vars.width=32. Received: {text!r}", code="E004"
            )
        _check_var(data, key.strip().split("."), text)
        origin = f"--set {text}"
        value = parse_yaml(raw, origin, origin=origin) if raw.strip() else None
        data = _set_path(data, key.strip().split("."), value, Pos(1, len(key) + 2, 0, origin), text)
    return data


def _set_path(node: Any, parts: list[str], value: Any, pos: Pos, text: str) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(node, YSeq):
        if not _INDEX.match(head) or int(head) >= len(node):
            raise UsageError(
                f"--set {text}: `{shown(head)}` is not an index of that list", code="E004"
            )
        copy = YSeq(node, pos=node.pos)
        copy.item_pos = list(node.item_pos)
        index = int(head)
        copy[index] = _set_path(node[index], rest, value, pos, text) if rest else value
        if not rest:
            copy.item_pos[index] = pos
        return copy
    if isinstance(node, YMap):
        if rest and head not in node:
            raise UsageError(f"--set {text}: the spec has no `{shown(head)}` here", code="E004")
        copy = YMap(node, pos=node.pos)
        copy.key_pos, copy.value_pos = dict(node.key_pos), dict(node.value_pos)
        copy[head] = _set_path(node[head], rest, value, pos, text) if rest else value
        copy.key_pos.setdefault(head, pos)
        if not rest:
            copy.value_pos[head] = pos
        return copy
    raise UsageError(
        f"--set {text}: `{shown(head)}` is inside a value that is not a mapping or list",
        code="E004",
    )


def _check_var(data: YMap, parts: list[str], text: str) -> None:
    """`vars.<name>` must name a var the spec declares."""
    declared = data.get("vars")
    if len(parts) != 2 or parts[0] != "vars" or not isinstance(declared, YMap):
        return
    if parts[1] not in declared:
        close = difflib.get_close_matches(parts[1], list(declared), n=1, cutoff=0.6)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise UsageError(
            f"--set {text}: the spec has no var `{shown(parts[1])}`.{hint} Its vars: "
            + ", ".join(declared),
            code="E004",
        )
