"""archc benchmarks (`make bench`): measured figures next to their targets, ratios from one run.

  a. `archc check architectures/lenet5.yaml` as a whole process vs `python -c "import torch"`
     (interleaved repetitions; medians), with an import-time breakdown of `archc check`.
  b. `archc.analyse` on generated sequential chains of 100, 1,000 and 10,000 layers
     (conv padding same / batchnorm / relu), and separately the load + validate time.
  b2. `archc check` of 1,000 / 10,000 / 50,000-layer chains as whole processes (time, peak
     memory), and the per-layer time of the in-process pipeline at 1,000 and 50,000 layers.
  c. forward time of `archc.to_torch(lenet5)` vs a hand-written LeNet-5 with the same weights,
     batch 1 and 256, one thread, eval mode, no_grad (interleaved repetitions; medians).
  d. ResNet-50 and MobileNetV2 from `archc.to_torch` vs torchvision-style hand-written twins
     (benchmarks/twins.py) with the same weights: forward at batch 1 and 16 (eval, no_grad)
     and an SGD training step at batch 8, one thread (interleaved repetitions; medians).

Machines are shared and noisy: every figure is the median of repeated runs (min shown too), and
every ratio compares figures measured in this same run. The exit code is 0 even when a target
is missed: this is a report, and missed targets are printed as MISSED.
"""

from __future__ import annotations

import gc
import importlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
LENET = "architectures/lenet5.yaml"

# Measure the working tree: put the repository first on sys.path (as `python -m` does from the
# repository root), so `import archc` is this checkout's package whatever the install state.
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))

ROWS: list[tuple[str, str, str, bool | None]] = []  # metric, measured, target, ok (None: info)


def row(metric: str, measured: str, target: str = "-", ok: bool | None = None) -> None:
    ROWS.append((metric, measured, target, ok))


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 92 - len(title)))


# -- a. CLI process time ---------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
    return elapsed


def importtime(cmd_args: list[str], env: dict[str, str]) -> list[tuple[int, str, int]]:
    """(depth, module, cumulative us) for each line of `python -X importtime ...`."""
    proc = _run([sys.executable, "-X", "importtime", *cmd_args], env)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        name = parts[2]
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((depth, name.strip(), int(parts[1])))
    return rows


CLI_COMMANDS = {
    "archc check": [sys.executable, "-m", "archc", "check", LENET],
    "import torch": [sys.executable, "-c", "import torch"],
    "python -c pass": [sys.executable, "-c", "pass"],
}


def _check_cli_works(cmd: list[str], env: dict[str, str]) -> None:
    first = _run(cmd, env)
    if first.returncode != 0 or not first.stdout.startswith("OK"):
        raise RuntimeError(f"archc check failed: {first.stdout}{first.stderr}")
    print(f"archc check prints: {first.stdout.strip()}")


