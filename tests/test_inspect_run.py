"""`luke inspect run` on real tiny runs: a resumed run with a changed config is marked as such, two runs share
the axes and the side-by-side table, the failure paths, and starts.jsonl's own rules."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from test_inspect_corpus import parse
from training_runs import run_ok, single_process, tiny_overrides

from luke.cli import main
from luke.inspection import run_report
from luke.inspection.run_report import RunError, read_run
from pretraining.metrics_log import read_metrics


@pytest.fixture(scope="module")
def resumed_run(sample_bpe_corpus, deepspeed_cpu_env, tmp_path_factory):
    """6 steps with checkpoints every 3, then the same command with max_steps 10: it resumes at step 6."""
    run_dir = tmp_path_factory.mktemp("inspect-runs") / "resumed"
    for steps in (6, 10):
        overrides = tiny_overrides(
            sample_bpe_corpus, run_dir, schedule__max_steps=steps, checkpoint__every_steps=3, eval__every_steps=3
        )
        run_ok(single_process(overrides), deepspeed_cpu_env)
    return run_dir


@pytest.mark.slow
def test_resumed_run_is_marked_with_its_config_change(resumed_run, tmp_path):
    run = read_run(resumed_run)
    assert [(start.step, start.resumed_from) for start in run.starts] == [(0, None), (6, "step-00000006")]
    assert [start.step for start in run.resumes] == [6]
    [change] = run.config_changes
    assert change.step == 6 and change.changes == [("schedule.max_steps", 6, 10)]  # model.init is not a change
    train = read_metrics(resumed_run, "train")
    assert run.series["train"]["step"].tolist() == [r["step"] for r in train] == list(range(1, 11))
    assert run.series["train"]["loss"].tolist() == pytest.approx([r["loss"] for r in train])
    assert run.latest("validation")["step"] == 10

    output = tmp_path / "run.html"
    result = CliRunner().invoke(main, ["inspect", "run", str(resumed_run), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "resumed: resumed at step(s) 6" in result.output
    assert "resumed: config changed at step 6: schedule.max_steps 6 → 10" in result.output
    last = train[-1]
    assert result.output.splitlines()[1].split()[:3] == ["resumed", "10", f"{last['loss']:.4g}"]
    html = output.read_text()
    assert "<td>resume</td><td>step-00000006</td>" in html
    assert "schedule.max_steps: 6 → 10" in html
    parsed = parse(html)
    assert parsed.tags["img"] == 8 and parsed.tags["script"] == 0 and parsed.tags["link"] == 0
    assert all(src.startswith("data:image/png;base64,") for src in parsed.resources)


@pytest.mark.slow
def test_two_runs_side_by_side_and_a_run_without_starts(resumed_run, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(resumed_run, older, ignore=shutil.ignore_patterns("checkpoints", "tensorboard"))
    (older / "starts.jsonl").unlink()
    config = json.loads((older / "config.json").read_text())
    config["optimizer"]["lr"] = 0.5
    (older / "config.json").write_text(json.dumps(config))
    with (older / "metrics.jsonl").open("a") as stream:
        stream.write('{"step": 11, "split": "tra')  # a torn last line
    output = tmp_path / "runs.html"
    result = CliRunner().invoke(main, ["inspect", "run", str(resumed_run), str(older), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "older: no starts.jsonl: resumes and config changes were not recorded" in result.output
    assert "older: 1 unreadable line(s) of metrics.jsonl skipped" in result.output
    html = output.read_text()
    assert '<tr class="differs"><td>config.optimizer.lr</td><td class="num">0.002</td><td class="num">0.5</td>' in html
    assert "<th>resumed</th><th>older</th>" in html
    assert read_run(older).resumes == [] and read_run(older).starts is None


def test_run_without_metrics_fails_in_one_line_naming_it(tmp_path):
    runner = CliRunner()
    for run_dir, reason in (
        (tmp_path / "missing", "does not exist"),
        (tmp_path, "metrics.jsonl is missing"),
    ):
        result = runner.invoke(main, ["inspect", "run", str(run_dir), "-o", str(tmp_path / "r.html")])
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert str(run_dir) in result.output and reason in result.output
    (tmp_path / "metrics.jsonl").write_text("")
    with pytest.raises(RunError, match="holds no metrics yet"):
        read_run(tmp_path)


def test_non_finite_metrics_are_plotted_as_gaps(tmp_path):
    records = [
        {"step": 1, "split": "train", "time": 0, "loss": 3.0, "lr": 1e-3},
        {"step": 2, "split": "train", "time": 1, "loss": "nan", "lr": 1e-3},
        {"step": 2, "split": "validation", "time": 2, "loss": 2.5, "samples": 8},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = read_run(tmp_path)
    assert np.isnan(run.series["train"]["loss"][1]) and run.series["validation"]["samples"].tolist() == [8]
    result = CliRunner().invoke(main, ["inspect", "run", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output


def test_starts_jsonl_keeps_the_history_that_counts(tmp_path):
    from pretraining import run_dir

    assert (run_dir.STARTS_FILE, run_dir.CONFIG_FILE, run_dir.RUN_INFO_FILE, run_dir.CORPUS_METADATA_FILE) == (
        run_report.STARTS_FILE,
        run_report.CONFIG_FILE,
        run_report.RUN_INFO_FILE,
        run_report.CORPUS_METADATA_FILE,
    )
    config = {"schedule": {"max_steps": 4}}
    run_dir.record_start(tmp_path, 0, config, 2, None)
    run_dir.record_start(tmp_path, 4, config, 2, "step-00000004")
    with (tmp_path / run_dir.STARTS_FILE).open("a") as stream:
        stream.write('{"step": 8, "ti')  # killed while writing
    run_dir.record_start(tmp_path, 4, {"schedule": {"max_steps": 8}}, 1, "step-00000004")  # resumed again at 4
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 1.0}\n')
    run = read_run(tmp_path)
    assert [(s.step, s.world_size) for s in run.starts] == [(0, 2), (4, 2), (4, 1)]
    assert [c.changes for c in run.config_changes] == [[("schedule.max_steps", 4, 8)]]
    run_dir.record_start(tmp_path, 0, config, 1, None)  # started over without resuming: later starts dropped
    assert [s.step for s in read_run(tmp_path).starts] == [0, 0]
