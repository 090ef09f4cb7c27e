"""One error hierarchy for every stage: a spec mistake is a `Diagnostic` with a position.

Every stage collects diagnostics rather than stopping at the first, and raises a single
`SpecError` carrying all of them, in file order. The CLI renders them as
``path:line:col: error[CODE]: message`` followed by the source line, a caret and notes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, TextIO

# Every error code archc reports, with its title. docs/errors.md shows an example of each;
# tests/test_error_codes.py keeps the two and the source in step.
CODES: dict[str, str] = {
    # command line and files (exit code 2)
    "E001": "the spec file cannot be read (missing, a directory, no permission)",
    "E002": "the spec file is larger than the size limit",
    "E003": "an output file cannot be written",
    "E004": "a --set override is malformed or names no key of the spec",
    "E005": "an output file has a format archc cannot write",
    "E006": "the command needs an optional part of archc that is not installed",
    "E007": "more errors were found than are printed",
    # YAML (exit code 1)
    "E100": "YAML syntax error",
    "E101": "the file is not UTF-8 text",
    "E102": "duplicate key in a mapping",
    "E103": "YAML tag not allowed (archc reads plain data only)",
    "E105": "the spec is empty or not a mapping",
    "E106": "a safety limit was exceeded (nesting, aliases, node count, number size)",
    "E107": "a mapping key is not a plain name",
    # spec structure and values
    "E201": "unknown key",
    "E202": "missing required key",
    "E203": "unknown layer type",
    "E204": "invalid value",
    "E205": "unknown block parameter",
    "E206": "invalid block or parameter name",
    "E207": "a block contains itself",
    "E210": "an expression cannot be evaluated",
    # shapes
    "E301": "the layer cannot take this input",
    "E302": "a window does not fit its input (the size would drop below 1)",
    "E303": "options that do not work together",
    "E304": "channels not divisible by groups",
    "E305": "the input has the wrong number of dimensions for this layer",
    "E306": "reshape to a different number of values",
    "E310": "element-wise merge of different shapes",
    "E311": "concat of shapes that differ outside the concat axis",
    # graph
    "E401": "duplicate layer name",
    "E402": "unknown layer name in inputs or outputs",
    "E403": "wrong number of inputs",
    "E404": "the layers form a cycle",
    "E405": "a layer's output is never used",
    "E406": "layers named with dots do not form one module",
    # budgets
    "E501": "an activation is larger than the activation budget",
    "E502": "the network has more parameters than the parameter budget",
    "E503": "building the model needs more memory than is free",
    # training, evaluation and weights (`archc train`, `evaluate`, `predict`, `export`)
    "E601": "a data set cannot be read or is malformed",
    "E602": "the data does not fit the spec's input",
    "E603": "a label is outside the spec's classes",
    "E604": "a checkpoint or weights file cannot be used (unreadable, another spec, another run)",
    "E605": "the network is not a classifier `archc train` can fit",
    "E606": "the device the command asks for is not available",
    # export (`archc export`)
    "E701": "an exported file does not reproduce the PyTorch module's outputs",
}


class Pos(NamedTuple):
    """A 1-based source position; `end_col` marks the end of the node on the same line.

    A named tuple: a spec has one for every key and value, and tuples are built fastest.
    """

    line: int
    col: int
    end_col: int = 0
    # Where the text came from when it is not the spec file itself (a --set override).
    origin: str = ""


NOWHERE = Pos(0, 0)


@dataclass(frozen=True)
class Diagnostic:
    """One mistake in a spec: where it is, which rule it breaks, and what would fix it."""

    code: str
    message: str
    path: str = "<spec>"
    pos: Pos = NOWHERE
    layer: str | None = None
    notes: tuple[str, ...] = ()
    help: str | None = None

    def __post_init__(self) -> None:
        if self.pos.origin:  # a value from the command line: name it instead of the file
            object.__setattr__(self, "path", self.pos.origin)

    def sort_key(self) -> tuple:
        return (self.path, self.pos.line, self.pos.col, self.code, self.message)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "line": self.pos.line,
            "col": self.pos.col,
            "code": self.code,
            "message": self.message,
            "layer": self.layer,
            "notes": list(self.notes),
            "help": self.help,
        }


class ArchcError(Exception):
    """Base class of every error archc raises on purpose."""


class UsageError(ArchcError):
    """Bad command-line use or an unreadable file (exit code 2)."""

    def __init__(self, message: str, code: str = "E001") -> None:
        super().__init__(message)
        self.code = code


class SpecError(ArchcError):
    """An invalid spec (exit code 1): carries every diagnostic found, in file order."""

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None) -> None:
        self.diagnostics = _dedupe(sorted(diagnostics, key=Diagnostic.sort_key))
        self.source = source
        super().__init__("\n".join(d.message for d in self.diagnostics))

    def __str__(self) -> str:
        return render_text(self.diagnostics, self.source, color=False)


class LayerError(ArchcError):
    """Raised by a layer's shape rule; the analyse stage adds path, position and layer name.

    `field` names the spec key to point at (e.g. ``"kernel"``); ``None`` points at the layer.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "E301",
        field: str | None = None,
        notes: tuple[str, ...] = (),
        help: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.notes = notes
        self.help = help


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each mistake once. A mistake in a block definition shows in every instance of the
    block, at the same line and with the same message: it is reported for the first, with a
    note naming the others."""
    seen: set[tuple] = set()
    first: dict[tuple, int] = {}  # (path, pos, code) of a block layer's mistake -> its index
    others: dict[int, list[str]] = {}
    unique: list[Diagnostic] = []
    for d in diagnostics:
        if (d.path, d.pos, d.code, d.message) in seen:
            continue
        seen.add((d.path, d.pos, d.code, d.message))
        site = (d.path, d.pos, d.code, d.message.replace(d.layer or "\0", "\0"))
        k = first.get(site)
        if k is not None and d.layer and "." in d.layer and unique[k].layer != d.layer:
            others[k].append(d.layer)
            continue
        if d.layer and "." in d.layer:
            first[site] = len(unique)
            others[len(unique)] = []
        unique.append(d)
    for k, layers in others.items():
        if layers:
            shown = ", ".join(f"`{name}`" for name in layers[:3])
            more = f" and {len(layers) - 3} more" if len(layers) > 3 else ""
            note = f"the same in {shown}{more}"
            unique[k] = dataclasses.replace(unique[k], notes=(*unique[k].notes, note))
    return unique


# -- rendering -------------------------------------------------------------------------------

_LINE_WIDTH = 100
_RED, _BLUE, _CYAN, _BOLD, _RESET = "\033[31m", "\033[34m", "\033[36m", "\033[1m", "\033[0m"


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def printable(text: str) -> str:
    """Text safe for one terminal line: control characters shown as escapes, not obeyed."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# The most diagnostics printed: the rest are counted in one closing line (one JSON entry).
