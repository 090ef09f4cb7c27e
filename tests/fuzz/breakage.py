"""YAML-level mistakes in a spec's text: syntax, tags, duplicate keys, tabs, truncation.

`BREAKERS` maps each kind of mistake to one function `(drawer, lines, i) -> text`, where
`lines` are the spec's lines and `i` a drawn line index.
"""

from __future__ import annotations

from collections.abc import Callable

from .state import Drawer


def break_text(d: Drawer, text: str) -> str:
    lines = text.splitlines()
    what = d.pick(list(BREAKERS))
    i = d.int(0, len(lines) - 1)
    return BREAKERS[what](d, lines, i)


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _tab(d: Drawer, lines: list[str], i: int) -> str:
    lines.insert(i, "\t- {type: relu}")
    return _join(lines)


def _dup(d: Drawer, lines: list[str], i: int) -> str:
    lines[i] = (
        lines[i].replace("{", "{type: identity, type: identity, ", 1)
        if "{" in lines[i]
        else lines[i] + "\nlayers: []"
    )
    return _join(lines)


def _unclosed(d: Drawer, lines: list[str], i: int) -> str:
    lines[i] = lines[i].replace("}", "", 1) if "}" in lines[i] else lines[i] + " ["
    return _join(lines)


def _tag(d: Drawer, lines: list[str], i: int) -> str:
    lines[i] = (
        lines[i].replace("{", "!!python/object:os.system {", 1)
        if "{" in lines[i]
        else lines[i].replace(": ", ": !!binary ", 1)
    )
    return _join(lines)


def _truncate(d: Drawer, lines: list[str], i: int) -> str:
    text = "\n".join(lines)
    return text[: d.int(0, len(text))]


def _empty(d: Drawer, lines: list[str], i: int) -> str:
    return d.pick(["", "\n", "# nothing\n", "---\n"])


def _list(d: Drawer, lines: list[str], i: int) -> str:
    return "- archc: 1\n- " + lines[-1] + "\n"


def _topkey(d: Drawer, lines: list[str], i: int) -> str:
    lines.insert(d.int(1, len(lines)), d.pick(["extra: 1", "Layers: []", "outputz: [a]"]))
    return _join(lines)


def _version(d: Drawer, lines: list[str], i: int) -> str:
    lines[0] = d.pick(["archc: 2", "archc: '1'", "archc: 1.0", "archc: true"])
    return _join(lines)


def _nokey(d: Drawer, lines: list[str], i: int) -> str:
    # (one key drawn per line)
    return _join([ln for ln in lines if not ln.startswith(d.pick(["archc", "name", "input"]))])


def _alias(d: Drawer, lines: list[str], i: int) -> str:
    lines.insert(1, "x: &a [*a]")
    return _join(lines)


def _dupname(d: Drawer, lines: list[str], i: int) -> str:
    lines.append(lines[-1] if lines[-1].startswith("  -") else "  - {type: identity}")
    return _join(lines)


def _anchor_ok(d: Drawer, lines: list[str], i: int) -> str:
    """Valid YAML anchors: must not break anything by themselves."""
    return _join(lines).replace("input: {", "input: &in {", 1)


BREAKERS: dict[str, Callable[[Drawer, list[str], int], str]] = {
    "tab": _tab,
    "dup": _dup,
    "unclosed": _unclosed,
    "tag": _tag,
    "truncate": _truncate,
    "empty": _empty,
    "list": _list,
    "topkey": _topkey,
    "version": _version,
    "nokey": _nokey,
    "alias": _alias,
    "dupname": _dupname,
    "anchor_ok": _anchor_ok,
}
