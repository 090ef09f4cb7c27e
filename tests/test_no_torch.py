"""Only `archc build` imports torch: check, summary, diagram and schema must start fast.

Each command runs in a fresh interpreter under ``python -X importtime``, which writes one line
per imported module to stderr (``import time: <self us> | <cumulative us> | <module>``); the
test reads the module names from those lines. `archc build` must import torch, which shows the
check can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "architectures" / "lenet5.yaml"


def imported_modules(*args: str | os.PathLike) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``python -X importtime -m archc ARGS``: the process and every module it imported."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ARCHC_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "archc", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    modules = set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line.split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # the header: "import time: self [us] | cumulative | imported package"
        modules.add(fields[2].strip())
    return proc, modules


def torch_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "torch" or m.startswith("torch."))


def _stderr_without_importtime(proc: subprocess.CompletedProcess) -> str:
    return "\n".join(
        line for line in proc.stderr.splitlines() if not line.startswith("import time:")
    )


COMMANDS = {
    "check": lambda tmp: ["check", LENET],
    "summary": lambda tmp: ["summary", LENET],
    "diagram": lambda tmp: ["diagram", LENET, "-o", tmp / "lenet5.dot"],
    "schema": lambda tmp: ["schema"],
    "explain": lambda tmp: ["explain", LENET],
    "memory": lambda tmp: ["memory", LENET, "--batch", "2"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_does_not_import_torch(command: str, tmp_path: Path) -> None:
    proc, modules = imported_modules(*COMMANDS[command](tmp_path))
    # The command must really have run: a crash before any work would import nothing.
    assert proc.returncode == 0, _stderr_without_importtime(proc)
    assert "archc.cli" in modules, "no importtime lines were read"
    assert torch_modules(modules) == [], f"`archc {command}` imported torch"
    if command == "diagram":
        assert (tmp_path / "lenet5.dot").read_text().startswith("digraph")


def test_build_imports_torch(tmp_path: Path) -> None:
    proc, modules = imported_modules("build", LENET, "-o", tmp_path)
    assert proc.returncode == 0, _stderr_without_importtime(proc)
    assert "torch" in torch_modules(modules)
    assert (tmp_path / "LeNet5.py").is_file()


WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # as if torch were not installed
from archc.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_build_without_torch_names_the_extra(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, "build", str(LENET), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "archc: error[E006]: `archc build` needs torch: pip install 'archc[torch]'\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_to_torch_without_torch_raises_a_clear_import_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import archc\n"
        f"spec = archc.load({str(LENET)!r})\n"
        "try:\n"
        "    archc.to_torch(spec)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "archc.to_torch needs torch: pip install 'archc[torch]'\n"
