"""launch/train/: the DeepSpeed-hostfile script's argument split, and the exit code the scripts report."""

import json
import subprocess

import pytest
from training_runs import ROOT, TINY, free_port, tiny_overrides, train_losses

from pretraining.exit_codes import STOPPED
from pretraining.launcher_status import exit_code

HOSTFILE_SCRIPT = ROOT / "launch" / "train" / "deepspeed_hostfile.sh"


@pytest.mark.parametrize(
    ("launcher_code", "recorded", "expected"),
    [(0, [], 0), (0, ["0", "0"], 0), (1, ["75", "0"], STOPPED), (1, [], 1), (75, ["75"], STOPPED), (-15, [], 143)],
)
def test_a_launcher_reports_the_ranks_stop(tmp_path, launcher_code, recorded, expected):
    """torchrun exits 1 when a rank exits 75; a rank that recorded 75 makes the script's code 75 again."""
    for rank, code in enumerate(recorded):
        (tmp_path / f"rank-{rank:05d}").write_text(f"{code}\n")
    assert exit_code(launcher_code, tmp_path) == expected


def test_the_hostfile_script_needs_the_separator(tmp_path):
    result = subprocess.run(
        ["bash", str(HOSTFILE_SCRIPT), str(TINY), "run_dir=x"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2
    assert "no '--' before the training config" in result.stderr


@pytest.mark.slow
def test_the_hostfile_script_passes_launcher_options_to_deepspeed_and_the_rest_to_luke_train(
    sample_bpe_corpus, deepspeed_cpu_env, tmp_path
):
    """The DeepSpeed launcher on localhost (`--no_ssh_check`: no ssh here) with two slots: two ranks train the
    overrides given after `--`; the variables ranks need are forwarded."""
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("localhost slots=2\n")
    run_dir = tmp_path / "run"
    overrides = tiny_overrides(sample_bpe_corpus, run_dir, schedule__max_steps=3, batch__micro_batch_size=2)
    env = {**deepspeed_cpu_env, "HOSTFILE": str(hostfile), "MASTER_PORT": str(free_port())}
    command = ["bash", str(HOSTFILE_SCRIPT), "--no_ssh_check", "--", str(TINY), *overrides]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    forwarded = next(line for line in result.stdout.splitlines() if line.startswith("forwarding to every rank:"))
    assert {"TORCH_EXTENSIONS_DIR", "OMP_NUM_THREADS", "DS_ACCELERATOR", "LUKE_EXIT_STATUS_DIR"} <= set(
        forwarded.split(":")[1].split()
    )
    assert sorted(train_losses(run_dir)) == [1, 2, 3]
    assert json.loads((run_dir / "run_info.json").read_text())["world_size"] == 2
