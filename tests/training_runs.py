"""Launching `luke train` from tests: alone, under torchrun (one node or two simulated nodes), killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil  # a DeepSpeed dependency

from pretraining.metrics_log import read_metrics

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "train" / "tiny.yaml"
FAULT_INJECTION = Path(__file__).with_name("fault_injection.py")
MULTINODE_SCRIPT = ROOT / "launch" / "train" / "torchrun_multinode.sh"


def tiny_overrides(corpus: Path, run_dir: Path, **fields) -> list[str]:
    """Overrides of configs/train/tiny.yaml for a short test run; ``fields`` use __ for dots."""
    values = {
        "data.corpus": corpus,
        "run_dir": run_dir,
        "data.num_workers": 0,
        "logging.progress_bar": "false",
        "logging.every_steps": 1,
        "batch.global_batch_size": 8,
        "batch.micro_batch_size": 4,
        "schedule.warmup_steps": 2,
        "eval.every_steps": 0,
    }
    values.update({name.replace("__", "."): value for name, value in fields.items()})
    return [f"{name}={value}" for name, value in values.items()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def single_process(overrides: list[str], fault: str | None = None) -> list[str]:
    entry = [str(FAULT_INJECTION)] if fault else ["-m", "luke.cli"]
    return [sys.executable, *entry, "train", "--config", str(TINY), *overrides]


def torchrun(overrides: list[str], nproc: int, port: int, nnodes: int = 1, node_rank: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nnodes}",
        f"--node_rank={node_rank}",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "-m",
        "luke.cli",
        "train",
        "--config",
        str(TINY),
        *overrides,
    ]


def run(command: list[str], env: dict[str, str], fault: str | None = None, timeout: int = 300):
    env = {**env, "LUKE_TEST_FAULT": fault} if fault else env
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def run_ok(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = run(command, env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def run_two_nodes(overrides: list[str], env: dict[str, str]) -> None:
    """launch/train/torchrun_multinode.sh started twice (NNODES=2, one rank per node) on 127.0.0.1, as it would
    be started on two nodes; ``env`` must find torchrun on PATH (``deepspeed_cpu_env`` does)."""
    port = free_port()
    nodes = [
        subprocess.Popen(
            ["bash", str(MULTINODE_SCRIPT), str(TINY), *overrides],
            env={
                **env,
                "NNODES": "2",
                "NODE_RANK": str(rank),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "GPUS_PER_NODE": "1",
            },
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    for node, output in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, output[-5000:]


def run_until_step(command: list[str], env: dict[str, str], run_dir: Path, step: int, send: signal.Signals):
    """Start ``command`` in a session of its own; once ``step`` is logged, send ``send`` at once: SIGKILL to
    the launcher and all its descendants (a lost node), SIGTERM to the process group of each rank, i.e. the
    rank and its DataLoader workers (SLURM preemption signals every process of a task, Ctrl-C a whole group;
    torchrun starts each rank in its own session). Returns the finished process, its output and the
    processes signalled."""
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    signalled: list[psutil.Process] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if any(record["step"] >= step for record in read_metrics(run_dir, "train")):
            launcher = psutil.Process(process.pid)
            descendants = launcher.children(recursive=True)
            if send == signal.SIGKILL:
                signalled = [*descendants, launcher]
                for target in signalled:
                    target.send_signal(send)
            else:
                groups = {os.getpgid(rank.pid) for rank in launcher.children()} - {os.getpgid(process.pid)}
                signalled = [target for target in descendants if os.getpgid(target.pid) in groups]
                for group in groups:
                    os.killpg(group, send)
            break
        time.sleep(0.02)
    output = process.communicate(timeout=300)[0]
    return process, output, signalled


def train_losses(run_dir: Path) -> dict[int, float]:
    return {record["step"]: record["loss"] for record in read_metrics(run_dir, "train")}
