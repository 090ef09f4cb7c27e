"""Stage 1, load: YAML text -> plain data in which every node knows its source position.

Only PyYAML's safe machinery is used, and only to compose a node tree; archc builds the data
itself so that it can (a) record a position for every key and value, (b) reject duplicate keys,
custom tags and recursive aliases, and (c) bound the work a hostile file can cause: file size,
nesting depth, alias uses and the number of nodes after alias expansion are all limited.

Scalars follow the YAML 1.2 core schema rather than PyYAML's YAML 1.1 default: ``no``/``on``
stay strings, ``1e-3`` is a float, and only plain decimal integers are integers (``0x10``,
``0o17`` and ``1_000`` stay strings, so a field expecting a number reports them clearly).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from archc.errors import Diagnostic, Pos, SpecError, UsageError

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 1_000
MAX_NODES = 500_000  # YAML values (nodes) in one file: resnet50.yaml has 252, a 50,000-layer
# chain of conv, batchnorm and relu layers about 283,000
MAX_ALIAS_COPIES = 10_000  # nodes built again because an alias repeats them


class YMap(dict):
    """A mapping from the spec with the position of itself, each key and each value."""

    pos: Pos
    key_pos: dict[str, Pos]
    value_pos: dict[str, Pos]

    def __init__(self, *args: Any, pos: Pos = Pos(0, 0), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pos = pos
        self.key_pos = {}
        self.value_pos = {}


class YSeq(list):
    """A sequence from the spec with the position of itself and of each item."""

    pos: Pos
    item_pos: list[Pos]

    def __init__(self, *args: Any, pos: Pos = Pos(0, 0)) -> None:
        super().__init__(*args)
        self.pos = pos
        self.item_pos = []
        self.synthesized = False  # filled in by archc, not written in the spec


@dataclass(frozen=True)
class Document:
    """A loaded spec file: its path as given, its text, and its positioned data."""

    path: str
    text: str
    data: YMap
    # Mistakes found while loading that did not stop it (duplicate keys, non-string keys):
    # reported together with the later stages' findings.
    problems: tuple[Diagnostic, ...] = ()
    # Set by the expand stage: block definitions and instances (an `expand.Expansion`).
    expansion: Any = None

    def locate(self, loc: tuple, *, key: bool = False) -> tuple[Pos, tuple]:
        """Position of the node `loc` names, and the data path actually walked.

        Entries of `loc` that do not index into the data are skipped (pydantic puts union
        member tags in its error locations). With `key`, a mapping entry's key position is
        returned instead of its value's. A missing entry gives the position of its parent.
        """
        node, pos, walked = self.data, self.data.pos, ()
        for part in loc:
            if isinstance(node, YMap) and isinstance(part, str) and part in node:
                pos = node.key_pos[part] if key and part == loc[-1] else node.value_pos[part]
                node, walked = node[part], (*walked, part)
            elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node):
                pos, node, walked = node.item_pos[part], node[part], (*walked, part)
        return pos, walked

    def where(self, *loc: str | int) -> Pos:
        return self.locate(loc)[0]


# -- YAML 1.2 core scalars -------------------------------------------------------------------


class _Resolver(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema, decimal integers only.

    A spec repeats few scalar texts (`conv`, `3`, `relu`) many times, so the tag of each plain
    scalar is looked up once per text: it depends on nothing else.
    """

    _plain_tags: ClassVar[dict[str, str]] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or implicit != (True, False):
            return super().resolve(kind, value, implicit)
        tag = self._plain_tags.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._plain_tags) < 10_000:  # bounded: texts are a spec's own words
                self._plain_tags[value] = tag
        return tag


_SCALARS = {
    "bool": re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"),
    "null": re.compile(r"(?:~|null|Null|NULL|)\Z"),
    "int": re.compile(r"[-+]?[0-9]+\Z"),
    "float": re.compile(
        r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
    ),
}


# The first characters each kind can start with, as PyYAML's resolver indexes them.
_FIRST = {
    "bool": "tTfF",
    "null": ["~", "n", "N", ""],
    "int": "-+0123456789",
    "float": "-+.0123456789",
}
for _kind, _pattern in _SCALARS.items():
    _Resolver.add_implicit_resolver(f"tag:yaml.org,2002:{_kind}", _pattern, list(_FIRST[_kind]))


