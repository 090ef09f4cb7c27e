"""Hypothesis profiles and fixtures shared by the whole suite.

The "ci" profile (selected when the CI environment variable is set) runs fewer examples so the
suite stays fast on CI; "dev" runs more. Neither has a deadline: torch's first calls are slow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Run archc as an installed package runs: with its compiled bytecode cached. Where the
# environment says not to write bytecode, every `python -m archc` the tests start would
# compile archc's modules again (a tenth of a second of CPU each, over a thousand runs).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

import helpers  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def spec_text():
    """``spec_text(layers, input_shape, **kw)`` -> YAML spec text (see helpers.spec_text)."""
    return helpers.spec_text


@pytest.fixture
def cli():
    """``cli(*args, cwd=None)`` -> (returncode, stdout, stderr) of ``python -m archc``."""
    return helpers.run_cli


@pytest.fixture(scope="session")
def lenet_path() -> Path:
    return helpers.LENET


@pytest.fixture(scope="session")
def lenet_spec():
    import archc

    return archc.load(helpers.LENET)
