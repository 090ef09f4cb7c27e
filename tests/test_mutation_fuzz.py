"""Mutation fuzzing of the example specs: archc must answer every mutant with exit 0, 1 or 2.

Each spec in architectures/ is mutated at the text level (lines deleted, duplicated, swapped or
re-indented; characters from YAML's syntax deleted or inserted; numbers replaced by 0, -1, huge
or fractional values; words replaced by other layer types, keys and option words; lines spliced
in from other specs) and checked in-process with ``archc.cli.main(["check", path])``.

The promise: the return code is 0, 1 or 2, never 3 (internal error), and no traceback is
printed. Every mutant is deterministic: its random generator is seeded with the spec's name and
the mutant's number, so a failure report names a mutant that can be rebuilt with `mutant()`.

Modes (environment variables):

* default: about 600 mutants in all, for CI (well under a minute);
* ``ARCHC_FUZZ=long``: 2,500 mutants per spec;
* ``ARCHC_FUZZ_N=<n>``: n mutants per spec.

A summary (mutants run, accepted, rejected by exit code and by error code, slowest mutants)
is printed (visible with ``pytest -s``) and written as JSON to ``ARCHC_FUZZ_REPORT`` if set, else
to ``fuzz_summary.json`` in pytest's base temporary directory.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import random
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPECS = sorted((REPO / "architectures").glob("*.yaml"))
SPEC_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SPECS}

MODE = os.environ.get("ARCHC_FUZZ", "short")
if os.environ.get("ARCHC_FUZZ_N"):
    PER_SPEC = int(os.environ["ARCHC_FUZZ_N"])
elif MODE == "long":
    PER_SPEC = 2_500
else:
    PER_SPEC = max(25, 600 // max(1, len(SPECS)))

MUTANT_TIMEOUT = 20.0  # CPU seconds for one in-process check before the mutant counts as hung
SLOW = 2.0  # mutants that take more CPU seconds than this are listed in the summary

CHARS = "{}[],:-'\"&*!#|>\t\n0123456789$"
NUMBERS = [
    "0", "-1", "-3", "1", "2.5", "1e-3", "1e3", ".5", "1000000000000", "1000000000",
    "10000000000000000000000000000000000000000", ".inf", "-.inf", ".nan", "0x10", "0o17",
    "1_000", "-0", "1e400", "true", "null", "no", '""', "[]", "{}", "[0, 0]", "${1/0}",
    "${2**10**10}", "${10**18}", "$nope", "${__import__('os')}",
]  # fmt: skip
LAYER_TYPES = [
    "conv", "conv_transpose", "pool", "dense", "flatten", "reshape", "activation", "batchnorm",
    "dropout", "identity", "add", "multiply", "concat", "upsample",
]  # fmt: skip
KEYS = [
    "name", "type", "inputs", "filters", "kernel", "stride", "padding", "dilation", "groups",
    "bias", "units", "rate", "eps", "momentum", "mode", "output", "scale", "size", "axis",
    "shape", "fn", "activation", "when", "repeat", "first", "params", "layers", "blocks",
    "vars", "input", "outputs", "archc", "description", "output_padding", "ceil",
]  # fmt: skip
WORDS = [
    "same", "valid", "global", "relu", "softmax", "max", "avg", "nearest", "bilinear", "true",
    "false", "yes", "no", "null", "input", "self", "__class__", "class", "forward", "super",
    "int", "float", "list", "any", "x", "$x", "${x}",
]  # fmt: skip
TAGGED = [
    "!!int six", "!!float half", "!!bool maybe", "!!str 3", "!!null 1", "!foo 1", "!!map 1",
    "!!python/name:os.system", "&a [*a]", "*undefined", "|\n  text", ">-", "'", '"\\q"',
]  # fmt: skip
BINARY_OPS = [
    "+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@", "and", "or", "<",
    "<=", "==", "!=", ">", ">=", "in", "not in", "is", "is not",
]  # fmt: skip
UNARY_OPS = ["-", "+", "~", "not "]
ATOMS = ["0", "1", "2", "3", "-1", "2.5", "1e308", "10**18", "True", "None", "'a'", "[1, 2]", "()"]
VALUE = re.compile(r"(?<=[{,\s])([A-Za-z_][A-Za-z0-9_]*): ([^,}\]\n#]+)")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"(?<![A-Za-z_0-9.])-?\d+(?:\.\d+)?(?![A-Za-z_0-9])")


# -- mutations -------------------------------------------------------------------------------

Mutation = Callable[[random.Random, str], str]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def delete_line(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "".join(lines)


def delete_lines(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    del lines[i : i + rng.randint(2, 6)]
    return "".join(lines)


def duplicate_line(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return "".join(lines)


def duplicate_lines(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    chunk = lines[i : i + rng.randint(2, 5)]
    return "".join(lines[: i + len(chunk)] + chunk + lines[i + len(chunk) :])


def swap_lines(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def reindent_line(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    stripped = lines[i].lstrip(" ")
    indent = len(lines[i]) - len(stripped)
    new = max(0, indent + rng.choice([-4, -2, -1, 1, 2, 4]))
    lines[i] = rng.choice([" " * new, "\t" * (new // 2 or 1)]) + stripped
    return "".join(lines)


def delete_chars(rng: random.Random, text: str) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + text[i + rng.choice([1, 1, 1, 2, 3, 8]) :]


def delete_syntax_char(rng: random.Random, text: str) -> str:
    spots = [i for i, c in enumerate(text) if c in CHARS]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1 :]


def insert_chars(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    junk = "".join(rng.choice(CHARS) for _ in range(rng.choice([1, 1, 2, 3, 5])))
    return text[:i] + junk + text[i:]


def replace_number(rng: random.Random, text: str) -> str:
    spots = list(NUMBER.finditer(text))
    if not spots:
        return text
    m = rng.choice(spots)
    return text[: m.start()] + rng.choice(NUMBERS) + text[m.end() :]


def replace_word(rng: random.Random, text: str) -> str:
    spots = list(WORD.finditer(text))
    if not spots:
        return text
    m = rng.choice(spots)
    local = [w.group() for w in spots]  # names from this spec: blocks, layers, vars
    pool = rng.choice([LAYER_TYPES, KEYS, WORDS, local])
    return text[: m.start()] + rng.choice(pool) + text[m.end() :]


def random_expression(rng: random.Random, names: list[str], depth: int = 0) -> str:
    """A small Python-like expression, in and outside the spec expression language."""
    roll = rng.random()
    if depth >= 3 or roll < 0.3:
        return rng.choice(ATOMS + names) if names else rng.choice(ATOMS)
    sub = lambda: random_expression(rng, names, depth + 1)  # noqa: E731
    if roll < 0.65:
        return f"({sub()} {rng.choice(BINARY_OPS)} {sub()})"
    if roll < 0.75:
        return f"{rng.choice(UNARY_OPS)}{sub()}"
    if roll < 0.85:
        return f"({sub()} if {sub()} else {sub()})"
    fn = rng.choice(["min", "max", "abs", "len", "int", "pow"])
    return f"{fn}({', '.join(sub() for _ in range(rng.randint(0, 3)))})"


def replace_value(rng: random.Random, text: str) -> str:
    """Replace the value of a `key: value` pair with a hostile value or an expression."""
    spots = list(VALUE.finditer(text))
    if not spots:
        return text
    m = rng.choice(spots)
    names = sorted({w.group(1) for w in VALUE.finditer(text)})
    roll = rng.random()
    if roll < 0.5:
        value = '"${' + random_expression(rng, names).replace('"', "'") + '}"'
    elif roll < 0.75:
        value = rng.choice(TAGGED)
    else:
        value = rng.choice(NUMBERS + WORDS + LAYER_TYPES)
    return text[: m.start(2)] + value + text[m.end(2) :]


def swap_words(rng: random.Random, text: str) -> str:
    spots = list(WORD.finditer(text))
    if len(spots) < 2:
        return text
    a, b = sorted(rng.sample(spots, 2), key=lambda m: m.start())
    return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]


def truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def splice_other_spec(rng: random.Random, text: str) -> str:
    other = _lines(SPEC_TEXTS[rng.choice(sorted(SPEC_TEXTS))])
    lines = _lines(text)
    i = rng.randrange(len(other))
    chunk = other[i : i + rng.randint(1, 4)]
    j = rng.randrange(len(lines) + 1)
    return "".join(lines[:j] + chunk + lines[j:])


MUTATIONS: list[Mutation] = [
    delete_line, delete_lines, duplicate_line, duplicate_lines, swap_lines, reindent_line,
    delete_chars, delete_syntax_char, insert_chars, replace_number, replace_number,
    replace_word, replace_word, swap_words, truncate, splice_other_spec, replace_value,
    replace_value, replace_value,
]  # fmt: skip


def mutant(spec: str, index: int) -> tuple[str, list[str]]:
    """Mutant number `index` of spec `spec` (a file name in architectures/), and its recipe."""
    rng = random.Random(f"{spec}:{index}")
    text = SPEC_TEXTS[spec]
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5])):
        mutation = rng.choice(MUTATIONS)
        text = mutation(rng, text)
        steps.append(mutation.__name__)
    return text, steps


# -- running archc in-process --------------------------------------------------------------


class MutantTimeout(BaseException):
    """Raised by the alarm: a BaseException, so archc's `except Exception` does not eat it."""


