"""The short terminal summaries: plain aligned text tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from luke.inspection.corpus_report import CorpusReport


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned with separators."""
    cells = [list(header)] + [[_format(value) for value in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(header))]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append(
            "  ".join(
                value.rjust(width) if is_number else value.ljust(width)
                for value, width, is_number in zip(row, widths, numeric, strict=True)
            ).rstrip()
        )
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def corpus_summary(report: CorpusReport) -> str:
    rows = [
        [
            split.name,
            split.sequences,
            split.word_tokens,
            split.mentions,
            round(split.mentions_per_100_words, 2),
            f"{split.unk_share:.2%}" + (" (sampled)" if split.sampled else ""),
            len(split.shard_rows),
        ]
        for split in report.splits
    ]
    lines = [
        f"corpus {report.path}: {report.sequences:,} sequences, {len(report.entities):,} entity vocabulary entries",
        text_table(["split", "sequences", "word tokens", "mentions", "per 100 words", "[UNK]", "shards"], rows),
    ]
    checks = list(report.checks)
    failed = report.checks.failed
    if failed:
        lines.append(f"{len(failed)} of {len(checks)} checks FAILED:")
        for check in failed:
            first = check.examples[0] if check.examples else ""
            lines.append(f"  ✘ {check.name}: {check.failures:,} ({first})")
    else:
        lines.append(f"all {len(checks)} checks passed")
    return "\n".join(lines)


def runs_summary(runs) -> str:
    """The latest values of each run, one line per run, and the resumes and config changes seen."""
    from luke.inspection.run_page import LATEST_HEADER, latest_values

    lines = [text_table(LATEST_HEADER, [latest_values(run) for run in runs])]
    for run in runs:
        resumes = ", ".join(str(start.step) for start in run.resumes)
        changes = "; ".join(
            f"step {change.step}: "
            + ", ".join(f"{key} {before!r} → {after!r}" for key, before, after in change.changes)
            for change in run.config_changes
        )
        if resumes:
            lines.append(f"{run.name}: resumed at step(s) {resumes}")
        if changes:
            lines.append(f"{run.name}: config changed at {changes}")
        lines += [f"{run.name}: {note}" for note in run.notes]
    return "\n".join(lines)
