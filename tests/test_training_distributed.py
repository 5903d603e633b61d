"""Multi-process training on CPU (gloo): exact resume after SIGKILL and SIGTERM, two simulated nodes."""

import signal

import pytest
from training_runs import free_port, run_ok, run_two_nodes, run_until_step, tiny_overrides, torchrun, train_losses

from pretraining.checkpoint import latest_tag
from pretraining.exit_codes import STOPPED

pytestmark = pytest.mark.slow
STEPS = 12


def overrides(corpus, run_dir, zero, num_workers=0):
    """2 ranks × 2 micro-batches of 2 = global batch 8; dropout on, so resuming must restore the RNGs."""
    return tiny_overrides(
        corpus,
        run_dir,
        deepspeed=f"configs/deepspeed/zero{zero}-fp32.json",
        data__num_workers=num_workers,
        schedule__max_steps=STEPS,
        batch__micro_batch_size=2,
        checkpoint__every_steps=3,
        checkpoint__keep_last=2,
    )


@pytest.fixture(scope="module")
def corpus(sample_bpe_corpus):
    return sample_bpe_corpus


@pytest.fixture(scope="module")
def one_node_losses(corpus, deepspeed_cpu_env, tmp_path_factory):
    """Uninterrupted runs on one node with two ranks, per ZeRO stage: the reference trajectories."""
    losses = {}
    for zero in (2, 3):
        run_dir = tmp_path_factory.mktemp(f"one-node-zero{zero}")
        run_ok(torchrun(overrides(corpus, run_dir, zero), nproc=2, port=free_port()), deepspeed_cpu_env)
        losses[zero] = train_losses(run_dir)
        assert sorted(losses[zero]) == list(range(1, STEPS + 1))
    return losses


def test_resume_after_sigkill_and_sigterm_gives_the_same_losses(corpus, deepspeed_cpu_env, one_node_losses, tmp_path):
    """With a DataLoader worker per rank, which gets the SIGTERM too (the reference runs have none)."""
    run_dir = tmp_path / "run"

    def command():
        return torchrun(overrides(corpus, run_dir, 2, num_workers=1), nproc=2, port=free_port())

    # SIGKILL to every process at once after step 7: the latest complete checkpoint is step 6 (or 3).
    process, output, _ = run_until_step(command(), deepspeed_cpu_env, run_dir, step=7, send=signal.SIGKILL)
    assert process.returncode != 0, output[-3000:]
    killed_at = max(train_losses(run_dir))
    resumed_from = latest_tag(run_dir / "checkpoints")
    assert resumed_from in ("step-00000003", "step-00000006"), resumed_from

    # Resume; SIGTERM (preemption) to each rank's process group after step 9: the workers ignore it, the ranks
    # save a checkpoint at the step in progress and exit 75 (torchrun turns that into its own 1, so each rank
    # also writes its code into LUKE_EXIT_STATUS_DIR for the launch scripts).
    status_dir = tmp_path / "status"
    status_dir.mkdir()
    env = {**deepspeed_cpu_env, "LUKE_EXIT_STATUS_DIR": str(status_dir)}
    process, output, signalled = run_until_step(command(), env, run_dir, step=killed_at + 2, send=signal.SIGTERM)
    assert len(signalled) == 4, signalled  # two ranks and their loader workers
    assert process.returncode != 0, output[-5000:]
    assert any(path.read_text() == f"{STOPPED}\n" for path in status_dir.iterdir()), output[-5000:]
    assert f"resumed from checkpoint {resumed_from}" in output
    assert "stopped on request" in output
    stopped_at = max(train_losses(run_dir))
    assert stopped_at < STEPS and latest_tag(run_dir / "checkpoints") == f"step-{stopped_at:08d}"

    output = run_ok(command(), deepspeed_cpu_env).stdout
    assert f"resumed from checkpoint step-{stopped_at:08d}" in output
    assert train_losses(run_dir) == one_node_losses[2]  # every step, bit for bit


@pytest.mark.parametrize("zero", [2, 3])
def test_two_simulated_nodes_follow_the_one_node_trajectory(corpus, deepspeed_cpu_env, one_node_losses, tmp_path, zero):
    run_two_nodes(overrides(corpus, tmp_path, zero), deepspeed_cpu_env)
    two_nodes = train_losses(tmp_path)
    assert sorted(two_nodes) == sorted(one_node_losses[zero])
    for step, loss in one_node_losses[zero].items():
        assert two_nodes[step] == pytest.approx(loss, rel=1e-6, abs=0), step