MAX_SHOWN_TEXT = 100
MAX_SHOWN_JSON = 1_000


def render_text(diagnostics: list[Diagnostic], source: str | None, *, color: bool) -> str:
    """Render diagnostics the way compilers do: location, message, source line, caret, notes."""
    lines = source.split("\n") if source is not None else []  # as the loader counts lines
    shown, hidden = diagnostics[:MAX_SHOWN_TEXT], len(diagnostics) - MAX_SHOWN_TEXT

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if color else text

    out: list[str] = []
    for d in shown:
        where = f"{d.path}:{d.pos.line}:{d.pos.col}" if d.pos.line else d.path
        head = paint(f"error[{d.code}]", _BOLD + _RED)
        layer = f"layer `{printable(d.layer)}`: " if d.layer else ""
        out.append(f"{paint(printable(where), _BOLD)}: {head}: {layer}{printable(d.message)}")
        if 0 < d.pos.line <= len(lines) and not d.pos.origin:
            out += _source_lines(lines[d.pos.line - 1], d.pos, paint)
        out.extend(f"  {paint('note', _CYAN)}: {printable(note)}" for note in d.notes)
        if d.help:
            out.append(f"  {paint('help', _CYAN)}: {printable(d.help)}")
    if hidden > 0:
        out.append(f"... and {hidden:,} more error{'s' if hidden > 1 else ''} not shown")
    return "\n".join(out)


def _source_lines(line: str, pos: Pos, paint: Callable[[str, str], str]) -> list[str]:
    """The source line of a diagnostic and its caret; a window around the node of a long line,
    cut before any other work, so that the cost does not grow with the line."""
    width = max(1, (pos.end_col or pos.col + 1) - pos.col)
    col = pos.col
    if len(line) > _LINE_WIDTH:
        start = max(0, col - 1 - _LINE_WIDTH // 2)
        line = ("..." if start else "") + line[start : start + _LINE_WIDTH] + "..."
        col = col - start + (3 if start else 0)
        width = min(width, _LINE_WIDTH)
    text = printable(line.replace("\t", " "))
    gutter = f"{pos.line:>5} | "
    caret = " " * (col - 1) + "^" * width
    return [
        paint(gutter, _BLUE) + text,
        paint(" " * (len(gutter) - 2) + "| ", _BLUE) + paint(caret, _RED),
    ]


def render_json(diagnostics: list[Diagnostic]) -> str:
    entries = [d.to_json() for d in diagnostics[:MAX_SHOWN_JSON]]
    hidden = len(diagnostics) - MAX_SHOWN_JSON
    if hidden > 0:
        more = Diagnostic("E007", f"{hidden:,} more errors not shown", diagnostics[0].path)
        entries.append(more.to_json())
    return json.dumps(entries, indent=2)


def print_diagnostics(
    diagnostics: list[Diagnostic],
    source: str | None,
    fmt: str = "text",
    stream: TextIO = sys.stderr,
) -> None:
    if fmt == "json":
        print(render_json(diagnostics), file=stream)
        return
    print(render_text(diagnostics, source, color=use_color(stream)), file=stream)
    n = len(diagnostics)
    print(f"{n} error{'s' if n != 1 else ''}", file=stream)
