"""Corpus directories written from the real enwiki sample dump, for the data pipeline's tests.

Page text and link spans come from mwparserfromhell (an independent reading of the wikitext); a byte-level
BPE (``LukeTokenizer``) is trained on that text; paragraphs are
tokenized, cut into sequences that never split a mention, and written as Arrow shards with the reader's
SCHEMA. It stands in for ``luke build-corpus`` where a test needs rows without running the Beam job.
"""

from __future__ import annotations

import bz2
import json
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import mwparserfromhell
import pyarrow as pa

from preprocessing.corpus.directory import FORMAT_NAME, SCHEMA, SPANS_FORMAT_VERSION, shard_path
from preprocessing.entities.vocab import EntityVocab

# paragraphs are tokenized whole, mentions placed by offsets: the last format before linked text was cut at links
WHOLE_TEXT_FORMAT_VERSION = SPANS_FORMAT_VERSION - 1


@dataclass
class Paragraph:
    page_id: int
    text: str
    links: list[tuple[int, int, str]] = field(default_factory=list)  # char start, char end, target title


def _append_nodes(nodes, paragraph: Paragraph) -> None:
    for node in nodes:
        if isinstance(node, mwparserfromhell.nodes.Text):
            paragraph.text += str(node.value)
        elif isinstance(node, mwparserfromhell.nodes.Wikilink):
            title = str(node.title).split("#")[0].strip()
            anchor = (node.text.strip_code() if node.text else str(node.title)).strip()
            if ":" in title or not title or not anchor:
                continue
            start = len(paragraph.text)
            paragraph.text += anchor
            paragraph.links.append((start, len(paragraph.text), title[0].upper() + title[1:].replace("_", " ")))
        elif isinstance(node, mwparserfromhell.nodes.Tag) and str(node.tag) in ("b", "i") and node.contents:
            _append_nodes(node.contents.nodes, paragraph)


def read_paragraphs(dump: Path, max_pages: int, min_chars: int = 80, whole_pages: bool = False) -> list[Paragraph]:
    """Paragraphs of the first ``max_pages`` articles (no redirects) of a bz2 XML dump; with ``whole_pages``
    the paragraphs of a page are joined (one per line), so sequences fill up to max_seq_length."""
    paragraphs: list[Paragraph] = []
    pages = 0
    with bz2.open(dump) as stream:
        for _, element in ElementTree.iterparse(stream):
            if not element.tag.endswith("}page"):
                continue
            namespace = element.tag[: -len("page")]
            text = element.findtext(f"{namespace}revision/{namespace}text") or ""
            if element.findtext(f"{namespace}ns") == "0" and element.find(f"{namespace}redirect") is None:
                page_id = int(element.findtext(f"{namespace}id"))
                page_start = len(paragraphs)
                for block in text.split("\n"):
                    paragraph = Paragraph(page_id, "")
                    _append_nodes(mwparserfromhell.parse(block).nodes, paragraph)
                    if len(paragraph.text) >= min_chars and not paragraph.text.startswith(("*", "|", "{", "=")):
                        paragraphs.append(paragraph)
                if whole_pages:
                    _join_paragraphs(paragraphs, page_start)
                pages += 1
            element.clear()
            if pages == max_pages:
                break
    return paragraphs


def _join_paragraphs(paragraphs: list[Paragraph], first: int) -> None:
    """Replace ``paragraphs[first:]`` (one page's) by one paragraph, one line each."""
    if first == len(paragraphs):
        return
    page = Paragraph(paragraphs[first].page_id, "")
    for paragraph in paragraphs[first:]:
        if page.text:
            page.text += "\n"
        page.links += [(start + len(page.text), end + len(page.text), title) for start, end, title in paragraph.links]
        page.text += paragraph.text
    paragraphs[first:] = [page]


