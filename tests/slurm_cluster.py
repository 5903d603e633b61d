"""A real SLURM on 127.0.0.1 for tests: munged, slurmctld and two slurmd "nodes" (2 CPUs each), configured in a
temporary directory, every daemon stopped by its pid. Debian's slurm-wlm and munge (.ci/run installs them)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from training_runs import free_port

BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo")
SBIN = ("/usr/sbin", "/usr/bin")
NODES = ("node1", "node2")

CONFIG = """ClusterName=lukeci
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={controller_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobRequeue=1
MinJobAge=3600
"""
NODE = "NodeName={name} NodeHostname=localhost NodeAddr=127.0.0.1 Port={port} CPUs=2 State=UNKNOWN\n"
PARTITION = "PartitionName=debug Nodes={nodes} Default=YES MaxTime=INFINITE State=UP\n"


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if not _binary(name)]


def _binary(name: str) -> str | None:
    return shutil.which(name, path=":".join(SBIN))


@contextmanager
def slurm_cluster(root: Path) -> Iterator[dict[str, str]]:
    """Start the daemons; yields the environment variables that point SLURM's commands at them."""
    for directory in ("state", *(f"spool/{name}" for name in NODES)):
        (root / directory).mkdir(parents=True)
    subprocess.run([_binary("mungekey"), "-c", "-f", "-k", str(root / "munge.key")], check=True, capture_output=True)
    config = CONFIG.format(root=root, controller_port=free_port())
    config += "".join(NODE.format(name=name, port=free_port()) for name in NODES)
    config += PARTITION.format(nodes=",".join(NODES))
    (root / "slurm.conf").write_text(config)
    env = {"SLURM_CONF": str(root / "slurm.conf")}
    munged = [
        _binary("munged"), "--foreground", "--force", f"--socket={root}/munge.sock", f"--key-file={root}/munge.key",
        f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid", f"--seed-file={root}/munged.seed",
    ]  # fmt: skip
    daemons = {"munged": munged, "slurmctld": [_binary("slurmctld"), "-D", "-f", env["SLURM_CONF"]]}
    for name in NODES:
        daemons[f"slurmd-{name}"] = [_binary("slurmd"), "-D", "-N", name, "-f", env["SLURM_CONF"]]
    with ExitStack() as stack:
        for name, command in daemons.items():
            log = stack.enter_context((root / f"{name}.out").open("w"))
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            stack.callback(_stop, process)
            if name == "munged":
                _wait_for(lambda: (root / "munge.sock").exists(), "munged's socket", root)
        _wait_for(lambda: _idle_nodes(env) == len(NODES), f"{len(NODES)} idle nodes", root)
        yield env


def job_field(env: dict[str, str], job_id: str, name: str) -> str:
    """A field of ``scontrol show job`` (JobState, Restarts, ExitCode ...)."""
    text = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
    for word in text.split():
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
    raise AssertionError(f"job {job_id} has no {name}: {text!r}")


def job_step_daemons(job_id: str) -> list[int]:
    """The pids of the slurmstepd processes still running for ``job_id`` (their title: ``slurmstepd: [ID.STEP]``)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if cmdline.read_bytes().startswith(f"slurmstepd: [{job_id}.".encode()):
                pids.append(int(cmdline.parent.name))
    return pids


def _idle_nodes(env: dict[str, str]) -> int:
    result = subprocess.run(["sinfo", "-h", "-t", "idle", "-o", "%D"], env=env, capture_output=True, text=True)
    return int(result.stdout.strip() or 0) if result.returncode == 0 else 0


def _wait_for(condition, what: str, root: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = {path.name: path.read_text()[-1500:] for path in [*root.glob("*.log"), *root.glob("*.out")]}
            raise AssertionError(f"no {what} after {timeout} s; logs: {logs}")
        time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
