"""The corpus report as one HTML page: checks first, then per-split figures and counts, the top entities, decoded
rows with their mentions highlighted, and how the corpus was built."""

from __future__ import annotations

import json
from html import escape

import numpy as np

from luke.inspection import plots
from luke.inspection.corpus_report import CorpusReport
from luke.inspection.entities import UNK_ID
from luke.inspection.page import Raw, document, flatten, image, table
from luke.inspection.rows import DecodedRow

TOP_ENTITIES = 50


def corpus_page(report: CorpusReport) -> str:
    metadata = report.metadata
    failed = report.checks.failed
    body = [
        f"<h1>Corpus {escape(str(report.path.resolve()))}</h1>",
        f'<p class="meta">{escape(str(metadata.get("created_by", "")))} · format {metadata.get("format_version")}'
        f" · {escape(str(metadata.get('wiki') or ''))} ({escape(str(metadata.get('language') or ''))}) · "
        f"{_scope_sentence(report)}</p>",
        _banner(len(list(report.checks)), failed),
        "<h2>Splits</h2>",
        _splits_table(report),
        "<h2>Distributions</h2>",
        '<div class="figures">',
        *_figures(report),
        "</div>",
        f"<h2>Top {TOP_ENTITIES} entities</h2>",
        _top_entities(report),
        f"<h2>{len(report.rows)} random rows, decoded</h2>",
        '<p class="meta">Each mention is highlighted and followed by its entity\'s title; [UNK] mentions are '
        "dashed orange. The shards record page ids, not titles.</p>",
        *(_row(row, metadata.get("language")) for row in report.rows),
        "<h2>Checks</h2>",
        _checks_table(report),
        "<h2>How it was built</h2>",
        _build(report),
    ]
    return document(f"Corpus report: {report.path}", body)


def _scope_sentence(report: CorpusReport) -> str:
    sampled = [split for split in report.splits if split.sampled]
    if not sampled:
        return "every row's values read"
    return (
        f"values of {report.rows_read:,} random rows of {report.sequences:,} read (counts, lengths and limits "
        "from every row's list offsets)"
    )


def _banner(total: int, failed: list) -> str:
    if not failed:
        return f'<div class="banner ok">All {total} checks passed.</div>'
    names = "; ".join(escape(check.name) for check in failed)
    return f'<div class="banner fail">{len(failed)} of {total} checks failed: {names} (see Checks below).</div>'


def _splits_table(report: CorpusReport) -> str:
    rows = []
    for split in report.splits:
        recorded_unk = split.recorded.get("unk_mentions")
        recorded_mentions = split.recorded.get("mentions")
        recorded_share = (
            f"{recorded_unk / recorded_mentions:.2%}" if recorded_unk is not None and recorded_mentions else "–"
        )
        per_shard = np.array(split.shard_rows or [0])
        rows.append(
            [
                split.name,
                split.sequences,
                split.word_tokens,
                split.mentions,
                round(split.mentions_per_100_words, 2),
                f"{split.unk_share:.2%}" + (f" of {split.mentions_read:,} read" if split.sampled else ""),
                recorded_share,
                len(split.shard_rows),
                f"{per_shard.min():,} / {int(np.median(per_shard)):,} / {per_shard.max():,}",
                split.rows_read,
            ]
        )
    header = [
        "split",
        "sequences",
        "word tokens",
        "mentions",
        "mentions / 100 words",
        "[UNK] mentions",
        "[UNK] (metadata.json)",
        "shards",
        "sequences per shard min / median / max",
        "rows read",
    ]
    return table(header, rows)


def _figures(report: CorpusReport) -> list[str]:
    metadata = report.metadata
    splits = report.splits
    figures = [
        (
            plots.histogram(
                {s.name: s.sequence_lengths for s in splits},
                metadata["max_seq_length"],
                "words per sequence",
                "Sequence length (every row)",
                limit_label="max_seq_length",
            ),
            "sequence length histogram",
        ),
        (
            plots.histogram(
                {s.name: s.entities_per_sequence for s in splits},
                metadata["max_entity_length"],
                "mentions per sequence",
                "Entities per sequence (every row)",
                limit_label="max_entity_length",
            ),
            "entities per sequence histogram",
        ),
        (
            plots.rank_count(report.entities.counts[3:], report.occurrences[3:], *_cutoff(report)),
            "entity rank/count curve",
        ),
        (
            plots.histogram(
                {s.name: s.mention_lengths for s in splits},
                metadata["max_mention_length"],
                "words per mention",
                "Mention length" + (" (rows read)" if any(s.sampled for s in splits) else ""),
                bins=metadata["max_mention_length"] + 2,
                limit_label="max_mention_length",
            ),
            "mention length histogram",
        ),
    ]
    return [image(png, alt) for png, alt in figures]


