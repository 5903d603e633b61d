"""The reports' figures, drawn with matplotlib's object API on the Agg canvas (no display, no pyplot state) and
returned as PNG bytes for embedding."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 6.4, 3.6, 110
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _binned(counts: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """A bincount regrouped into at most ``bins`` equal-width bins: (values, edges)."""
    width = max(1, int(np.ceil(len(counts) / bins)))
    padded = np.zeros(width * int(np.ceil(len(counts) / width)), dtype=np.float64)
    padded[: len(counts)] = counts
    return padded.reshape(-1, width).sum(axis=1), np.arange(0, len(padded) + 1, width, dtype=np.float64)


def histogram(
    series: dict[str, np.ndarray], limit: int, xlabel: str, title: str, bins: int = 64, limit_label: str = "limit"
) -> bytes:
    """Bincounts (one per split) as share-of-total step histograms on one axis, the length limit marked."""
    figure = Figure(figsize=(WIDTH, HEIGHT))
    axis = figure.add_subplot()
    for (name, counts), color in zip(series.items(), COLORS, strict=False):
        total = counts.sum()
        if not total:
            continue
        values, edges = _binned(counts, bins)
        axis.stairs(values / total, edges, label=f"{name} ({int(total):,})", color=color, linewidth=1.5)
    axis.axvline(limit, color="black", linestyle="--", linewidth=1, label=f"{limit_label} {limit}")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("share")
    axis.set_title(title)
    axis.legend(fontsize="small")
    return _png(figure)


def rank_count(vocabulary_counts: np.ndarray, occurrences: np.ndarray, cutoff: int | None, note: str) -> bytes:
    """Entity frequency against rank on log-log axes: the vocabulary's link counts and the occurrences read in
    the shards, with the vocabulary's cut-off rank marked."""
    figure = Figure(figsize=(WIDTH, HEIGHT))
    axis = figure.add_subplot()
    for label, counts, color, style in (
        ("link count (entity_vocab.jsonl)", vocabulary_counts, COLORS[0], "-"),
        ("mentions in the shards read", occurrences, COLORS[1], "--"),
    ):
        ranked = np.sort(counts[counts > 0])[::-1]
        if len(ranked):
            axis.loglog(np.arange(1, len(ranked) + 1), ranked, label=label, color=color, linewidth=1.5, linestyle=style)
    if cutoff:
        axis.axvline(cutoff, color="black", linestyle=":", linewidth=1.2, label=f"vocabulary cut-off: rank {cutoff:,}")
    axis.set_xlabel("rank")
    axis.set_ylabel("count")
    axis.set_title("Entity frequency by rank")
    axis.text(0.99, 0.98, note, transform=axis.transAxes, ha="right", va="top", fontsize="x-small", wrap=True)
    axis.legend(fontsize="small")
    return _png(figure)


@dataclass(frozen=True)
class Line:
    """One run's values of one metric: steps and values (NaN where missing), drawn in ``color``."""

    label: str
    steps: np.ndarray
    values: np.ndarray
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    """A mark at ``step``: a resume (a dotted vertical line) or a configuration change (a triangle on top)."""

    step: int
    kind: str  # "resume" | "config"
    color: str


def metric_lines(title: str, lines: Sequence[Line], markers: Sequence[Marker], log_y: bool = False) -> bytes:
    """One metric over steps: a line per run and split on the same axes, resumes and config changes marked."""
    figure = Figure(figsize=(WIDTH, HEIGHT))
    axis = figure.add_subplot()
    for line in lines:
        style = {"linestyle": "--", "marker": "o", "markersize": 3} if line.dashed else {"linestyle": "-"}
        axis.plot(line.steps, line.values, color=line.color, label=line.label, linewidth=1.4, **style)
    seen = set()
    for marker in markers:
        first = (marker.kind, marker.color) not in seen
        seen.add((marker.kind, marker.color))
        if marker.kind == "resume":
            label = "resumed" if first else None
            axis.axvline(marker.step, color=marker.color, linestyle=":", linewidth=1.4, label=label)
        else:  # a triangle on the top edge: visible also where a resume is drawn at the same step
            label = "config changed" if first else None
            axis.plot(
                [marker.step],
                [1.0],
                marker="v",
                markersize=9,
                color=marker.color,
                linestyle="none",
                transform=axis.get_xaxis_transform(),
                clip_on=False,
                label=label,
            )
    if log_y and all(np.nanmin(line.values) > 0 for line in lines if np.isfinite(line.values).any()):
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_title(title, pad=12)
    if lines:
        axis.legend(fontsize="x-small")
    return _png(figure)