def train_bpe_tokenizer(texts: list[str], output: Path, vocab_size: int = 3000):
    """A byte-level BPE trained on ``texts``, saved as a ``LukeTokenizer`` directory."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LukeTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    model = json.loads(bpe._tokenizer.to_str())["model"]
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]
    tokenizer = LukeTokenizer(vocab=model["vocab"], merges=merges, entity_vocab=_tokenizer_entity_vocab())
    tokenizer.save_pretrained(str(output))
    return tokenizer


def _tokenizer_entity_vocab() -> dict[str, int]:
    return {name: index for index, name in enumerate(("[PAD]", "[UNK]", "[MASK]", "[MASK2]"))}


def _sequences(paragraph: Paragraph, tokenizer, vocab: EntityVocab, max_words: int, max_mention: int):
    encoding = tokenizer(paragraph.text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    mentions = []  # token start, token end, entity id
    for char_start, char_end, title in paragraph.links:
        start = next((i for i, (_, end) in enumerate(offsets) if end > char_start), len(ids))
        end = next((i for i, (begin, _) in enumerate(offsets) if begin >= char_end), len(ids))
        if 1 <= end - start <= max_mention and (not mentions or start >= mentions[-1][1]):
            mentions.append((start, end, vocab.get_id(title)))
    begin = 0
    while begin < len(ids):
        stop = min(begin + max_words, len(ids))
        for start, end, _ in mentions:  # never cut a mention
            if start < stop < end:
                stop = start if start > begin else end
        inside = [m for m in mentions if begin <= m[0] and m[1] <= stop]
        yield {
            "page_id": paragraph.page_id,
            "word_ids": ids[begin:stop],
            "entity_ids": [m[2] for m in inside],
            "entity_starts": [m[0] - begin for m in inside],
            "entity_ends": [m[1] - begin for m in inside],
        }
        begin = stop


def write_corpus(
    root: Path,
    paragraphs: list[Paragraph],
    tokenizer,
    max_seq_length: int = 128,
    max_entity_length: int = 32,
    max_mention_length: int = 30,
    min_entity_count: int = 2,
    num_shards: int = 3,
) -> Path:
    """Write a complete corpus directory (tokenizer, entity vocabulary, train and validation shards)."""
    counts = Counter(title for paragraph in paragraphs for _, _, title in paragraph.links)
    vocab = EntityVocab.from_counts(counts.items(), size=len(counts) + 3, min_count=min_entity_count, language="en")
    root.mkdir(parents=True, exist_ok=True)
    vocab.save(str(root / "entity_vocab.jsonl"))
    tokenizer.save_pretrained(str(root / "tokenizer"))

    shards: dict[str, list[list[dict]]] = {"train": [[] for _ in range(num_shards)], "validation": [[]]}
    for paragraph in paragraphs:
        for row in _sequences(paragraph, tokenizer, vocab, max_seq_length - 2, max_mention_length):
            row["entity_ids"] = row["entity_ids"][:max_entity_length]
            row["entity_starts"] = row["entity_starts"][:max_entity_length]
            row["entity_ends"] = row["entity_ends"][:max_entity_length]
            split = "validation" if paragraph.page_id % 10 == 0 else "train"
            parts = shards[split]
            parts[paragraph.page_id % len(parts)].append(row)
    splits = {}
    for split, parts in shards.items():
        paths = []
        for index, rows in enumerate(parts):
            relative = shard_path(split, index, len(parts))
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            with pa.OSFile(str(root / relative), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
                for begin in range(0, len(rows), 100):
                    writer.write_table(pa.Table.from_pylist(rows[begin : begin + 100], schema=SCHEMA))
            paths.append(relative)
        splits[split] = {"shards": paths, "sequences": sum(map(len, parts))}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": WHOLE_TEXT_FORMAT_VERSION,
        "max_seq_length": max_seq_length,
        "max_entity_length": max_entity_length,
        "max_mention_length": max_mention_length,
        "splits": splits,
    }
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return root


def entity_vocab_size(corpus) -> int:
    """Number of ids in ``corpus``'s entity vocabulary: the size of the entity embedding."""
    return len(EntityVocab.load(str(corpus.entity_vocab_path)))
