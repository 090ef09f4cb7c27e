"""Fuzzing: archc's static shapes, parameters and MACs must be what PyTorch really computes.

Hypothesis draws spec TEXT (the `fuzz` package, tests/fuzz/): every layer kind and option,
1-D/2-D/3-D inputs, DAGs with merges and several outputs, vars, expressions and blocks with
`repeat`, `first` and `when`; some specs are valid, some are broken on purpose. For each one
(tests/fuzz/checks.py):

* archc may reject it: then it must raise `SpecError` (nothing else), and every diagnostic must
  carry a known code (`archc.errors.CODES`) and, if it has a position, a real one.
* if archc accepts it, PyTorch must agree: `to_torch` builds the module, `check_shapes` runs
  every layer on a real batch and finds each output shape equal to the static one, the module's
  parameter count equals `graph.params` (and each layer's its node's), conv and dense MACs equal
  an independent count from the torch weights, and a training-mode forward runs. Any torch
  exception for an accepted spec is an archc bug: archc must reject what torch would reject.

Any discrepancy fails the test. The bugs the fuzzer found are pinned by the regression tests in
tests/test_fuzz_regressions.py.

Modes (environment variables):

* default / CI: 100-150 examples per test; the whole file runs in well under a minute.
* ``ARCHC_FUZZ=long``: thousands of examples, in survey mode: discrepancies are collected (the
  smallest spec for each kind of discrepancy) and reported together at the end instead of
  stopping at the first. ``ARCHC_FUZZ_FAIL_FAST=1`` stops and shrinks at the first instead.
* ``ARCHC_FUZZ_EXAMPLES=N`` overrides the number of examples per test.
* ``ARCHC_FUZZ_REPORT=path.json`` writes the counts and discrepancies as JSON.

Run ``pytest tests/test_fuzz_shapes.py -s`` to see the counts: specs drawn, accepted, rejected,
and rejections by error code.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from fuzz import Drawn, specs
from fuzz.checks import Outcome, Problem, check_text
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

LONG = os.environ.get("ARCHC_FUZZ", "").lower() == "long"
SURVEY = LONG and not os.environ.get("ARCHC_FUZZ_FAIL_FAST")


def examples(ci: int, long: int) -> int:
    if os.environ.get("ARCHC_FUZZ_EXAMPLES"):
        return int(os.environ["ARCHC_FUZZ_EXAMPLES"])
    return long if LONG else ci


# -- statistics ------------------------------------------------------------------------------


@dataclass
class Found:
    """One kind of discrepancy: how many specs showed it, and the smallest of them."""

    count: int
    text: str
    detail: str

    def keep_smaller(self, text: str, detail: str) -> None:
        if len(text) < len(self.text):
            self.text, self.detail = text, detail


@dataclass
class Stats:
    drawn: int = 0
    accepted: int = 0
    rejected: int = 0
    crashed: int = 0
    too_big: int = 0  # accepted, but too large to build in a test
    codes: Counter = field(default_factory=Counter)  # rejected specs by their first code
    all_codes: Counter = field(default_factory=Counter)  # every diagnostic
    unpositioned: Counter = field(default_factory=Counter)
    features: Counter = field(default_factory=Counter)
    oracle: Counter = field(default_factory=Counter)
    oracle_samples: dict = field(default_factory=dict)
    problems: dict[str, Found] = field(default_factory=dict)  # by signature

    def add(self, drawn: Drawn, out: Outcome) -> None:
        self.drawn += 1
        self.features.update(drawn.features)
        if out.accepted:
            self.accepted += 1
            self.too_big += out.too_big
        elif out.codes:
            self.rejected += 1
            self.codes[out.codes[0]] += 1
            self.all_codes.update(out.codes)
            self.unpositioned.update(out.unpositioned)
        else:
            self.crashed += 1
        self.add_verdicts(drawn, out)
        for problem in out.problems:
            self.add_problem(problem, drawn.text)

    def add_verdicts(self, drawn: Drawn, out: Outcome) -> None:
        """The generator's belief against archc's verdict (and the smallest surprises)."""
        verdict = "accepted" if out.accepted else "rejected"
        belief = "valid" if drawn.expect_valid else "invalid"
        self.oracle[f"generator said {belief}, archc {verdict}"] += 1
        if drawn.expect_valid and not out.accepted and out.codes:
            self.add_sample(f"said valid, archc {out.codes[0]}", drawn.text)

    def add_sample(self, key: str, text: str) -> None:
        old = self.oracle_samples.get(key)
        if old is None or len(text) < len(old):
            self.oracle_samples[key] = text

    def add_problem(self, problem: Problem, text: str, count: int = 1) -> None:
        found = self.problems.get(problem.signature)
        if found is None:
            self.problems[problem.signature] = Found(count, text, problem.detail)
        else:
            found.count += count
            found.keep_smaller(text, problem.detail)

    def merge(self, other: Stats) -> None:
        for name in ("drawn", "accepted", "rejected", "crashed", "too_big"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("codes", "all_codes", "unpositioned", "features", "oracle"):
            getattr(self, name).update(getattr(other, name))
        for sig, found in other.problems.items():
            self.add_problem(Problem(sig, found.detail), found.text, found.count)
        for key, text in other.oracle_samples.items():
            self.add_sample(key, text)

    def report(self, title: str, samples: bool = False) -> str:
        lines = [f"== archc fuzz: {title} ==", *self.count_lines()]
        if self.problems:
            lines.append(f"DISCREPANCIES ({len(self.problems)} kinds):")
            for sig, found in sorted(self.problems.items()):
                lines.append(f"- {sig}: {found.count} spec(s); smallest:")
                lines.append(textwrap.indent(f"detail: {found.detail}\n{found.text}", "    "))
        else:
            lines.append("no discrepancies")
        if samples and self.oracle_samples:
            lines.append("generator said valid but archc rejected (smallest of each):")
            for key, text in sorted(self.oracle_samples.items()):
                lines.append(textwrap.indent(f"{key}:\n{text}", "    "))
        return "\n".join(lines)

    def count_lines(self) -> list[str]:
        share = lambda n: f"{100 * n / max(1, self.drawn):.0f}%"  # noqa: E731
        counts = lambda c: ", ".join(f"{k}: {n}" for k, n in sorted(c.items()))  # noqa: E731
        lines = [
            f"specs drawn: {self.drawn}; accepted: {self.accepted} ({share(self.accepted)}); "
            f"rejected with SpecError: {self.rejected} ({share(self.rejected)}); "
            f"crashed/other: {self.crashed}; accepted but too big to build: {self.too_big}",
            "rejections by first error code: " + counts(self.codes),
            "all diagnostics by code: " + counts(self.all_codes),
        ]
        if self.unpositioned:
            lines.append("diagnostics without a position: " + counts(self.unpositioned))
        lines.append(
            "generator vs archc: " + ", ".join(f"{k}: {n}" for k, n in self.oracle.items())
        )
        lines.append("features: " + counts(self.features))
        return lines

    def to_json(self) -> dict:
        return {
            "drawn": self.drawn,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "crashed": self.crashed,
            "too_big": self.too_big,
            "codes": dict(self.codes),
            "all_codes": dict(self.all_codes),
            "unpositioned": dict(self.unpositioned),
            "oracle": dict(self.oracle),
            "oracle_samples": self.oracle_samples,
            "features": dict(self.features),
            "problems": {
                s: {"count": f.count, "text": f.text, "detail": f.detail}
                for s, f in self.problems.items()
            },
        }


TOTAL = Stats()


@pytest.fixture(scope="module", autouse=True)
def _fuzz_summary():
    # The tensors are tiny: one thread is ~100x faster than a contended thread pool.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if TOTAL.drawn:
        print("\n" + TOTAL.report("all fuzz tests", samples=LONG), flush=True)
        path = os.environ.get("ARCHC_FUZZ_REPORT")
        if path:
            Path(path).write_text(json.dumps(TOTAL.to_json(), indent=2))


def fuzz(strategy, n_ci: int, n_long: int, title: str, min_accepted: float = 0.0) -> Stats:
    """Run the property over `strategy`; print the counts; fail on any discrepancy."""
    stats = Stats()

    @settings(
        max_examples=examples(n_ci, n_long),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None if SURVEY else settings.default.database,
        print_blob=not SURVEY,
        report_multiple_bugs=False,
    )
    @given(strategy)
    def prop(drawn: Drawn) -> None:
        out = check_text(drawn.text)
        stats.add(drawn, out)
        if out.problems and not SURVEY:
            raise AssertionError(
                "archc and PyTorch disagree:\n"
                + "\n".join(f"- {p.signature}: {p.detail}" for p in out.problems)
                + "\nspec:\n"
                + drawn.text
            )

    try:
        prop()
    finally:
        TOTAL.merge(stats)
        print("\n" + stats.report(title), flush=True)
    assert not stats.problems, stats.report(title)
    if stats.drawn >= 40:
        assert stats.accepted >= min_accepted * stats.drawn, (
            f"the generator has degenerated: only {stats.accepted} of {stats.drawn} accepted"
        )
    return stats


# -- the fuzz tests --------------------------------------------------------------------------


def test_fuzz_mixed_specs():
    """Everything at once: graphs, blocks, every rank, some deliberate mistakes."""
    fuzz(specs(), 150, 8000, "mixed specs", min_accepted=0.2)


def test_fuzz_clean_graphs():
    """No deliberate mistakes: mostly valid DAGs, so the torch comparison gets many specs."""
    fuzz(specs(wild=0.0, blocks=False), 100, 4000, "clean graphs", min_accepted=0.4)


def test_fuzz_blocks():
    """Blocks with params, expressions, repeat, first and when."""
    fuzz(specs(blocks=True), 150, 6000, "blocks", min_accepted=0.15)


def test_fuzz_mistakes():
    """Many deliberate mistakes: archc must reject them with known codes and real positions."""
    fuzz(specs(wild=0.3), 100, 3000, "deliberate mistakes")
