"""The run report as one HTML page: the latest values, one figure per metric with every run on the same axes
(resumes and config changes marked), the starts of each run, and configs, corpora and versions side by side."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np

from luke.inspection import plots
from luke.inspection.page import document, flatten, image, table
from luke.inspection.run_report import Run, name_runs

# metric, title, splits, logarithmic y; the validation references drawn with MLM and MEP (same positions)
FIGURES = (
    ("loss", "loss (MLM + MEP)", ("train", "validation"), False),
    ("mlm_loss", "MLM loss (train: LUKE's 80/10/10; validation: all masked)", ("train", "validation"), False),
    ("mep_loss", "MEP loss", ("train", "validation"), False),
    ("mlm_accuracy", "MLM accuracy", ("train", "validation"), False),
    ("mep_accuracy", "MEP accuracy", ("train", "validation"), False),
    ("lr", "learning rate", ("train",), False),
    ("tokens_per_s", "tokens / s", ("train",), False),
    ("samples_per_s", "samples / s", ("train",), False),
)
LATEST = ("loss", "mlm_loss", "mlm_accuracy", "mep_loss", "mep_accuracy", "lr", "tokens_per_s", "samples_per_s")
REFERENCES = {"mlm_loss": ("mlm_unigram_loss", "mlm_bigram_loss"), "mep_loss": ("mep_unigram_loss",)}
REFERENCE_COLORS = {"unigram": "#999999", "bigram": "#555555"}


def run_colors(runs: list[Run]) -> dict[str, str]:
    return {run.name: plots.COLORS[i % len(plots.COLORS)] for i, run in enumerate(runs)}


def run_page(runs: list[Run]) -> str:
    name_runs(runs)
    colors = run_colors(runs)
    body = [
        f"<h1>Training run{'s' if len(runs) > 1 else ''}: {escape(', '.join(run.name for run in runs))}</h1>",
        '<p class="meta">Solid lines: training records; dashed with dots: validation. Dotted verticals: resumes; '
        "triangles on the top edge: config changes (in the run's colour).</p>",
        *(f'<p class="fail">{escape(run.name)}: {escape(note)}</p>' for run in runs for note in run.notes),
        "<h2>Latest values</h2>",
        latest_table(runs),
        "<h2>Metrics over steps</h2>",
        '<div class="figures">',
        *_figures(runs, colors),
        "</div>",
        "<h2>Starts, resumes and config changes</h2>",
        *(_starts(run) for run in runs),
        "<h2>Runs side by side</h2>",
        '<p class="meta">Highlighted rows differ between runs.</p>',
        _side_by_side(runs),
    ]
    return document("Run report: " + ", ".join(run.name for run in runs), body)


def latest_values(run: Run) -> list[Any]:
    """One row of the latest-values table: run, step, the last training metrics, the last validation loss."""
    train, validation = run.latest("train"), run.latest("validation")
    row: list[Any] = [run.name, int(train["step"]) if train else None]
    row += [train.get(name) for name in LATEST]
    row += [int(validation["step"]) if validation else None, validation.get("loss"), validation.get("mlm_accuracy")]
    return row


LATEST_HEADER = ["run", "step", *LATEST, "validation step", "validation loss", "validation mlm_accuracy"]


def latest_table(runs: list[Run]) -> str:
    return table(LATEST_HEADER, [latest_values(run) for run in runs])


def _figures(runs: list[Run], colors: dict[str, str]) -> list[str]:
    markers = []
    for run in runs:
        markers += [plots.Marker(start.step, "resume", colors[run.name]) for start in run.resumes]
        markers += [plots.Marker(change.step, "config", colors[run.name]) for change in run.config_changes]
    figures = []
    for metric, title, splits, log_y in FIGURES:
        lines = []
        for run in runs:
            for split in splits:
                series = run.series.get(split, {})
                if metric in series and np.isfinite(series[metric]).any():
                    lines.append(
                        plots.Line(
                            f"{run.name} {split}", series["step"], series[metric], colors[run.name], split != "train"
                        )
                    )
            validation = run.series.get("validation", {})
            for reference in REFERENCES.get(metric, ()):
                if reference in validation:
                    name = reference.split("_")[1]  # unigram, bigram
                    steps, values = validation["step"], validation[reference]
                    label = f"{run.name} {name}, same positions"
                    lines.append(plots.Line(label, steps, values, REFERENCE_COLORS[name], True))
        if lines:
            figures.append(image(plots.metric_lines(title, lines, markers, log_y), title))
    return figures


def _starts(run: Run) -> str:
    if run.starts is None:
        return f"<p><b>{escape(run.name)}</b>: not recorded (no starts.jsonl).</p>"
    changes = {change.step: change for change in run.config_changes}
    rows = []
    for index, start in enumerate(run.starts):
        kind = "resume" if start in run.resumes else ("first start" if index == 0 else "fresh start")
        change = changes.get(start.step) if index else None
        what = "; ".join(f"{key}: {before!r} → {after!r}" for key, before, after in change.changes) if change else ""
        rows.append([start.step, kind, start.resumed_from or "", start.world_size, start.time, what])
    return f"<h3>{escape(run.name)}</h3>" + table(
        ["step", "start", "checkpoint", "ranks", "time (UTC)", "config changed"], rows
    )


def _side_by_side(runs: list[Run]) -> str:
    described = [_description(run) for run in runs]
    keys = list(dict.fromkeys(key for description in described for key in description))
    rows, classes = [], []
    for key in keys:
        values = [description.get(key, "") for description in described]
        rows.append([key, *values])
        classes.append("differs" if len(runs) > 1 and len({repr(v) for v in values}) > 1 else "")
    return table(["", *(run.name for run in runs)], rows, classes, wide=True)


def _description(run: Run) -> dict[str, Any]:
    info = run.info
    checksums = info.get("vocabulary_checksums") or {}
    metadata = run.corpus_metadata
    train_split = (metadata.get("splits") or {}).get("train") or {}
    described: dict[str, Any] = {
        "run directory": str(run.path.resolve()),
        "started": info.get("started", ""),
        "world size": info.get("world_size", ""),
        "latest step": int(run.latest("train").get("step", 0)),
        "checkpoints": ", ".join(run.checkpoints),
        "resumes at steps": ", ".join(str(start.step) for start in run.resumes),
        "corpus": info.get("corpus", ""),
        "corpus entity vocabulary checksum": checksums.get("entity_vocab")
        or (metadata.get("entity_vocab") or {}).get("checksum", ""),
        "corpus tokenizer checksum": checksums.get("tokenizer", ""),
        "corpus train sequences": train_split.get("sequences", ""),
    }
    described.update({f"versions.{k}": v for k, v in (info.get("versions") or {}).items()})
    described.update({f"config.{k}": _text(v) for k, v in flatten(run.config).items()})
    return described


def _text(value: Any) -> Any:
    return value if isinstance(value, int | float | str) and not isinstance(value, bool) else str(value)
