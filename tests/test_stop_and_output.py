"""Stops on request exit 75 with a checkpoint saved (0 only once finished); training outlives its output."""

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from training_runs import ROOT, single_process, tiny_overrides, train_losses

from pretraining.checkpoint import latest_tag
from pretraining.exit_codes import FINISHED, STOPPED
from pretraining.output_guard import log_file

GUARDED_CHILD = """
import sys, time
from pathlib import Path
from pretraining.output_guard import guard_output
guard_output(Path(sys.argv[1]))
print("first line", flush=True)
time.sleep(1.0)  # the reader goes away meanwhile
for i in range(2000):
    print(f"line {i}", flush=True)
    print(f"error {i}", file=sys.stderr, flush=True)
print("done")
"""


def test_a_guarded_process_outlives_its_reader_and_logs_everything(tmp_path):
    """The reader of stdout and stderr exits after the first line: every later print still succeeds, the log
    file gets every line and one note per stream, and the exit code stays 0 (not 120, Python's code for a
    failed flush at exit)."""
    log = tmp_path / "logs" / "rank-00000.log"
    process = subprocess.Popen(
        [sys.executable, "-c", GUARDED_CHILD, str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout.readline() == b"first line\n"
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    text = log.read_text()
    assert "line 1999\n" in text and "error 1999\n" in text and "done\n" in text
    assert text.count("stdout is gone (EPIPE") == 1 and text.count("stderr is gone (EPIPE") == 1


@pytest.fixture(scope="module")
def corpus(sample_bpe_corpus):
    return sample_bpe_corpus


def start(corpus, run_dir, env, max_steps: int) -> subprocess.Popen:
    """`luke train` of the tiny model, checkpoint every 3 steps, its stdout and stderr into one pipe."""
    overrides = tiny_overrides(corpus, run_dir, schedule__max_steps=max_steps, checkpoint__every_steps=3)
    return subprocess.Popen(
        single_process(overrides), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for_step(process: subprocess.Popen, run_dir, step: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while max(train_losses(run_dir), default=0) < step:
        assert process.poll() is None, f"training ended with {process.returncode} before step {step}"
        assert time.monotonic() < deadline, f"no step {step} after {timeout} s"
        time.sleep(0.05)


def wait_for_log(process: subprocess.Popen, run_dir, timeout: float = 120) -> None:
    """Until rank 0 opened its log: the run has started, its loop has not (DeepSpeed takes seconds to start)."""
    deadline = time.monotonic() + timeout
    while not log_file(run_dir, 0).exists():
        assert process.poll() is None, f"training ended with {process.returncode} before opening its log"
        assert time.monotonic() < deadline, f"no log after {timeout} s"
        time.sleep(0.01)


def signalled_output(process: subprocess.Popen, wait: Callable[[], None], signum: int) -> str:
    """``wait()``, send ``signum``, and return the process's output once it ended (killed if the test fails)."""
    try:
        wait()
        process.send_signal(signum)
        return process.communicate(timeout=300)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow
def test_training_survives_closed_output_and_sigterm_saves_and_exits_75(corpus, deepspeed_cpu_env, tmp_path):
    """The reader of stdout/stderr goes away after the first line (a closed terminal, a killed `| tee`, a dropped
    ssh session): training goes on to its next checkpoint; SIGTERM then saves one and exits 75."""
    run_dir = tmp_path / "run"
    process = start(corpus, run_dir, deepspeed_cpu_env, max_steps=100)
    try:
        process.stdout.readline()
        process.stdout.close()
        wait_for_step(process, run_dir, 4)  # past the checkpoint at step 3, written with no reader
        assert latest_tag(run_dir / "checkpoints") == "step-00000003"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=300) == STOPPED
    finally:
        if process.poll() is None:
            process.kill()
    stopped_at = max(train_losses(run_dir))
    assert 4 <= stopped_at < 100 and latest_tag(run_dir / "checkpoints") == f"step-{stopped_at:08d}"
    log = log_file(run_dir, 0).read_text()
    assert log.count("stdout is gone (EPIPE") == 1, log[-3000:]
    assert "received SIGTERM" in log and f"stopped at step {stopped_at} on request" in log
    assert f"stopped on request (exit code 75; the same command resumes) at step {stopped_at}" in log


@pytest.mark.slow
def test_sigusr1_stops_like_sigterm_and_only_a_finished_stage_exits_0(corpus, deepspeed_cpu_env, tmp_path):
    """SIGUSR1 (a common `sbatch --signal` choice) saves and exits 75; the resumed run finishes with 0, and its
    status goes to $LUKE_EXIT_STATUS_DIR for launch scripts behind torchrun."""
    run_dir, status_dir = tmp_path / "run", tmp_path / "status"
    status_dir.mkdir()
    env = {**deepspeed_cpu_env, "LUKE_EXIT_STATUS_DIR": str(status_dir)}
    process = start(corpus, run_dir, env, max_steps=8)
    output = signalled_output(process, lambda: wait_for_step(process, run_dir, 2), signal.SIGUSR1)
    assert process.returncode == STOPPED, output[-3000:]
    assert "received SIGUSR1" in output
    assert (status_dir / "rank-00000").read_text() == f"{STOPPED}\n"
    stopped_at = max(train_losses(run_dir))
    assert stopped_at < 8 and latest_tag(run_dir / "checkpoints") == f"step-{stopped_at:08d}"

    resumed = start(corpus, run_dir, env, max_steps=8)
    output = resumed.communicate(timeout=300)[0].decode()
    assert resumed.returncode == FINISHED, output[-3000:]
    assert f"resumed from checkpoint step-{stopped_at:08d}" in output and "finished at step 8" in output
    assert (status_dir / "rank-00000").read_text() == f"{FINISHED}\n"


@pytest.mark.slow
def test_a_stop_while_the_run_starts_exits_75_at_once_and_the_same_command_trains(corpus, deepspeed_cpu_env, tmp_path):
    """SIGTERM after the rank's log opened but before the loop (DeepSpeed still starting): no step, no
    checkpoint, exit 75 (launch/train/slurm.sbatch requeues on it), not the 143 of a process killed by it."""
    run_dir, status_dir = tmp_path / "run", tmp_path / "status"
    status_dir.mkdir()
    env = {**deepspeed_cpu_env, "LUKE_EXIT_STATUS_DIR": str(status_dir)}
    process = start(corpus, run_dir, env, max_steps=4)
    output = signalled_output(process, lambda: wait_for_log(process, run_dir), signal.SIGTERM)
    assert process.returncode == STOPPED, output[-3000:]
    assert "received SIGTERM while starting: stopping now, nothing trained since the last checkpoint" in output
    assert "stopped on request (exit code 75; the same command resumes) before training began" in output
    assert "Traceback" not in output and not train_losses(run_dir)
    assert latest_tag(run_dir / "checkpoints") is None
    assert (status_dir / "rank-00000").read_text() == f"{STOPPED}\n"

    again = start(corpus, run_dir, env, max_steps=4)
    output = again.communicate(timeout=300)[0].decode()
    assert again.returncode == FINISHED and "finished at step 4" in output, output[-3000:]
