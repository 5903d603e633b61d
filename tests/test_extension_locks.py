"""A start killed while DeepSpeed JIT-builds an op leaves torch's build lock: the next start removes it and trains,
saying so, where it would have waited forever; a lock that may be live is left, and named after a short wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from training_runs import run, single_process, tiny_overrides

from pretraining.extension_locks import clear_stale_locks
from pretraining.output_guard import log_file

OP = "deepspeed_shm_comm"  # the op DeepSpeed builds on CPU when its process group starts
BUILD = (
    "from deepspeed.accelerator import get_accelerator; "
    "get_accelerator().create_op_builder('ShareMemCommBuilder').load()"
)
HOLD = (
    "import sys, time; from torch.utils.file_baton import FileBaton; "
    "FileBaton(sys.argv[1]).try_acquire(); print(1, flush=True); time.sleep(600)"
)


def hold_lock(lock: Path) -> subprocess.Popen:
    """A process holding ``lock`` as torch's builder does (FileBaton, open until released)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "1\n" and lock.exists()
    return holder


def end(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_lock_of_a_build_killed_midway_is_removed_and_the_next_start_trains(
    sample_bpe_corpus, deepspeed_cpu_env, tmp_path
):
    env = {**deepspeed_cpu_env, "TORCH_EXTENSIONS_DIR": str(tmp_path / "torch_extensions")}  # a cold build here
    lock = tmp_path / "torch_extensions" / OP / "lock"
    build = subprocess.Popen(
        [sys.executable, "-c", BUILD],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)  # the compiler is running
    os.killpg(build.pid, signal.SIGKILL)  # the start, ninja and the compiler, as a lost node or the OOM killer does
    build.wait()
    assert lock.exists() and not list(lock.parent.glob("*.so")), "the build was not killed while holding its lock"

    run_dir = tmp_path / "run"
    overrides = tiny_overrides(sample_bpe_corpus, run_dir, schedule__max_steps=1, schedule__warmup_steps=0)
    result = run(single_process(overrides), env, timeout=400)  # without the check: waits on the lock until killed
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    note = f"removed {lock}: the JIT build lock of {OP}, left by a start killed building it"
    assert note in result.stdout and note in log_file(run_dir, 0).read_text()
    assert not lock.exists() and list(lock.parent.glob("*.so"))


def test_a_stale_lock_is_removed_and_a_held_one_named_after_a_short_wait(tmp_path):
    killed = hold_lock(tmp_path / "stale_op" / "lock")
    end(killed)
    held_lock = tmp_path / "live_op" / "lock"
    holder = hold_lock(held_lock)
    try:
        lines: list[str] = []
        started = time.monotonic()
        clear_stale_locks(tmp_path, lines.append, wait_seconds=1)
        assert 1 <= time.monotonic() - started < 10
        assert lines == [
            f"waiting for process {holder.pid}, which holds {held_lock} while it builds or loads live_op",
            f"removed {tmp_path}/stale_op/lock: the JIT build lock of stale_op, left by a start killed building it",
        ]
        assert not (tmp_path / "stale_op" / "lock").exists() and held_lock.exists()
    finally:
        end(holder)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to check as another user")
def test_a_lock_whose_holder_cannot_be_seen_is_left_and_named():
    """Another user's lock: its holder's descriptors are not ours to read, as a holder on another node sharing a
    network filesystem is invisible here; so it may be live."""
    with tempfile.TemporaryDirectory() as directory:  # pytest's own is root's alone
        root = Path(directory)
        root.chmod(0o755)
        lock = root / "op" / "lock"
        end(hold_lock(lock))  # no holder left, but only root could see that
        assert checked_as_nobody(root) == [
            f"waiting for {lock}: no process this machine can see holds it, but one elsewhere may (another node "
            "sharing the directory, another user); if no start is building op, remove that file"
        ]
        assert lock.exists()


def checked_as_nobody(root: Path) -> list[str]:
    """The lines of ``clear_stale_locks(root)`` in a child process of user nobody (forked: the interpreter's files
    are root's alone)."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            lines: list[str] = []
            clear_stale_locks(root, lines.append, wait_seconds=1)
            os.write(write, "\n".join(lines).encode())
        except BaseException as error:
            os.write(write, f"the check failed: {error!r}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as output:
        lines = output.read().splitlines()
    os.waitpid(child, 0)
    return lines
