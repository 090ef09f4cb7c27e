"""Running archc as a user does, measured: ``python -m archc`` in a subprocess.

`run_archc` records the exit code, both streams, the CPU time and the peak memory (VmHWM of
the child's own image). The `assert_*` helpers state the product promise for bad input: a
known exit code, never a traceback or an internal error, a located and coded diagnostic in
text and JSON, within 2 s of CPU and 200 MB.

Work is bounded by CPU time, not by the wall clock: on a loaded machine the wall clock also
measures the other processes, while the CPU time a run needs barely moves. The wall clock only
catches hangs, with a limit far above any honest run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MAX_CPU_SECONDS = 2.0  # user + system time of the archc process
MAX_RSS_MB = 200
KILL_AFTER = 60.0  # wall seconds: a hung run is killed (and fails) after this long...
KILL_AFTER_TORCH = 300.0  # ...or this long for the verbs that import torch (build, diagram)
ADDRESS_SPACE_LIMIT = 4 << 30  # keeps a runaway child from taking the machine down


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    cwd: str | None
    rc: int | None  # None: killed after KILL_AFTER seconds
    out: str
    err: str
    seconds: float  # wall time
    cpu_seconds: float  # user + system time of the child
    rss_mb: float

    def describe(self) -> str:
        return (
            f"archc {' '.join(self.args)}\n  exit {self.rc}, {self.cpu_seconds:.2f} s of CPU "
            f"({self.seconds:.2f} s wall), "
            f"{self.rss_mb:.0f} MB\n  stdout: {self.out[:1500]!r}\n  stderr: {self.err[:1500]!r}"
        )


# `python -m archc`, and on exit the peak resident size of this process image (VmHWM, kB).
_BOOT = """
import atexit, os, sys

def _record_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["ARCHC_TEST_HWM"], "w") as out:
        out.write(peak)

atexit.register(_record_peak)
sys.argv[0] = "archc"
from archc.cli import main
sys.exit(main())
"""


def _child_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_archc(*args: str | os.PathLike, cwd: str | os.PathLike | None = None) -> Run:
    """``python -m archc ARGS`` in a subprocess, with its CPU time and peak RSS."""
    fd, hwm_path = tempfile.mkstemp()
    os.close(fd)
    argv = [sys.executable, "-c", _BOOT, *map(str, args)]
    limit = KILL_AFTER_TORCH if str(args[0]) in ("build", "diagram") else KILL_AFTER
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
            env=_child_env(hwm_path), preexec_fn=_child_limits,
        )  # fmt: skip
        rc, usage = _wait(proc, start + limit)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        hwm = Path(hwm_path).read_text().strip()
        os.unlink(hwm_path)
        return Run(
            tuple(map(str, args)),
            None if cwd is None else str(cwd),
            rc,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            usage.ru_utime + usage.ru_stime,
            # VmHWM of the child's own image; ru_maxrss would also count the pages it shared
            # with this (pytest) process between fork and exec. Killed runs fall back to it.
            (int(hwm) if hwm else usage.ru_maxrss) / 1024,
        )


def run_in_process(*args: str | os.PathLike, cwd: str | os.PathLike | None = None) -> Run:
    """``archc ARGS`` through `archc.cli.main` in this process (in `cwd`), its output
    captured: what a user sees, at a fraction of a process start's cost. Memory is not
    measured (rss_mb 0); `run_archc` measures it, and a crash of the interpreter itself."""
    from archc.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    start, cpu_start = time.monotonic(), time.process_time()
    os.chdir(cwd or previous)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in args])
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(previous)
    cpu = time.process_time() - cpu_start
    return Run(
        tuple(map(str, args)), None if cwd is None else str(cwd), rc, out.getvalue(),
        err.getvalue(), time.monotonic() - start, cpu, 0.0,
    )  # fmt: skip


def _child_env(hwm_path: str) -> dict[str, str]:
    """This checkout's archc on the path, no colour, the peak-memory file named."""
    import archc

    package_root = str(Path(archc.__file__).resolve().parent.parent)
    env = {**os.environ, "NO_COLOR": "1", "ARCHC_TEST_HWM": hwm_path}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.pop("ARCHC_DEBUG", None)
    return env


def _wait(proc: subprocess.Popen, deadline: float) -> tuple[int | None, resource.struct_rusage]:
    """Reap `proc` (exit code and resource usage), killing it at `deadline` (exit code None)."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            return proc.returncode, usage
        if time.monotonic() > deadline:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            return None, usage
        time.sleep(0.005)


def assert_no_crash(run: Run) -> None:
    assert run.rc is not None, f"archc did not finish: killed\n{run.describe()}"
    assert run.rc != 3, f"internal error (exit 3)\n{run.describe()}"
    assert run.rc >= 0, f"archc died from signal {-run.rc}\n{run.describe()}"
    for stream in (run.out, run.err):
        assert "Traceback" not in stream, run.describe()
        assert "internal error" not in stream, run.describe()


def assert_within_budget(
    run: Run, cpu_seconds: float = MAX_CPU_SECONDS, rss_mb: float = MAX_RSS_MB
) -> None:
    """Within 2 s of CPU and 200 MB, or the given bounds for the largest legal inputs."""
    assert run.cpu_seconds < cpu_seconds, f"took {run.cpu_seconds:.2f} s of CPU\n{run.describe()}"
    assert run.rss_mb < rss_mb, f"peak RSS {run.rss_mb:.0f} MB\n{run.describe()}"


def assert_text_error(run: Run, path: str, code: str | None, line: int | None) -> None:
    """Text diagnostics: ``error[CODE]`` somewhere, ``path:LINE:`` at the very start."""
    if code is None:
        return
    assert f"error[{code}]" in run.err, f"expected error[{code}]\n{run.describe()}"
    if run.rc == 1:
        assert re.match(rf"{re.escape(path)}(:\d+:\d+)?: error\[E\d+\]", run.err), run.describe()
    if line is not None:
        assert run.err.startswith(f"{path}:{line}:"), f"expected {path}:{line}:\n{run.describe()}"


def assert_json_error(run: Run, code: str, line: int | None) -> None:
    try:
        diagnostics = json.loads(run.out)
    except json.JSONDecodeError:
        pytest.fail(f"--format json printed no JSON\n{run.describe()}")
    assert isinstance(diagnostics, list) and diagnostics, run.describe()
    assert all(isinstance(d, dict) and {"code", "message", "line"} <= d.keys() for d in diagnostics)
    matching = [d for d in diagnostics if d["code"] == code]
    assert matching, f"no diagnostic with code {code}\n{run.describe()}"
    if line is not None:
        assert diagnostics[0]["line"] == line, run.describe()