def _on_alarm(signum, frame):
    raise MutantTimeout()


def check_in_process(path: Path) -> tuple[int | None, str, float]:
    """``archc check path`` in this process: (return code or None if hung, output, CPU seconds).

    The alarm counts this process's CPU time (ITIMER_PROF), so a loaded machine cannot make an
    honest check look hung."""
    from archc.cli import main

    out = io.StringIO()
    start = time.process_time()
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    signal.setitimer(signal.ITIMER_PROF, MUTANT_TIMEOUT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc: int | None = main(["check", str(path)])
            except SystemExit as exc:  # argparse; cannot happen with these arguments
                rc = exc.code if isinstance(exc.code, int) else 2
    except MutantTimeout:
        rc = None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    return rc, out.getvalue(), time.process_time() - start


# -- the test --------------------------------------------------------------------------------

_SUMMARY: dict[str, dict] = {}


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    yield _SUMMARY
    totals = collections.Counter()
    codes = collections.Counter()
    for spec in _SUMMARY.values():
        totals.update(spec["exit"])
        codes.update(spec["codes"])
    report = {
        "mode": MODE,
        "mutants_per_spec": PER_SPEC,
        "mutants": sum(totals.values()),
        "accepted": totals.get("0", 0),
        "rejected_invalid_spec": totals.get("1", 0),
        "rejected_usage": totals.get("2", 0),
        "internal_errors": totals.get("3", 0),
        "hung": totals.get("hung", 0),
        "error_codes": dict(sorted(codes.items())),
        "specs": _SUMMARY,
    }
    target = Path(
        os.environ.get("ARCHC_FUZZ_REPORT") or tmp_path_factory.getbasetemp() / "fuzz_summary.json"
    )
    target.write_text(json.dumps(report, indent=2))
    print(
        f"\nmutation fuzz ({MODE}): {report['mutants']} mutants, {report['accepted']} accepted, "
        f"{report['rejected_invalid_spec']} rejected as invalid (exit 1), "
        f"{report['rejected_usage']} exit 2, {report['internal_errors']} internal errors, "
        f"{report['hung']} hung; error codes {report['error_codes']}; "
        f"report: {target}"
    )


def problem_of(rc: int | None, output: str) -> str | None:
    """What is wrong with archc's answer to a mutant, or None: exit 0, 1 or 2, no traceback."""
    if "Traceback" in output:
        return "traceback printed"
    if rc is None:
        return f"hung for over {MUTANT_TIMEOUT} s"
    if rc == 3:
        return "internal error (exit 3)"
    if rc not in (0, 1, 2):
        return f"exit code {rc}"
    return None


@pytest.mark.parametrize("spec", sorted(SPEC_TEXTS))
def test_mutants_get_a_clean_answer(spec: str, tmp_path: Path, monkeypatch, summary):
    monkeypatch.delenv("ARCHC_DEBUG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    exits: collections.Counter = collections.Counter()
    codes: collections.Counter = collections.Counter()
    slow: list[tuple[float, int]] = []
    failures: list[str] = []
    path = tmp_path / spec
    for index in range(PER_SPEC):
        text, steps = mutant(spec, index)
        path.write_text(text, encoding="utf-8")
        rc, output, seconds = check_in_process(path)
        exits["hung" if rc is None else str(rc)] += 1
        codes.update(set(re.findall(r"error\[(E\d+)\]", output)))
        if seconds > SLOW:
            slow.append((round(seconds, 2), index))
        problem = problem_of(rc, output)
        if problem:
            kept = tmp_path / f"failure_{index}.yaml"
            kept.write_text(text, encoding="utf-8")
            failures.append(
                f"mutant({spec!r}, {index}) {steps}: {problem}; saved as {kept}\n"
                + "\n".join("    " + line for line in output.splitlines()[:6])
            )
    _SUMMARY[spec] = {
        "mutants": PER_SPEC,
        "exit": dict(exits),
        "codes": dict(codes),
        "slowest": sorted(slow, reverse=True)[:5],
    }
    assert not failures, f"{len(failures)} of {PER_SPEC} mutants broke archc:\n" + "\n".join(
        failures[:10]
    )


def test_mutants_are_deterministic_and_varied():
    spec = sorted(SPEC_TEXTS)[0]
    assert mutant(spec, 7) == mutant(spec, 7)
    texts = {mutant(spec, i)[0] for i in range(50)}
    assert len(texts) > 40
    assert SPEC_TEXTS[spec] not in texts or len(texts) > 45
