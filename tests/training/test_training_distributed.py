"""archc.training.distributed: two gloo processes under torchrun take the single process's
steps, and `archc train --nproc` starts them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

import archc
from archc import cli
from archc.training import distributed

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_with_the_same_global_batch(split_npz, tmp_path) -> None:
    """The two processes are started as torchrun starts them (its environment variables),
    without torchrun's own launcher process: one interpreter less to start in CI."""
    spec = REPO / "architectures" / "lenet5.yaml"
    env = {
        **os.environ,
        **{"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"},
        **{"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "MASTER_PORT": str(free_port())},
    }
    command = [sys.executable, str(WORKER), str(spec), str(split_npz), str(tmp_path), "2", "20"]
    procs = [
        subprocess.Popen(
            command,
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for r in (0, 1)
    ]
    try:
        errors = [p.communicate(timeout=240)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], errors
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key, value in ranks[0].items():  # DDP keeps the replicas bit-identical
        assert torch.equal(value, ranks[1][key]), key
    # 240 training samples split evenly: every global batch of 20 is the single process's.
    single = archc.train(archc.load(spec), data=split_npz, epochs=2, batch=20, threads=1)
    state = single.model.state_dict()
    for key, value in ranks[0].items():
        torch.testing.assert_close(value, state[key], rtol=1e-4, atol=1e-5)
    assert not torch.equal(ranks[0]["c1.weight"], archc.to_torch(spec_graph(spec)).c1.weight)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # from rank 0 only
    assert all(torch.equal(saved["model"][k], v) for k, v in ranks[0].items())


def spec_graph(spec: Path) -> archc.Graph:
    return archc.analyse(archc.load(spec))


def test_nproc_relaunches_the_same_command_under_torchrun(small_npz, tmp_path, monkeypatch):
    seen = {}

    def fake_run(command: list[str], env: dict) -> subprocess.CompletedProcess:
        seen.update(command=command, env=env)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    args = ["train", "architectures/lenet5.yaml", "--data", str(small_npz), "--nproc", "2"]
    args += ["--epochs", "3", "--amp", "--out", str(tmp_path), "--set=layers.5.units=99"]
    assert cli.main(args) == 0
    assert seen["command"][:6] == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m",
    ]  # fmt: skip
    worker = seen["command"][6:]
    assert worker[:3] == ["archc", "train", "architectures/lenet5.yaml"]
    assert "--nproc" not in worker
    for expected in (["--epochs", "3"], ["--data", str(small_npz)], ["--out", str(tmp_path)]):
        assert any(worker[i : i + 2] == expected for i in range(len(worker))), expected
    assert "--amp" in worker and "--set=layers.5.units=99" in worker
    assert seen["env"]["OMP_NUM_THREADS"] in ("1", os.environ.get("OMP_NUM_THREADS"))


def test_nproc_checks_everything_before_starting_processes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    args = ["train", "architectures/lenet5.yaml", "--nproc", "2"]
    assert cli.main([*args, "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path)]) == 2
    assert "error[E601]" in capsys.readouterr().err
    assert cli.main([*args, "--batch", "33", "--out", str(tmp_path)]) == 2
    assert "--batch 33 does not split over 2 processes" in capsys.readouterr().err


def test_small_models_get_one_thread() -> None:
    assert distributed.threads_per_process(1, step_macs=13_000_000) == 1
    many = distributed.threads_per_process(1, step_macs=10**10)
    assert many == distributed.cpu_count()
    assert distributed.threads_per_process(2, step_macs=10**10) == max(1, many // 2)
