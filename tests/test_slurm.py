"""launch/train/slurm.sbatch on a real SLURM (tests/slurm_cluster.py): a preempted job requeues itself and
resumes to the same metrics as an uninterrupted one, both attempts in one log."""

import os
import re
import subprocess
import time

import pytest
from slurm_cluster import job_field, job_step_daemons, missing_binaries, slurm_cluster
from training_runs import ROOT, TINY, tiny_overrides, train_losses

pytestmark = pytest.mark.slow
SBATCH = ROOT / "launch" / "train" / "slurm.sbatch"
STEPS = 20  # the stop must land before the end: at 10, a stop sent at step 4 once reached step 9 (the run finished, 0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        pytest.skip(f"no SLURM here ({', '.join(missing)} not installed; .ci/run installs slurm-wlm and munge)")
    if os.geteuid() != 0:
        pytest.skip("the test's SLURM runs its daemons as root (SlurmUser=root); not root here")
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def submit(env: dict[str, str], corpus, workdir) -> str:
    """Two ranks, one per "node", 1 CPU each; global batch 8 = 2 ranks × 2 micro-batches of 2."""
    overrides = tiny_overrides(
        corpus, workdir / "run", schedule__max_steps=STEPS, batch__micro_batch_size=2, checkpoint__every_steps=3
    )
    resources = ["--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=1", f"--chdir={workdir}"]
    command = ["sbatch", "--parsable", *resources, str(SBATCH), str(TINY), *overrides]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def wait_until(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.5)


def test_a_preempted_job_requeues_itself_and_resumes_to_the_same_metrics(
    cluster, sample_bpe_corpus, deepspeed_cpu_env, tmp_path
):
    # MASTER_ADDR: the nodes' SLURM names (node1, node2) resolve nowhere; both are 127.0.0.1
    env = {**deepspeed_cpu_env, **cluster, "MASTER_ADDR": "127.0.0.1"}
    reference_dir, preempted_dir = tmp_path / "reference", tmp_path / "preempted"
    reference_dir.mkdir()
    preempted_dir.mkdir()
    reference = submit(env, sample_bpe_corpus, reference_dir)
    preempted = submit(env, sample_bpe_corpus, preempted_dir)
    log = preempted_dir / f"luke-train-{preempted}.out"

    wait_until(lambda: max(train_losses(preempted_dir / "run"), default=0) >= 4, "step 4")
    subprocess.run(["scancel", "--signal=TERM", preempted], env=env, check=True)
    wait_until(lambda: job_field(env, preempted, "Restarts") == "1", "requeue")
    assert "requeueing job" in log.read_text()
    # SLURM makes a requeued job eligible only ~2 min later (EligibleTime); the test moves that up, but only
    # once the first attempt's step daemons are gone: a node still tearing down the killed ranks refuses the
    # job's new start ("Job 2 already killed, do not launch batch job") and SLURM marks it FAILED
    wait_until(lambda: not job_step_daemons(preempted), "end of the first attempt's steps")
    subprocess.run(["scontrol", "update", f"JobId={preempted}", "StartTime=now"], env=env, check=True)

    for job, workdir in ((reference, reference_dir), (preempted, preempted_dir)):
        wait_until(lambda job=job: job_field(env, job, "JobState") in ("COMPLETED", "FAILED", "CANCELLED"), job)
        output = (workdir / f"luke-train-{job}.out").read_text()
        assert job_field(env, job, "JobState") == "COMPLETED", output[-5000:]
        assert job_field(env, job, "ExitCode") == "0:0", output[-5000:]
    assert job_field(env, reference, "Restarts") == "0"
    text = log.read_text()
    assert f"=== job {preempted}, restart 0" in text and f"=== job {preempted}, restart 1" in text
    stopped_at = int(re.search(r"stopped on request \(exit code 75; [^)]*\) at step (\d+)", text)[1])
    assert 4 <= stopped_at < STEPS
    assert f"resumed from checkpoint step-{stopped_at:08d}" in text and f"finished at step {STEPS}" in text
    assert train_losses(preempted_dir / "run") == train_losses(reference_dir / "run")  # bit for bit
    assert sorted(train_losses(preempted_dir / "run")) == list(range(1, STEPS + 1))
