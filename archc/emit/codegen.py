"""Safe code writing: identifiers, literals, calls and local names for generated Python.

Spec text never reaches generated code verbatim. Names pass `ident` (Python's identifier rules
and keyword list) and a `Namespace` that refuses duplicates and reserved words; values pass
`lit`, which renders only ints, finite floats, bools, a fixed set of option words and tuples of
them; free text (a description) passes `comment_text`.
"""

from __future__ import annotations

import io
import keyword
import math
import re
import tokenize

from archc.layers.base import Shape

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORDS = frozenset({"same", "valid", "nearest", "bilinear"})


class CodegenError(Exception):
    """A value reached the code generator that it must not render (an archc bug)."""


def ident(name: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name) or keyword.iskeyword(name):
        raise CodegenError(f"not a safe identifier: {name!r}")
    return name


class Code(str):
    """Source text already rendered by this module (by `lit`), passed through unchanged."""


def lit(value: object) -> str:
    """Render a Python literal; only ints, floats, bools, option words and tuples of them."""
    if isinstance(value, Code):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"not a finite float: {value!r}")
        return repr(value)
    if isinstance(value, str) and value in _WORDS:
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        items = [lit(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise CodegenError(f"cannot render {value!r} as a literal")


def call(fn: str, *args: str, **kwargs: object) -> str:
    """``fn(a, b, k=v)`` with keyword values rendered by `lit`; None-valued keywords are omitted."""
    parts = [*args, *(f"{k}={lit(v)}" for k, v in kwargs.items() if v is not None)]
    return f"{fn}({', '.join(parts)})"


def shape_text(shape: Shape) -> str:
    return "x".join(map(str, shape))


class Namespace:
    """Hands out local variable names: refuses keywords, reserved words and duplicates."""

    # Names generated code uses itself: forward's `x` and `out`, the imports, `self`, `super`.
    RESERVED = frozenset({"self", "torch", "nn", "F", "x", "out", "super", "tuple", "getattr"})

    def __init__(self, reserved: frozenset[str] = RESERVED) -> None:
        self.used: set[str] = set()
        self.reserved = reserved

    def name(self, wanted: str) -> str:
        base = ident(wanted)
        name, n = base, 1
        while name in self.used or name in self.reserved or keyword.iskeyword(name):
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


def comment_text(text: str) -> str:
    """Spec text made safe for a comment: printable characters on one line."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def wrap(line: str, width: int = 99) -> str:
    """Break a too-long ``prefix(arg, ...)suffix`` line the way black would.

    The arguments go on one indented line if they fit, else one per line with a trailing comma.
    Brackets are found by Python's tokenizer, so a bracket in a comment or a string is never
    taken for one. Only a call's arguments get a trailing comma: in a parenthesised
    expression such as ``*([m] if flag else [])`` a comma would make a tuple. Lines that
    already span several lines, or have no bracket outside comments, are returned unchanged.
    """
    if len(line) <= width or "\n" in line:
        return line
    span = _first_parentheses(line)
    if span is None:
        return line
    start, end = span
    indent = " " * (len(line) - len(line.lstrip()))
    inner = indent + "    "
    args = _split_args(line[start + 1 : end])
    head, tail = line[: start + 1], indent + line[end:]
    one = inner + ", ".join(args)
    if len(one) <= width or not _is_call(line, start):
        return "\n".join([head, one, tail])
    return "\n".join([head, *(f"{inner}{a}," for a in args), tail])


def _first_parentheses(line: str) -> tuple[int, int] | None:
    """Offsets of the first ``(`` outside comments and strings and of its matching ``)``."""
    depth, start = 0, -1
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.lstrip()).readline):
            if token.type != tokenize.OP or token.string not in "()":
                continue
            offset = len(line) - len(line.lstrip()) + token.start[1]
            if token.string == "(":
                start = offset if depth == 0 else start
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return start, offset
    except tokenize.TokenError:  # an unclosed bracket: a line that continues elsewhere
        return None
    return None


def _is_call(line: str, paren: int) -> bool:
    """Whether the parenthesis at `paren` opens a call's arguments (``f(``, ``x[0](``)."""
    before = line[:paren].rstrip()
    return bool(before) and (before[-1].isalnum() or before[-1] in "_)]")


def _split_args(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def wrap_lines(lines: list[str]) -> list[str]:
    """`wrap` applied to every physical line."""
    return [wrap(physical) for line in lines for physical in line.split("\n")]


def camel_case(name: str | None) -> str:
    """A class name from a block name: ``inverted_residual`` -> ``InvertedResidual``."""
    return "".join(part[:1].upper() + part[1:] for part in (name or "block").split("_") if part)
