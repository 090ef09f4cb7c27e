"""Values in specs: ``$name`` references and ``${expression}`` arithmetic, evaluated safely.

An expression is parsed by Python's `ast` and then walked by a small interpreter that knows only
numbers, booleans, names from the current scope, arithmetic, comparisons, ``and``/``or``/
``not``, ``a if cond else b`` and the functions `min`, `max` and `abs`. Nothing is ever passed
to `eval`. Sizes are bounded so that an expression cannot make archc compute for long:
``2 ** 10**9`` is refused, not attempted.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

MAX_LENGTH = 200
MAX_MAGNITUDE = 10**18

REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\Z")
EXPRESSION = re.compile(r"\$\{(.*)\}\Z", re.S)


class ExprError(Exception):
    """An expression that cannot be evaluated; `help` suggests a fix where one is known."""

    def __init__(self, message: str, help: str | None = None, consequence: bool = False) -> None:
        super().__init__(message)
        self.help = help
        # True when the cause was already reported elsewhere (e.g. a broken var).
        self.consequence = consequence


def bad_name(name: str) -> str | None:
    """Why `name` cannot name a var or a block parameter (expressions could not read it), or
    None if it can."""
    if not isinstance(name, str) or not REFERENCE.match(f"${name}"):
        return f"`{name}` is not a name expressions can use: ASCII letters, digits and `_`"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"`{name}` is a Python keyword, which expressions cannot use as a name"
    return None


def source_of(value: Any) -> str | None:
    """The expression text of a ``$name`` or ``${...}`` string, or None for a plain value."""
    if not isinstance(value, str):
        return None
    if m := REFERENCE.match(value):
        return m.group(1)
    if m := EXPRESSION.match(value):
        return m.group(1).strip()
    return None


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}


def parse(text: str) -> ast.expr:
    """Parse and check an expression; raises ExprError for anything outside the language."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression `{text}`: {exc.msg}") from None
    _check_spelling(text, tree)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__
            raise ExprError(
                f"`{text}` uses {what}, which spec expressions do not allow",
                help="use numbers, names, + - * / // % **, comparisons, and/or/not, "
                "`a if c else b`, min(), max(), abs()",
            )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords
        ):
            raise ExprError(f"`{text}` calls a function other than min, max or abs")
        if isinstance(node, ast.Constant) and type(node.value) not in (int, float, bool, str):
            raise ExprError(f"`{text}` contains an unsupported constant")
        if (
            (isinstance(node, ast.operator) and type(node) not in _BINARY)
            or (isinstance(node, ast.cmpop) and type(node) not in _COMPARE)
            or isinstance(node, ast.Invert)
        ):
            raise ExprError(
                f"`{text}` uses the operator {type(node).__name__}, which spec expressions "
                "do not allow",
                help="use + - * / // % **, comparisons, and/or/not",
            )
    return tree


def _check_spelling(text: str, tree: ast.expr) -> None:
    """Names exactly as written: Python reads `ｗidth` (a full-width letter) as `width`, which
    would let a look-alike name stand for another."""
    encoded = text.encode()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            written = encoded[node.col_offset : node.end_col_offset].decode(errors="replace")
            if written != node.id:
                raise ExprError(
                    f"`{written}` in `{text}` is not an ASCII name",
                    help="write names with ASCII letters, digits and `_`",
                )


_ALLOWED = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.List, ast.Tuple,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate expression `text` with names from `scope` (a Mapping; may resolve lazily)."""
    return _Eval(scope, text).visit(parse(text))


def names(text: str) -> set[str]:
    """The names an expression refers to (for ordering and cycle detection)."""
    return {n.id for n in ast.walk(parse(text)) if isinstance(n, ast.Name)} - set(_FUNCTIONS)


class _Eval:
    def __init__(self, scope: Mapping[str, Any], text: str) -> None:
        self.scope = scope
        self.text = text

    def visit(self, node: ast.expr) -> Any:
        value = getattr(self, f"visit_{type(node).__name__}")(node)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
            raise ExprError(f"`{self.text}` gives a number beyond {MAX_MAGNITUDE:.0e}")
        if isinstance(value, complex):
            raise ExprError(
                f"`{self.text}` has no real value (a negative number to a fractional power)"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ExprError(f"`{self.text}` gives {value}, not a finite number")
        return value

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id not in self.scope:
            raise ExprError(
                f"unknown name `{node.id}`"
                + (f" in `${{{self.text}}}`" if self.text.strip() != node.id else ""),
                _suggest(node.id, self.scope),
            )
        return self.scope[node.id]

    def visit_List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        _number(value, self.text)
        return -value if isinstance(node.op, ast.USub) else +value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        _number(left, self.text)
        _number(right, self.text)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise ExprError(f"`{self.text}`: power too large")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExprError(f"`{self.text}` divides by zero") from None
        except OverflowError:
            raise ExprError(f"`{self.text}` gives a number too large for a float") from None
        except (TypeError, ValueError) as exc:
            raise ExprError(f"`{self.text}`: {exc}") from None

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            return all(self.visit(v) for v in node.values)
        return any(self.visit(v) for v in node.values)

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:
                raise ExprError(f"`{self.text}` compares values of different kinds") from None
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> Any:
        args = [self.visit(a) for a in node.args]
        for a in args:
            _number(a, self.text)
        try:
            return _FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as exc:
            raise ExprError(f"`{self.text}`: {exc}") from None


def _number(value: Any, text: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError(f"`{text}` does arithmetic on {value!r}, which is not a number")


def _suggest(name: str, scope: Mapping[str, Any]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(scope), n=1)
    return f"did you mean `{close[0]}`?" if close else None


# -- scopes ----------------------------------------------------------------------------------


MAX_VAR_DEPTH = 64  # a var defined through another, through another, ...


class Vars(Mapping):
    """Top-level vars, resolved on first use so they may refer to each other in any order."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.values: dict[str, Any] = {}
        self.failed: set[str] = set()
        self.resolving: list[str] = []
        self.too_deep = False

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name not in self.raw:
            raise KeyError(name)
        if name in self.failed:  # reported where the var is defined
            raise ExprError(f"var `{name}` is invalid", consequence=True)
        if name in self.resolving:
            cycle = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            raise ExprError(f"vars refer to each other in a cycle: {cycle}")
        if len(self.resolving) >= MAX_VAR_DEPTH:  # reported once: the rest of the chain
            chain = " -> ".join([*self.resolving[:3], "...", name])  # is as deep
            error = ExprError(
                f"vars refer to each other more than {MAX_VAR_DEPTH} deep: {chain}",
                help="give the var a value nearer to its definition",
                consequence=self.too_deep,
            )
            self.too_deep = True
            raise error
        self.resolving.append(name)
        try:
            value = self.raw[name]
            text = source_of(value)
            self.values[name] = evaluate(text, self) if text is not None else value
        except ExprError:
            self.failed.add(name)
            raise
        finally:
            self.resolving.pop()
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


class Chain(Mapping):
    """Block parameters in front of the spec's vars."""

    def __init__(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> None:
        self.first, self.second = first, second

    def __getitem__(self, key: str) -> Any:
        return self.first[key] if key in self.first else self.second[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.second), **dict.fromkeys(self.first)})

    def __len__(self) -> int:
        return len(set(self.first) | set(self.second))