def time_interleaved(
    commands: dict[str, list[str]], env: dict[str, str], reps: int
) -> dict[str, list[float]]:
    """Wall times of each command over `reps` rounds, the order rotated every round.

    One untimed run of each command first warms the page cache and the .pyc files.
    """
    for cmd in commands.values():
        _timed(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for i in range(reps):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate the order
        for name in order:
            times[name].append(_timed(commands[name], env))
    return times


def _report_cli_times(times: dict[str, list[float]], reps: int) -> None:
    print(f"{reps} interleaved repetitions each (wall time of the whole process):")
    for name, values in times.items():
        print(
            f"  {name:<16} median {ms(median(values)):>10}   min {ms(min(values)):>10}   "
            f"max {ms(max(values)):>10}"
        )
    check, torch_ = median(times["archc check"]), median(times["import torch"])
    bare = median(times["python -c pass"])
    ratio = check / torch_
    ratio_min = min(times["archc check"]) / min(times["import torch"])
    print(f"  ratio check / import torch: {ratio:.3f} (medians), {ratio_min:.3f} (mins)")
    print(f"  interpreter start-up alone (python -c pass): {ms(bare)}")
    row("a. archc check, whole process (median)", ms(check))
    row("a. python -c 'import torch' (median)", ms(torch_))
    row("a. python -c pass (median, start-up floor)", ms(bare))
    row("a. check / import torch", f"{ratio:.3f}", "<= 0.10", ratio <= 0.10)


def importtime_runs(
    cmd_args: list[str], env: dict[str, str], runs: int = 3
) -> tuple[float, dict[str, list[int]], dict[str, list[int]]]:
    """Median total import time (us) over `runs` runs of `python -X importtime ...`, plus each
    top-level module's and each module's cumulative times (us), one entry per run."""
    measured = [importtime(cmd_args, env) for _ in range(runs)]
    cumulative: dict[str, list[int]] = {}
    top: dict[str, list[int]] = {}
    for rows in measured:
        for depth, name, cum in rows:
            cumulative.setdefault(name, []).append(cum)
            if depth == 0:
                top.setdefault(name, []).append(cum)
    total = median([sum(c for d, _, c in rows if d == 0) for rows in measured])
    return total, top, cumulative


def _report_importtime(
    total: float, top: dict[str, list[int]], cumulative: dict[str, list[int]]
) -> None:
    print(
        f"\nimport time of `archc check` (-X importtime, median of 3): total {total / 1e3:.1f} ms"
    )
    print("  top-level imports by cumulative time:")
    for name, values in sorted(top.items(), key=lambda kv: -median(kv[1]))[:5]:
        print(f"    {name:<32} {median(values) / 1e3:8.1f} ms")
    print("  notable packages (cumulative, where first imported):")
    for name in ("archc.analyse", "archc.layers", "archc.validate", "pydantic"):
        if name in cumulative:
            print(f"    {name:<32} {median(cumulative[name]) / 1e3:8.1f} ms")
    for name in ("yaml", "graphviz", "torch", "networkx"):
        value = (
            f"{median(cumulative[name]) / 1e3:8.1f} ms"
            if name in cumulative
            else "   (not imported)"
        )
        print(f"    {name:<32} {value}")
    row("a. import time inside archc check (median)", f"{total / 1e3:.1f} ms")


def bench_cli(reps: int = 15) -> None:
    header("a. `archc check` (whole process) vs `python -c 'import torch'` (whole process)")
    # As an installed package runs: compiled bytecode cached (the warm-up run writes it).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _check_cli_works(CLI_COMMANDS["archc check"], env)
    _report_cli_times(time_interleaved(CLI_COMMANDS, env, reps), reps)
    # Where the time of `archc check` goes: -X importtime, median of 3 runs per module.
    _report_importtime(*importtime_runs(["-m", "archc", "check", LENET], env, runs=3))


# -- b. analyse scaling ----------------------------------------------------------------------

CHAIN_LAYERS = (
    "{type: conv, filters: 8, kernel: 3, padding: same}",
    "{type: batchnorm}",
    "{type: activation, fn: relu}",
)


def chain_text(n: int) -> str:
    """A sequential spec of `n` layers that keeps every shape valid (8x16x16 throughout)."""
    lines = [
        "archc: 1",
        f"name: Chain{n}",
        "input: {shape: [8, 16, 16]}",
        "layers:",
        *(f"  - {CHAIN_LAYERS[i % 3]}" for i in range(n)),
    ]
    return "\n".join(lines) + "\n"


def chain_data(n: int) -> dict:
    kinds = (
        {"type": "conv", "filters": 8, "kernel": 3, "padding": "same"},
        {"type": "batchnorm"},
        {"type": "activation", "fn": "relu"},
    )
    layers = [dict(kinds[i % 3], name=f"l{i}") for i in range(n)]
    return {"archc": 1, "name": f"Chain{n}", "input": {"shape": [8, 16, 16]}, "layers": layers}


def repeat(fn: Callable[[], object], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _pipeline(stage: str) -> ModuleType:
    # importlib, not `import archc.load`: the package's `load` attribute is the function.
    return importlib.import_module(f"archc.{stage}")


def _chain_spec(n: int, text: str) -> tuple[object, bool]:
    """The chain's Spec and whether `archc.loads` made it (else it is built directly)."""
    import archc
    from archc.errors import SpecError

    try:
        return archc.loads(text), True
    except SpecError as exc:  # a size limit of the loader: build the Spec directly
        print(f"  loads() refused {n} layers ({exc}); building the Spec directly")
        return _pipeline("validate").Spec.model_validate(chain_data(n)), False


def time_loads(n: int, text: str, reps: int) -> list[str]:
    """Table cells of the parse, validate and whole-`loads()` medians."""
    import archc

    load_mod, expand_mod, validate_mod = map(_pipeline, ("load", "expand", "validate"))
    parse, validate, total = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        doc = load_mod.loads(text)
        t1 = time.perf_counter()
        validate_mod.validate(expand_mod.expand(doc))
        t2 = time.perf_counter()
        archc.loads(text)
        t3 = time.perf_counter()
        parse.append(t1 - t0)
        validate.append(t2 - t1)
        total.append(t3 - t2)
    row(f"b. loads() (parse + validate), {n:,} layers", ms(median(total)))
    return [ms(median(parse)), ms(median(validate)), ms(median(total))]


def time_spec_validate(n: int) -> list[str]:
    """Table cells for a chain `loads()` refused: Spec validation alone."""
    validate_mod, data = _pipeline("validate"), chain_data(n)
    validate = repeat(lambda data=data: validate_mod.Spec.model_validate(data), 3)
    return ["-", ms(median(validate)), "-"]


def time_analyse(spec: object, n: int, reps: int) -> tuple[list[float], list[float]]:
    """`archc.analyse(spec)` times with the garbage collector on, then off (after a warm-up)."""
    import archc

    assert len(archc.analyse(spec).nodes) == n
    archc.analyse(spec)  # warm-up
    with_gc = repeat(lambda spec=spec: archc.analyse(spec), reps)
    gc.collect()
    gc.disable()
    try:
        without_gc = repeat(lambda spec=spec: archc.analyse(spec), reps)
    finally:
        gc.enable()
    return with_gc, without_gc


def measure_chain(n: int, reps: int, load_reps: int) -> tuple[float, float]:
    """One table line and its rows for a chain of `n` layers; the median analyse times of `n`
    layers with the garbage collector on and off."""
    text = chain_text(n)
    spec, from_loads = _chain_spec(n, text)
    load_cells = time_loads(n, text, load_reps) if from_loads else time_spec_validate(n)
    with_gc, without_gc = time_analyse(spec, n, reps)
    t_gc, t_nogc = median(with_gc), median(without_gc)
    print(
        f"{n:>7,} | {len(text):>10,} | {load_cells[0]:>10} | {load_cells[1]:>10} | "
        f"{load_cells[2]:>10} | {ms(t_gc):>10} | {ms(min(with_gc)):>10} | "
        f"{us(t_gc / n):>10} | {ms(t_nogc):>15}"
    )
    if n == 10_000:
        row(f"b. analyse, {n:,} layers (median)", ms(t_gc), "< 1000 ms", t_gc < 1.0)
    else:
        row(f"b. analyse, {n:,} layers (median)", ms(t_gc))
    row(f"b. analyse per layer, {n:,} layers", us(t_gc / n))
    del spec
    gc.collect()
    return t_gc, t_nogc


def _report_growth(analyse_gc: dict[int, float], analyse_nogc: dict[int, float]) -> None:
    r_hi = analyse_gc[10_000] / analyse_gc[1_000]
    r_lo = analyse_gc[1_000] / analyse_gc[100]
    r_hi_nogc = analyse_nogc[10_000] / analyse_nogc[1_000]
    r_lo_nogc = analyse_nogc[1_000] / analyse_nogc[100]
    print(f"t(10k)/t(1k) = {r_hi:.1f}   t(1k)/t(100) = {r_lo:.1f}   (~10 means linear)")
    print(f"with the garbage collector off: {r_hi_nogc:.1f} and {r_lo_nogc:.1f}")
    row("b. t(10k) / t(1k) (10 is linear)", f"{r_hi:.1f}")
    row("b. t(1k) / t(100) (10 is linear)", f"{r_lo:.1f}")
    row("b. t(10k) / t(1k), gc disabled (diagnostic)", f"{r_hi_nogc:.1f}")
    calls = {n: analyse_calls(n) / n for n in (1_000, 10_000)}
    print(
        f"Python calls per layer in analyse: {calls[1_000]:.2f} at 1,000, "
        f"{calls[10_000]:.2f} at 10,000 layers (the work is linear; the time per layer grows "
        "with the working set: caches)"
    )
    ratio = calls[10_000] / calls[1_000]
    row("b. analyse work per layer, 10k / 1k (calls)", f"{ratio:.3f}", "<= 1.01", ratio <= 1.01)


def analyse_calls(n: int) -> int:
    """Python function calls of one `archc.analyse` of an `n`-layer chain (cProfile)."""
    import cProfile
    import pstats

    import archc

    spec = archc.loads(chain_text(n))
    profile = cProfile.Profile()
    profile.enable()
    archc.analyse(spec)
    profile.disable()
    return pstats.Stats(profile).total_calls


def bench_analyse() -> None:
    header("b. archc.analyse on sequential chains (conv same / batchnorm / relu)")
    reps = {100: 15, 1_000: 9, 10_000: 5}
    load_reps = {100: 7, 1_000: 5, 10_000: 3}
    analyse_gc: dict[int, float] = {}
    analyse_nogc: dict[int, float] = {}
    print(
        f"{'layers':>7} | {'YAML bytes':>10} | {'parse':>10} | {'validate':>10} | "
        f"{'loads()':>10} | {'analyse':>10} | {'min':>10} | {'per layer':>10} | "
        f"{'analyse, gc off':>15}"
    )
    for n in (100, 1_000, 10_000):
        analyse_gc[n], analyse_nogc[n] = measure_chain(n, reps[n], load_reps[n])
    _report_growth(analyse_gc, analyse_nogc)


def check_process(path: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one `archc check PATH` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "archc", "check", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"archc check of {path.name} failed: {proc.stderr[:500]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    # ru_maxrss of the children is the largest child so far: the chains grow, so it is this one.
    return wall, cpu, after.ru_maxrss / 1024


def bench_large(sizes: tuple[int, ...] = (1_000, 10_000, 50_000), reps: int = 3) -> None:
    header("b2. `archc check` of long chains, whole process (wall, CPU, peak memory)")
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"chain{n}.yaml"
            path.write_text(chain_text(n))
            runs = [check_process(path, env) for _ in range(reps)]
            wall, cpu = median([r[0] for r in runs]), median([r[1] for r in runs])
            rss = max(r[2] for r in runs)
            walls[n] = wall
            print(
                f"{n:>7,} layers ({path.stat().st_size / 1e6:.1f} MB): median {wall:.2f} s wall, "
                f"{cpu:.2f} s CPU, peak {rss:.0f} MB"
            )
            if n == sizes[-1]:
                row(f"b2. check {n:,} layers, whole process", f"{wall:.2f} s", "< 5 s", wall < 5)
                row(f"b2. check {n:,} layers, peak memory", f"{rss:.0f} MB", "< 500 MB", rss < 500)
    # Linear growth: the whole pipeline in this process (loads + analyse), time per layer.
    import archc

    per_layer = {}
    for n in (sizes[0], sizes[-1]):
        text = chain_text(n)
        times = repeat(lambda text=text: archc.analyse(archc.loads(text)), reps)
        per_layer[n] = median(times) / n
    small, large = sizes[0], sizes[-1]
    growth = per_layer[large] / per_layer[small]
    print(
        f"loads + analyse in process, per layer: {per_layer[small] * 1e6:.1f} us at {small:,}, "
        f"{per_layer[large] * 1e6:.1f} us at {large:,} layers (ratio {growth:.2f}; 1 is linear)"
    )
    row(
        f"b2. per-layer time, {large:,} / {small:,} layers",
        f"{growth:.2f}",
        "<= 1.5 (linear)",
        growth <= 1.5,
    )


# -- c. forward time ---------------------------------------------------------------------------


def hand_lenet5():  # -> nn.Module
    from torch import nn
    from torch.nn import functional as F

    class LeNet5(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.pool1 = nn.AvgPool2d(2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool2 = nn.AvgPool2d(2)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool1(F.relu(self.conv1(x)))
            x = self.pool2(F.relu(self.conv2(x)))
            x = x.flatten(1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return F.softmax(self.fc3(x), dim=1)

    return LeNet5()


def lenet_pair():  # -> (generated, hand): two nn.Modules in eval mode
    """`archc.to_torch(lenet5)` and the hand-written LeNet-5 carrying the same weights."""
    import archc

    generated = archc.to_torch(archc.load(ROOT / LENET))
    hand = hand_lenet5()
    gen_state, hand_keys = generated.state_dict(), list(hand.state_dict())
    if [v.shape for v in gen_state.values()] != [v.shape for v in hand.state_dict().values()]:
        raise RuntimeError("the hand-written LeNet-5's parameters do not match archc's")
    hand.load_state_dict(dict(zip(hand_keys, gen_state.values())))
    generated.eval()
    hand.eval()
    return generated, hand


def per_call(model, x, loops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        model(x)
    return (time.perf_counter() - t0) / loops


def _same_outputs(generated, hand, x, batch: int) -> bool:
    """True if the outputs are identical, False if only allclose; raises if they differ."""
    import torch

    out_gen, out_hand = generated(x), hand(x)
    equal = torch.equal(out_gen, out_hand)
    if not equal and not torch.allclose(out_gen, out_hand, rtol=1e-5, atol=1e-7):
        raise RuntimeError(f"outputs differ at batch {batch}")
    return equal


def time_forward(generated, hand, x, samples: int, loops: int) -> tuple[list[float], list[float]]:
    """Per-call times of each model: `samples` samples of `loops` calls, alternating which
    model goes first."""
    t_gen, t_hand = [], []
    for i in range(samples):
        if i % 2:
            t_gen.append(per_call(generated, x, loops))
            t_hand.append(per_call(hand, x, loops))
        else:
            t_hand.append(per_call(hand, x, loops))
            t_gen.append(per_call(generated, x, loops))
    return t_gen, t_hand


def _report_forward(
    batch: int, equal: bool, loops: int, t_gen: list[float], t_hand: list[float]
) -> None:
    ratio = median(t_gen) / median(t_hand)
    pair = median([g / h for g, h in zip(t_gen, t_hand)])
    print(
        f"batch {batch:>3}: outputs {'identical' if equal else 'allclose'}; "
        f"{len(t_gen)} interleaved samples x {loops} calls\n"
        f"  archc.to_torch  median {us(median(t_gen)):>12}   min {us(min(t_gen)):>12}\n"
        f"  hand-written    median {us(median(t_hand)):>12}   min {us(min(t_hand)):>12}\n"
        f"  ratio {ratio:.3f} (medians), {min(t_gen) / min(t_hand):.3f} (mins), "
        f"{pair:.3f} (median of paired ratios)"
    )
    row(f"c. forward batch {batch}, archc.to_torch (median)", us(median(t_gen)))
    row(f"c. forward batch {batch}, hand-written (median)", us(median(t_hand)))
    row(
        f"c. forward batch {batch}, to_torch / hand",
        f"{ratio:.3f}",
        "<= 1.02",
        ratio <= 1.02,
    )


def bench_forward(samples: int = 41, sample_seconds: float = 0.02) -> None:
    header("c. forward: archc.to_torch(lenet5) vs hand-written LeNet-5 (same weights)")
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generated, hand = lenet_pair()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
    with torch.no_grad():
        for batch in (1, 256):
            x = torch.randn(batch, 1, 32, 32)
            equal = _same_outputs(generated, hand, x, batch)
            for _ in range(20):  # warm-up
                generated(x)
                hand(x)
            loops = max(1, round(sample_seconds / per_call(hand, x, 10)))
            t_gen, t_hand = time_forward(generated, hand, x, samples, loops)
            _report_forward(batch, equal, loops, t_gen, t_hand)


# -- d. zoo models against torchvision-style twins -------------------------------------------


def zoo_pair(name: str):  # -> (generated, twin): same weights, train mode
    from twins import TWINS

    import archc

    generated = archc.to_torch(archc.load(ROOT / "architectures" / f"{name}.yaml"))
    twin = TWINS[name]()
    twin.load_state_dict(generated.state_dict(), strict=True)  # same keys, same shapes
    return generated, twin


def train_step(model, optimizer, x, y) -> None:
    import torch.nn.functional as F

    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def time_pair(first, second, samples: int) -> tuple[list[float], list[float]]:
    """Seconds per call of two zero-argument callables, `samples` each, alternating order."""
    t_first, t_second = [], []
    for i in range(samples):
        for fn, out in ((first, t_first), (second, t_second))[:: 1 if i % 2 else -1]:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return t_first, t_second


def _zoo_row(label: str, t_gen: list[float], t_twin: list[float]) -> None:
    """The median of the paired ratios (each sample against the twin's next to it) is the
    figure: it cancels the drift of a shared machine that medians of each side keep."""
    paired = median([g / t for g, t in zip(t_gen, t_twin)])
    print(
        f"  {label:<32} archc {ms(median(t_gen)):>10}   twin {ms(median(t_twin)):>10}   "
        f"paired {paired:.3f}, medians {median(t_gen) / median(t_twin):.3f}, "
        f"mins {min(t_gen) / min(t_twin):.3f}"
    )
    row(f"d. {label}, archc / twin", f"{paired:.3f}", "<= 1.01", paired <= 1.01)


def bench_zoo_models(samples: int = 21) -> None:
    header("d. generated ResNet-50 and MobileNetV2 vs torchvision-style twins (same weights)")
    import torch

    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; forward in eval mode under no_grad")
    for name in ("resnet50", "mobilenet_v2"):
        bench_zoo_model(name, samples)


def bench_zoo_model(name: str, samples: int) -> None:
    import torch

    torch.manual_seed(0)
    generated, twin = zoo_pair(name)
    generated.eval(), twin.eval()
    for batch in (1, 16):
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            if not torch.equal(generated(x), twin(x)):
                raise RuntimeError(f"{name}: outputs differ from the twin's")
            t_gen, t_twin = time_pair(
                partial(generated, x), partial(twin, x), samples if batch == 1 else 9
            )
        _zoo_row(f"{name} forward batch {batch}", t_gen, t_twin)
    x, y = torch.randn(8, 3, 224, 224), torch.randint(0, 1000, (8,))
    generated.train(), twin.train()
    steps = [
        partial(train_step, model, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9), x, y)
        for model in (generated, twin)
    ]
    t_gen, t_twin = time_pair(*steps, 9)
    _zoo_row(f"{name} training step batch 8", t_gen, t_twin)


# -- report ----------------------------------------------------------------------------------


def report() -> None:
    header("summary")
    width = max(len(r[0]) for r in ROWS)
    mwidth = max(len("measured"), *(len(r[1]) for r in ROWS))
    twidth = max(len("target"), *(len(r[2]) for r in ROWS))
    print(f"{'metric':<{width}} | {'measured':>{mwidth}} | {'target':<{twidth}} | ok?")
    print(f"{'-' * width}-+-{'-' * mwidth}-+-{'-' * twidth}-+-------")
    for metric, measured, target, ok in ROWS:
        verdict = "-" if ok is None else "ok" if ok else "MISSED"
        print(f"{metric:<{width}} | {measured:>{mwidth}} | {target:<{twidth}} | {verdict}")
    missed = [r for r in ROWS if r[3] is False]
    checked = [r for r in ROWS if r[3] is not None]
    print()
    if missed:
        for metric, measured, target, _ in missed:
            print(f"MISSED: {metric}: {measured} (target {target})")
        print(f"MISSED {len(missed)} of {len(checked)} targets")
    else:
        print(f"all {len(checked)} targets met")


def main() -> int:
    start = time.perf_counter()
    print(
        f"archc benchmarks: python {sys.version.split()[0]} ({sys.executable}), "
        f"{os.cpu_count()} CPUs, {ROOT}"
    )
    # bench_large first: it reads its children's peak memory, which covers every child so far.
    for part in (bench_large, bench_cli, bench_analyse, bench_forward, bench_zoo_models):
        try:
            part()
        except Exception as exc:  # report the failure, keep the other parts' figures
            print(f"\n{part.__name__} FAILED: {type(exc).__name__}: {exc}")
            row(f"{part.__name__}", "FAILED", "runs", False)
    report()
    print(f"\ntotal benchmark time {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
