"""Pieces of generated modules shared by the network writer and the block class writer.

`forward_lines` writes a forward method from a list of statements; `assign` and `attribute`
spell a submodule in ``__init__`` and ``forward``; `sequential` writes ``nn.Sequential(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archc.emit.codegen import Namespace, ident

INDENT = "    "


@dataclass(frozen=True)
class Statement:
    """One forward statement: the value it defines, the values it reads, its expression."""

    output: str
    inputs: tuple[str, ...]
    render: Callable[[list[str]], str]  # variable names of the inputs -> expression
    comment: str
    label: str = ""  # what to call its variable, if it needs one (default: from `output`)
    fresh: bool = False  # its value is a new tensor no backward reads: it may be overwritten
    sums: bool = False  # it adds its inputs, and may accumulate into a fresh one of them
    # Its expression when its one input is a fresh value read by nothing else (an activation
    # in place), if it has such a form.
    overwrite: Callable[[list[str]], str] | None = None


def forward_lines(
    inputs: Sequence[str],
    statements: list[Statement],
    outputs: Sequence[str],
    input_names: dict[str, str] | None = None,
) -> list[str]:
    """A forward method: one statement per value, its shape (or channels) as a comment."""
    var, ns = _variables(inputs, statements, outputs, input_names or {})
    # A value passed twice is read through its first parameter; the second goes unused.
    params = ", ".join(
        f"{var[n] if n not in inputs[:i] else ns.name('unused')}: torch.Tensor"
        for i, n in enumerate(inputs)
    )
    returns = [var[n] for n in outputs]
    out_type = (
        "torch.Tensor"
        if len(returns) == 1
        else f"tuple[{', '.join(['torch.Tensor'] * len(returns))}]"
    )
    lines = [f"{INDENT}def forward(self, {params}) -> {out_type}:"]
    accumulators, overwriters = _in_place(statements, outputs)
    for k, statement in enumerate(statements):
        args = [var[n] for n in statement.inputs]
        render = statement.render
        if k in accumulators:  # `out += identity`, as torchvision writes a residual add
            total = args.pop(accumulators[k])
            lines += [f"{INDENT * 2}{total} += {arg}" for arg in args]
            args = [total]
        elif k in overwriters and statement.overwrite is not None:
            render = statement.overwrite
        expr = render(args)
        target = var[statement.output]
        if k in accumulators and expr == args[0]:
            var[statement.output] = expr  # the sum stays where it was accumulated
        elif expr != target:
            lines.append(f"{INDENT * 2}{target} = {expr}  # {statement.comment}")
    lines.append(f"{INDENT * 2}return {', '.join(var[n] for n in outputs)}")
    return lines


def _in_place(
    statements: list[Statement], outputs: Sequence[str]
) -> tuple[dict[int, int], set[int]]:
    """The statements that can work in place on an operand: the sums (statement -> operand
    that holds the sum) and the activations that overwrite their input.

    The operand must be a fresh value read by nothing else. Floating-point addition is
    commutative, so with two operands either may hold the sum; with more, only the first keeps
    the order of the additions.
    """
    fresh = {s.output for s in statements if s.fresh}
    readers: dict[str, int] = dict.fromkeys(outputs, 1)
    for statement in statements:
        for name in statement.inputs:
            readers[name] = readers.get(name, 0) + 1
    chosen: dict[int, int] = {}
    overwriters = {
        k
        for k, s in enumerate(statements)
        if s.overwrite is not None
        and len(s.inputs) == 1
        and s.inputs[0] in fresh
        and readers[s.inputs[0]] == 1
    }
    for k, statement in enumerate(statements):
        operands = statement.inputs
        if not statement.sums or len(operands) < 2 or len(set(operands)) < len(operands):
            continue
        for i in (0, 1) if len(operands) == 2 else (0,):
            if operands[i] in fresh and readers[operands[i]] == 1:
                chosen[k] = i
                break
    return chosen, overwriters


def _variables(
    inputs: Sequence[str],
    statements: list[Statement],
    outputs: Sequence[str],
    input_names: dict[str, str],
) -> tuple[dict[str, str], Namespace]:
    """The variable that holds each value, and the namespace that handed the names out.

    A value lives in `x` when its only use is the very next statement (a chain); a value used
    elsewhere, or later, gets a variable named after its layer. The first input is always
    `x`; if it is needed beyond the first statement it stays there and the chain runs in
    `out`, as torchvision's blocks are written.
    """
    producers = [*inputs, *(s.output for s in statements)]
    uses: dict[str, list[int]] = {name: [] for name in producers}
    for k, statement in enumerate(statements):
        for name in statement.inputs:
            uses[name].append(len(inputs) + k)
    for name in outputs:
        uses[name].append(len(producers))

    first = inputs[0]
    chain = "x" if uses[first] == [1] else "out"
    ns = Namespace()
    var: dict[str, str] = {first: "x"}
    labels = {s.output: s.label for s in statements if s.label}
    for position, name in enumerate(producers[1:], start=1):
        local = input_names.get(name) or labels.get(name) or name.rsplit(".", 1)[-1]
        chained = uses[name] == [position + 1]
        var[name] = chain if chained else ns.name(local if not local.isdigit() else "y")
    return var, ns


def sequential(modules: list[str]) -> str:
    """``nn.Sequential(...)``, one child per line; multi-line children stay aligned.

    Written at indentation 0: `assign` indents the continuation lines to where it is used.
    """
    if len(modules) == 1 and "\n" not in modules[0]:
        return f"nn.Sequential({modules[0]})"
    inner = "".join("\n" + _indent(f"{m},", INDENT) for m in modules)
    return f"nn.Sequential({inner}\n)"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def _continue(text: str, prefix: str) -> str:
    """Indent every line of `text` but the first (which follows code already on its line)."""
    first, *rest = text.split("\n")
    return "\n".join([first, *(prefix + line for line in rest)])


def attribute(name: str) -> str:
    """``self.conv1``, or ``getattr(self, "0")`` for a numbered child."""
    return f"self.{ident(name)}" if not name.isdigit() else f'getattr(self, "{int(name)}")'


def assign(name: str, expr: str) -> str:
    expr = _continue(expr, INDENT * 2)
    if name.isdigit():
        return f'{INDENT * 2}self.add_module("{int(name)}", {expr})'
    return f"{INDENT * 2}self.{ident(name)} = {expr}"
