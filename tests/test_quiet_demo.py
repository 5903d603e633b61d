"""The demo's steps write our own lines only, once per job: known third-party noise is silenced where it arises
(``luke.quiet``), progress shows as compact lines off a terminal, and the demo says which stage runs and how long
it took. ``luke --verbose`` shows the libraries' lines again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from luke import quiet

REPO_ROOT = Path(__file__).resolve().parents[1]

OUR_STDERR_LINES = (
    r"\$ ",  # the demo echoes each command it runs
    # progress lines (luke.progress), stderr being no terminal here
    r"(build-corpus \((title|table|tokenizer|article|vocabulary|packing) pass\)|train): [\d,]+",
)
# Real warnings a user may see, with why they stay.
REAL_WARNINGS = (
    # DeepSpeed JIT-builds its shared-memory op once per environment (tests/conftest's cache may be cold): a
    # minute of compiling that a user should know about.
    r"(Using .* as PyTorch extensions root|Emitting ninja build file|Building extension module|Allowing ninja|"
    r"ninja: no work to do|Loading extension module|Time to load|\[\d+/\d+\] )",
)


def _ours(line: str) -> bool:
    return any(re.match(pattern, line) for pattern in (*OUR_STDERR_LINES, *REAL_WARNINGS))


@pytest.mark.slow
def test_demo_writes_only_our_lines_once_per_job(tmp_path, deepspeed_cpu_env):
    env = dict(os.environ, **deepspeed_cpu_env)
    env.pop(quiet.VERBOSE_VARIABLE, None)
    steps = ("--stage1-steps", "3", "--stage2-steps", "3")
    result = subprocess.run(
        [sys.executable, "-m", "luke.cli", "demo", "--output", str(tmp_path / "demo"), *steps],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    foreign = [line for line in result.stderr.splitlines() if line.strip() and not _ours(line)]
    assert foreign == [], "\n".join(foreign)
    assert result.stdout.count("finished at step 3;") == 2  # rank 0 only, once per stage
    assert len(re.findall(r"^-- done in \d+ s$", result.stdout, re.MULTILINE)) == 6  # 4 steps and 2 reports
    assert re.search(r"== 2/4 train stage 1.*\[\d+:\d\d into the demo\]", result.stdout)
    assert re.search(r"validation loss \(nats\) +start +end +unigram +bigram +uniform", result.stdout)
    assert "masked words: " in result.stdout and "starting point for fine-tuning" in result.stdout
    assert re.search(r"masked entity: .*: rank [\d,]+ of [\d,]+", result.stdout)
    assert re.search(r"^train: 3/3 steps? \(100%\)", result.stderr, re.MULTILINE)


def test_known_noise_is_matched_by_source_and_message_only():
    import logging

    beam_record = logging.LogRecord(
        "root", logging.WARNING, "/x/apache_beam/io/gcp/internal/clients/bigquery/__init__.py", 1,
        "apitools not found, and bigquery client libraries are not available", None, None,
    )  # fmt: skip
    other_record = logging.LogRecord("root", logging.WARNING, "/x/ours.py", 1, "apitools not found", None, None)
    record_filter = quiet._KnownRecordFilter()
    assert not record_filter.filter(beam_record)
    assert record_filter.filter(other_record)


def test_known_warnings_are_silenced_in_the_block_only(monkeypatch):
    import warnings

    monkeypatch.delenv(quiet.VERBOSE_VARIABLE, raising=False)
    message = "`torch.distributed.all_gather_into_tensor` is deprecated. Please use ..."

    def warn(text: str) -> None:
        warnings.warn_explicit(text, FutureWarning, "c10d_logger.py", 83, module="torch.distributed.c10d_logger")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet.known_warnings_silenced():
            warn(message)
            warn("a real warning")
        warn(message)
    assert [str(warning.message) for warning in caught] == ["a real warning", message]


def test_output_of_a_call_keeps_all_but_the_known_lines(capsys, monkeypatch):
    monkeypatch.delenv(quiet.VERBOSE_VARIABLE, raising=False)
    with quiet.known_output_dropped():
        print("DeepSpeed deepspeed.ops.comm.deepspeed_shm_comm_op built successfully")
        print("a real line")
        print("Loading checkpoint shards: 100%|██| 2/2", file=sys.stderr)
        print("a real problem", file=sys.stderr)
    captured = capsys.readouterr()
    assert captured.out == "a real line\n"
    assert captured.err == "a real problem\n"
    monkeypatch.setenv(quiet.VERBOSE_VARIABLE, "1")
    with quiet.known_output_dropped():
        print("DeepSpeed deepspeed.ops.comm.deepspeed_shm_comm_op built successfully")
    assert "built successfully" in capsys.readouterr().out


def test_progress_off_a_terminal_is_a_compact_line(capsys, monkeypatch):
    from luke import progress

    monkeypatch.setattr(progress, "_terminal", False)
    bar = progress.progress_bar("train", 4, "step")
    bar.set_postfix(loss="6.5")
    bar.update(2)  # within the interval: no line yet
    bar.set_postfix(loss="6.1")
    bar.update(2)  # the last step: a line
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"train: 4/4 step \(100%\), 0:00 elapsed, loss 6\.1", lines[0])