def _cutoff(report: CorpusReport) -> tuple[int | None, str]:
    """The vocabulary's cut-off rank (entities kept), and a note on whether the size option reached it."""
    entities = len(report.entities) - 3
    option = (report.metadata.get("options") or {}).get("entity_vocab_size")
    if option is not None and entities < option - 3:
        return entities, f"all {entities:,} linked entities kept\n(--entity-vocab-size {option:,} not reached)"
    return entities, f"top {entities:,} entities kept"


def _top_entities(report: CorpusReport) -> str:
    entities = report.entities
    by_vocab = [[i, entities.title(i), int(entities.counts[i])] for i in range(3, min(len(entities), 3 + TOP_ENTITIES))]
    occurrences = report.occurrences.copy()
    occurrences[:3] = 0
    order = np.argsort(-occurrences, kind="stable")[:TOP_ENTITIES]
    total = max(1, int(report.occurrences.sum()))
    by_shards = [
        [int(i), entities.title(int(i)), int(occurrences[i]), f"{occurrences[i] / total:.2%}"]
        for i in order
        if occurrences[i] > 0
    ]
    scope = "rows read" if any(s.sampled for s in report.splits) else "all rows"
    unk = int(report.occurrences[UNK_ID])
    return (
        '<div class="side"><div><h3>In the vocabulary (by link count)</h3>'
        + table(["id", "title", "link count"], by_vocab)
        + f"</div><div><h3>In the shards (mentions, {scope}; [UNK]: {unk:,})</h3>"
        + table(["id", "title", "mentions", "share"], by_shards)
        + "</div></div>"
    )


def _row(row: DecodedRow, language: str | None) -> str:
    parts = []
    for segment in row.segments:
        if segment.entity_id is None:
            parts.append(escape(segment.text))
            continue
        css = "mention unk" if segment.unknown else "mention"
        parts.append(
            f'<mark class="{css}" data-entity-id="{segment.entity_id}" data-start="{segment.start}" '
            f'data-end="{segment.end}" title="{escape(segment.title or "")} (id {segment.entity_id})">'
            f'<span class="text">{escape(segment.text)}</span><span class="entity">{escape(segment.title or "")}'
            "</span></mark>"
        )
    page = f"page {row.page_id}"
    if language:
        page = f'<a href="https://{escape(language)}.wikipedia.org/?curid={row.page_id}">{page}</a>'
    skipped = f" · {row.skipped_mentions} mention(s) with bad spans not shown" if row.skipped_mentions else ""
    return (
        f'<div class="row" data-split="{row.split}" data-index="{row.index}"><div class="where">{row.split} row '
        f"{row.index:,} · {page} · {row.words} words · {len(row.mentions)} mentions{skipped}</div>"
        f'<div class="text">{"".join(parts)}</div></div>'
    )


def _checks_table(report: CorpusReport) -> str:
    rows, classes = [], []
    for check in report.checks:
        status = Raw('<span class="ok">✔ ok</span>' if check.ok else '<span class="fail">✘ failed</span>')
        details = "; ".join(check.examples) + (" …" if check.failures > len(check.examples) else "")
        rows.append([status, check.name, check.scope, check.failures, details or check.note])
        classes.append("" if check.ok else "fail")
    return table(["", "check", "over", "failures", "first failures / note"], rows, classes)


def _build(report: CorpusReport) -> str:
    metadata = report.metadata
    options = flatten(metadata.get("options") or {})
    tokenizer = flatten(metadata.get("tokenizer") or {})
    counters = metadata.get("counters") or {}
    vocab = metadata.get("entity_vocab") or {}
    inputs = metadata.get("input_files") or []
    return "".join(
        [
            '<div class="side"><div><h3>Options</h3>',
            table(["option", "value"], [[k, _text(v)] for k, v in options.items()]),
            "</div><div><h3>Counters</h3>",
            table(["counter", "value"], sorted(counters.items())),
            "<h3>Tokenizer</h3>",
            table(
                ["field", "value"],
                [[k, _text(v)] for k, v in tokenizer.items()] + [["checksum", report.tokenizer_checksum]],
            ),
            "<h3>Entity vocabulary</h3>",
            table(
                ["field", "value"],
                [[k, _text(v)] for k, v in vocab.items()] + [["file sha256", report.entities.sha256]],
            ),
            "</div></div><h3>Input files</h3><ul>",
            "".join(f"<li><code>{escape(str(path))}</code></li>" for path in inputs),
            "</ul>",
        ]
    )


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