class _Composer(Composer):
    """PyYAML's composer with limits on nesting depth, alias uses and nodes.

    The limits apply while composing, so an oversized file stops at the first node too many
    instead of being composed whole first.
    """

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        # (id of the parent node, index or id of the key node) -> where an alias stands there
        self.alias_sites: dict[tuple[int, int], tuple[Any, Any]] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            event = self.peek_event()
            if self._aliases > MAX_ALIASES:
                raise _LoadFailure("E106", f"more than {MAX_ALIASES} alias uses", event.start_mark)
            slot = index if isinstance(index, int) else id(index)
            self.alias_sites[id(parent), slot] = (event.start_mark, event.end_mark)
        else:
            self._nodes += 1
            if self._nodes > MAX_NODES:
                raise _LoadFailure(
                    "E106",
                    f"the YAML has more than {MAX_NODES:,} values; a spec is not a data file",
                    self.peek_event().start_mark,
                    help="describe repeated structure with blocks and `repeat`",
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _LoadFailure("E106", f"nesting deeper than {MAX_DEPTH} levels", mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PyNodeLoader(Reader, Scanner, Parser, _Composer, _Resolver):
    """Pure-Python scanning and parsing."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Composer.__init__(self)
        _Resolver.__init__(self)


try:  # libyaml scans and parses about five times faster; composing stays ours, with its limits
    from yaml._yaml import CParser

    class _CNodeLoader(_Composer, CParser, _Resolver):
        """libyaml's events, archc's composer (depth and alias limits) and resolver."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Composer.__init__(self)
            _Resolver.__init__(self)

    _NodeLoader: type = _CNodeLoader
except ImportError:  # PyYAML built without libyaml
    _NodeLoader = _PyNodeLoader


class _LoadFailure(Exception):
    def __init__(self, code: str, message: str, mark: Any, help: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.mark, self.help = code, message, mark, help


# -- public entry points ---------------------------------------------------------------------


STDIN = "-"  # the spec path that reads standard input (`archc expand X | archc check -`)


def read_text(path: str | Path) -> str:
    """Read a spec file as UTF-8, turning every way a file can be unreadable into a UsageError.

    The path `-` reads standard input, to the same size limit.
    """
    if str(path) == STDIN:
        return _decode(sys.stdin.buffer.read(MAX_FILE_BYTES + 1), "<stdin>")
    p = Path(path)
    try:
        if p.is_dir():
            raise UsageError(f"{path}: is a directory, not a spec file")
        if p.exists() and not p.is_file():  # a FIFO or a device could block or never end
            raise UsageError(f"{path}: is not a regular file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(
                f"{path}: file is {size:,} bytes; spec files are limited to {MAX_FILE_BYTES:,}",
                code="E002",
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    return _decode(raw, str(path))


def _decode(raw: bytes, path: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(
            f"{path}: more than {MAX_FILE_BYTES:,} bytes; spec files are limited to "
            f"{MAX_FILE_BYTES:,}",
            code="E002",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [
                Diagnostic(
                    "E101",
                    f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                    str(path),
                    Pos(line, col),
                )
            ]
        ) from None


def load(path: str | Path) -> Document:
    """Load a spec file into positioned data (`-`: standard input). Raises SpecError or
    UsageError."""
    return loads(read_text(path), "<stdin>" if str(path) == STDIN else str(path))


def loads(text: str, path: str = "<spec>") -> Document:
    """Load spec text into positioned data. Raises SpecError."""
    problems: list[Diagnostic] = []
    data = parse_yaml(text, path, problems)
    if data is None:
        diag = Diagnostic("E105", "the spec is empty; it needs at least `input` and `layers`", path)
        raise SpecError([diag], text)
    if not isinstance(data, YMap):
        pos = getattr(data, "pos", None) or _first_content(text)
        diag = Diagnostic(
            "E105", "a spec must be a mapping of keys such as `input` and `layers`", path, pos
        )
        raise SpecError([diag], text)
    return Document(path, text, data, tuple(problems))


def parse_yaml(
    text: str, path: str = "<spec>", problems: list[Diagnostic] | None = None, origin: str = ""
) -> Any:
    """Parse one YAML document into YMap/YSeq/scalars. Raises SpecError with positions.

    Recoverable mistakes (a duplicate key keeps its first value) are appended to `problems`
    when given, so later stages can report theirs too; otherwise they raise.
    """
    if len(text) > MAX_FILE_BYTES:
        raise SpecError([Diagnostic("E002", f"text is longer than {MAX_FILE_BYTES:,} bytes", path)])
    if (found := _LINE_BREAKS_OF_YAML_1_1.search(text)) is not None:
        raise SpecError([_yaml_1_1_break(text, found.start(), path, origin)], text)
    diagnostics: list[Diagnostic] = []
    try:
        loader = _NodeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None:
            return None
        data = _Builder(path, diagnostics, origin, loader.alias_sites).build(root)
        if problems is not None:
            problems.extend(diagnostics)
            return data
        if not diagnostics:
            return data
    except _LoadFailure as exc:
        diagnostics.append(Diagnostic(exc.code, exc.message, path, _pos(exc.mark), help=exc.help))
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(_syntax_diagnostic(exc, path, text))
    except yaml.YAMLError as exc:  # reader errors: control characters, bad encodings
        mark = getattr(exc, "position", None)
        line, col = _line_col(text, mark) if isinstance(mark, int) else (1, 1)
        diagnostics.append(
            Diagnostic("E100", f"not a YAML text: {_first_line(exc)}", path, Pos(line, col))
        )
    except RecursionError:
        diagnostics.append(Diagnostic("E106", "the YAML nests too deeply", path, Pos(1, 1)))
    raise SpecError(diagnostics, text)


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, path: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and (mark is None or mark.line >= len(text.splitlines())):
        mark = exc.context_mark  # at the end of the text: where the unfinished node began
    problem = exc.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if exc.context:
        message += f" ({exc.context})"
    help = None
    lines = text.splitlines()
    at = lines[mark.line][mark.column : mark.column + 1] if mark and mark.line < len(lines) else ""
    if "maximum nesting depth" in problem:  # libyaml's own limit
        return Diagnostic(
            "E106", "the YAML nests too deeply", path, _pos(mark) if mark else Pos(1, 1)
        )
    if at == "\t" or "'\\t'" in problem:
        message = "YAML syntax error: a tab character here; YAML indents with spaces only"
        help = "replace the tab with spaces"
    return Diagnostic("E100", message, path, _pos(mark) if mark else Pos(1, 1), help=help)


def _first_content(text: str) -> Pos:
    """Where a document's content starts: the first line that is not blank, a comment or ---."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "---", "%")):
            return Pos(number, len(line) - len(line.lstrip()) + 1)
    return Pos(1, 1)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# YAML 1.1 (and so PyYAML's reader) ends a line at these; YAML 1.2, which archc reads, does
# not. Either reading would shift the line of every position after one: they are refused.
_LINE_BREAKS_OF_YAML_1_1 = re.compile("[\x85\u2028\u2029]")


def _yaml_1_1_break(text: str, index: int, path: str, origin: str) -> Diagnostic:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return Diagnostic(
        "E100",
        f"the text contains U+{ord(text[index]):04X}, which YAML 1.1 reads as a line break and "
        "YAML 1.2 does not",
        path,
        Pos(line, col, 0, origin),
        help="use a plain newline, or remove the character",
    )


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


def _span(node: Node, origin: str = "") -> Pos:
    start, end = node.start_mark, node.end_mark
    end_col = end.column + 1 if end.line == start.line and end.column > start.column else 0
    return Pos(start.line + 1, start.column + 1, end_col, origin)


_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + name for name in ("map", "seq", "str", "int", "float", "bool", "null")
}


class _Builder:
    """Turns a composed node tree into YMap/YSeq/scalars, enforcing the safety limits."""

    def __init__(
        self,
        path: str,
        diagnostics: list[Diagnostic],
        origin: str = "",
        alias_sites: dict[tuple[int, int], tuple[Any, Any]] | None = None,
    ) -> None:
        self.path = path
        self.origin = origin
        self.diagnostics = diagnostics
        self.alias_sites = alias_sites or {}
        self.count = 0
        self.active: set[int] = set()
        self.built: set[int] = set()  # nodes built once; building one again copies an alias
        self.copying = 0
        self.copies = 0
        self.site: Any = None  # the alias whose copy is being built, outermost

    def build(self, node: Node, site: Any = None) -> Any:
        """Build `node`; `site` is the mark of the alias that stands where it is used."""
        self.count += 1
        repeated = id(node) in self.built
        self.built.add(id(node))
        self.copies += bool(self.copying or repeated)
        if repeated and not self.copying:
            self.site = site
        if self.count > MAX_NODES or self.copies > MAX_ALIAS_COPIES:
            raise _LoadFailure(
                "E106",
                "the YAML's aliases expand to too many nodes (an alias bomb?)",
                self.site or node.start_mark,
                help="write the structure out, or use blocks and `repeat`",
            )
        self.copying += repeated
        try:
            return self._build(node)
        finally:
            self.copying -= repeated

    def _item(self, parent: Node, slot: int, node: Node) -> tuple[Any, Pos]:
        """A child node built, with its position: the alias's where one stands there."""
        site = self.alias_sites.get((id(parent), slot))
        value = self.build(node, site[0] if site else None)
        if site is None:
            return value, _span(node, self.origin)
        start, end = site
        end_col = end.column + 1 if end.line == start.line else 0
        return value, Pos(start.line + 1, start.column + 1, end_col, self.origin)

    def _build(self, node: Node) -> Any:
        if node.tag not in _STANDARD_TAGS:
            raise _LoadFailure(
                "E103",
                f"YAML tag `{node.tag}` is not allowed; archc reads plain data only",
                node.start_mark,
                help="remove the tag",
            )
        if id(node) in self.active:
            raise _LoadFailure(
                "E106", "a YAML alias refers to a node that contains it", node.start_mark
            )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        expected = "seq" if isinstance(node, SequenceNode) else "map"
        if not node.tag.endswith(expected):
            raise _LoadFailure(
                "E103",
                f"YAML tag `{node.tag}` does not fit this node",
                node.start_mark,
                help="remove the tag",
            )
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node)
            return self._mapping(node)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        kind = node.tag.rsplit(":", 1)[-1]
        value = node.value
        if kind in ("map", "seq"):
            raise _LoadFailure("E103", f"YAML tag `!!{kind}` on a scalar", node.start_mark)
        if kind == "str":
            return value
        if not _SCALARS[kind].match(value):  # an explicit tag on a value that is not one
            raise _LoadFailure(
                "E103",
                f"`{value}` is not a YAML {kind}",
                node.start_mark,
                help=f"remove the `!!{kind}` tag",
            )
        if kind == "int":
            if len(value.lstrip("+-")) > 30:
                raise _LoadFailure(
                    "E106", f"integer with {len(value)} digits is too long", node.start_mark
                )
            return int(value)
        if kind == "float":
            lowered = value.lower()
            if lowered.endswith("inf"):
                return float("-inf") if lowered.startswith("-") else float("inf")
            return float("nan") if lowered.endswith("nan") else float(value)
        if kind == "bool":
            return value.lower() == "true"
        return None

    def _sequence(self, node: SequenceNode) -> YSeq:
        seq = YSeq(pos=_span(node, self.origin))
        for index, item in enumerate(node.value):
            value, pos = self._item(node, index, item)
            seq.append(value)
            seq.item_pos.append(pos)
        return seq

    def _mapping(self, node: MappingNode) -> YMap:
        out = YMap(pos=_span(node, self.origin))
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self.diagnostics.append(
                    Diagnostic(
                        "E107",
                        "keys must be plain names",
                        self.path,
                        _span(key_node, self.origin),
                        help="write the key as a word such as `kernel`",
                    )
                )
                continue
            key = key_node.value
            if key == "<<" and not key_node.style:  # plain, not quoted
                raise _LoadFailure(
                    "E107",
                    "YAML merge keys (`<<`) are not part of the YAML archc reads",
                    key_node.start_mark,
                    help="write the keys out, or define a block and use it",
                )
            if key in out:
                first = out.key_pos[key]
                self.diagnostics.append(
                    Diagnostic(
                        "E102",
                        f"duplicate key `{key}`",
                        self.path,
                        _span(key_node, self.origin),
                        notes=(f"first given at line {first.line}, column {first.col}",),
                        help="YAML keeps only one of them; remove the other",
                    )
                )
                continue
            out[key], out.value_pos[key] = self._item(node, id(key_node), value_node)
            out.key_pos[key] = _span(key_node, self.origin)
        return out
