"""The entity vocabulary: ids of Wikipedia entities, in the official LUKE file formats.

- jsonl (LUKE, mLUKE): one object a line, ``{"id": 3, "entities": [["Computer science", "en"]], "count": 12}``;
  several ``[title, language]`` pairs may share an id (mLUKE). Our special entries carry language null.
- tsv (early LUKE): ``title<TAB>count`` a line, the line number being the id.
- a Hugging Face LUKE model directory (a released ``studio-ousia/luke-*``/``mluke-*``, or an export): its
  tokenizer's ``entity_vocab`` (``{"Title": id}``, mLUKE's keys ``"en:Title"``), ids kept as they are.

Ids 0, 1, 2 are ``[PAD]``, ``[UNK]``, ``[MASK]``; then entities by count descending, ties by title, so the
same counts always give the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from preprocessing.defaults import DEFAULT_VOCAB_SIZE

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_ENTITIES = (PAD, UNK, MASK)
PAD_ID, UNK_ID, MASK_ID = 0, 1, 2
# the jsonl vocabulary of the whole enwiki sample: 16,827 entries in 1,137,313 bytes (68 a line), from
# 6,089,746 bytes of XML
JSONL_BYTES_PER_ENTRY = 68
WRITE_BLOCK_ENTRIES = 4_096  # lines joined into one write by EntityVocab.write_ranked
JSONL_BYTES_PER_XML_BYTE = 0.19


def estimated_file_bytes(entries: int, xml_bytes: int) -> int:
    """The size of a vocabulary of at most ``entries`` entries built from ``xml_bytes`` of dump XML: the
    smaller of the two bounds measured on the sample (a vocabulary grows with the dump up to its size limit)."""
    return int(min(entries * JSONL_BYTES_PER_ENTRY, xml_bytes * JSONL_BYTES_PER_XML_BYTE))


def _read_bytes(path: str) -> bytes:
    """The file through Beam's file systems (gs://, s3://, decompressed by extension), or from the local disk where
    Beam is not installed (a training-only machine such as the GPU suite's)."""
    try:
        from apache_beam.io.filesystems import FileSystems
    except ImportError:
        return Path(path).read_bytes()
    with FileSystems.open(path) as stream:
        return stream.read()


class EntityVocabError(ValueError):
    """A malformed entity vocabulary file (the message names the file and line)."""


@dataclass(frozen=True)
class VocabEntry:
    """One id of the vocabulary: its ``(title, language)`` names and the link count it was built from."""

    entities: tuple[tuple[str, str | None], ...]
    count: int

    @property
    def title(self) -> str:
        return self.entities[0][0]


class EntityVocab:
    """Title ↔ id lookup over a list of entries whose index is the id."""

    def __init__(self, entries: Sequence[VocabEntry], source: str = "<memory>") -> None:
        for entity_id, special in enumerate(SPECIAL_ENTITIES):
            if len(entries) <= entity_id or entries[entity_id].title != special:
                found = entries[entity_id].title if len(entries) > entity_id else "nothing"
                raise EntityVocabError(f"{source}: id {entity_id} must be the special entry {special}, found {found!r}")
        self._entries = tuple(entries)
        self._ids: dict[str, int] = {}
        for entity_id, entry in enumerate(self._entries):
            for title, _ in entry.entities:
                if self._ids.setdefault(title, entity_id) != entity_id:
                    raise EntityVocabError(
                        f"{source}: title {title!r} appears under ids {self._ids[title]} and {entity_id}"
                    )

    @classmethod
    def from_counts(
        cls,
        counts: Iterable[tuple[str, int]],
        size: int = DEFAULT_VOCAB_SIZE,
        min_count: int = 1,
        language: str | None = None,
    ) -> EntityVocab:
        """The special entries, then the ``size - 3`` most frequent titles with at least ``min_count`` links."""
        if size < len(SPECIAL_ENTITIES):
            raise ValueError(f"the vocabulary size must be at least {len(SPECIAL_ENTITIES)}, got {size}")
        ranked = sorted(((title, count) for title, count in counts if count >= min_count), key=rank_key)
        ranked = ranked[: size - len(SPECIAL_ENTITIES)]
        entries = [VocabEntry(((special, None),), 0) for special in SPECIAL_ENTITIES]
        entries += [VocabEntry(((title, language),), count) for title, count in ranked]
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, title: str) -> bool:
        return title in self._ids

    def __getitem__(self, title: str) -> int:
        return self._ids[title]

    def get_id(self, title: str, default: int = UNK_ID) -> int:
        """The id of ``title``, or ``default`` ([UNK]) when it is not in the vocabulary."""
        return self._ids.get(title, default)

    def title_of(self, entity_id: int) -> str:
        return self._entries[entity_id].title

    @property
    def entries(self) -> tuple[VocabEntry, ...]:
        return self._entries

    def title_to_id(self) -> dict[str, int]:
        """A copy of the title → id mapping (e.g. for ``LukeTokenizer(entity_vocab=...)``)."""
        return dict(self._ids)

    def to_jsonl(self) -> str:
        return "".join(_jsonl_line(entity_id, entry) for entity_id, entry in enumerate(self._entries))

    def to_tsv(self) -> str:
        return "".join([_tsv_line(entity_id, entry) for entity_id, entry in enumerate(self._entries)])

    def checksum(self) -> str:
        """``sha256:<hex>`` of the jsonl serialisation: equal for equal vocabularies, whatever the file format."""
        return "sha256:" + hashlib.sha256(self.to_jsonl().encode("utf-8")).hexdigest()

    def save(self, path: str) -> None:
        """Write jsonl (or tsv for a ``.tsv`` path) atomically: the file appears complete or not at all."""
        from preprocessing.beam.atomic import write_bytes  # Beam (gs://, s3://, ...) imported when used

        write_bytes(path, (self.to_tsv() if path.endswith(".tsv") else self.to_jsonl()).encode("utf-8"))

    @staticmethod
    def write_ranked(path: str, ranked: Iterable[tuple[str, int]], language: str | None = None) -> int:
        """Write the special entries, then ``ranked`` ``(title, count)`` pairs in their order (distinct titles), as
        :meth:`save` would write the vocabulary of those entries, a block of lines at a time; return the number of
        entries. What a vocabulary too large to hold as objects is written with."""
        from preprocessing.beam.atomic import atomic_create  # Beam imported when used

        line = _tsv_line if path.endswith(".tsv") else _jsonl_line
        specials = (VocabEntry(((special, None),), 0) for special in SPECIAL_ENTITIES)
        entries = itertools.chain(specials, (VocabEntry(((title, language),), count) for title, count in ranked))
        written = 0
        with atomic_create(path) as stream:
            while block := list(itertools.islice(entries, WRITE_BLOCK_ENTRIES)):
                stream.write("".join(line(written + index, entry) for index, entry in enumerate(block)).encode())
                written += len(block)
        return written

    @staticmethod
    def file_summary(path: str) -> tuple[int, str]:
        """``(len, checksum())`` of the vocabulary in a file that :meth:`save` or :meth:`write_ranked` wrote, read a
        line at a time instead of loaded (a tsv file's entries have no language, as when loaded)."""
        from apache_beam.io.filesystems import FileSystems  # Beam imported when used

        digest, entries = hashlib.sha256(), 0
        with FileSystems.open(path) as stream:
            for line in stream:
                if path.endswith(".tsv"):
                    title, count = line.decode("utf-8").rstrip("\n").rsplit("\t", 1)
                    line = _jsonl_line(entries, VocabEntry(((title, None),), int(count))).encode("utf-8")
                digest.update(line)
                entries += 1
        return entries, "sha256:" + digest.hexdigest()

    @classmethod
    def load(cls, path: str) -> EntityVocab:
        """Read a jsonl or tsv (by extension) vocabulary, or a LUKE model directory's; clear errors for malformed
        files."""
        if Path(path).is_dir():
            return cls.from_luke_tokenizer(path)

        try:
            text = _read_bytes(path).decode("utf-8")
        except UnicodeDecodeError as error:
            raise EntityVocabError(f"{path}: not UTF-8 text ({error})") from error
        except Exception as error:
            raise EntityVocabError(f"cannot read entity vocabulary {path}: {error}") from error
        lines = text.splitlines()
        entries = _parse_tsv(lines, path) if path.endswith(".tsv") else _parse_jsonl(lines, path)
        return cls(entries, source=path)

    @classmethod
    def from_luke_tokenizer(cls, directory: str) -> EntityVocab:
        """The entity vocabulary of the LUKE tokenizer in ``directory``, every id as it is there (counts 0)."""
        from transformers import AutoTokenizer

        try:
            title_ids = getattr(AutoTokenizer.from_pretrained(directory), "entity_vocab", None)
        except (OSError, ValueError) as error:
            raise EntityVocabError(f"cannot read the tokenizer of {directory}: {error}") from error
        if not title_ids:
            raise EntityVocabError(f"{directory}: its tokenizer holds no entity vocabulary (not a LUKE model)")
        names: dict[int, list[tuple[str, str | None]]] = {}
        for key, entity_id in title_ids.items():
            prefixed = _LANGUAGE_PREFIX.fullmatch(key)
            names.setdefault(entity_id, []).append((prefixed[2], prefixed[1]) if prefixed else (key, None))
        if sorted(names) != list(range(len(names))):
            raise EntityVocabError(f"{directory}: its entity ids are not 0..{len(names) - 1}")
        return cls([VocabEntry(tuple(names[entity_id]), 0) for entity_id in range(len(names))], source=directory)


_LANGUAGE_PREFIX = re.compile(r"([a-z]{2,3}(?:-[a-z0-9]+)*):(.+)")  # mLUKE's "en:Title"


def rank_key(title_count: tuple[str, int]) -> tuple[int, str]:
    """Vocabulary order: count descending, then title."""
    title, count = title_count
    return -count, title


def _jsonl_line(entity_id: int, entry: VocabEntry) -> str:
    item = {"id": entity_id, "entities": [list(pair) for pair in entry.entities], "count": entry.count}
    return json.dumps(item, ensure_ascii=False) + "\n"


def _tsv_line(_: int, entry: VocabEntry) -> str:
    if any(ch in entry.title for ch in "\t\n"):
        raise EntityVocabError(f"title {entry.title!r} cannot be written to a tsv vocabulary")
    return f"{entry.title}\t{entry.count}\n"


def _parse_jsonl(lines: list[str], path: str) -> list[VocabEntry]:
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise EntityVocabError(f"{where}: invalid JSON ({error.msg})") from error
        if not isinstance(item, dict) or not {"id", "entities", "count"} <= item.keys():
            raise EntityVocabError(f"{where}: expected an object with 'id', 'entities' and 'count'")
        if item["id"] != len(entries):
            raise EntityVocabError(
                f"{where}: expected id {len(entries)}, found {item['id']!r} (ids must be 0, 1, 2, ...)"
            )
        pairs = item["entities"]
        if not isinstance(pairs, list) or not pairs or not all(_is_entity_pair(pair) for pair in pairs):
            raise EntityVocabError(f"{where}: 'entities' must be a non-empty list of [title, language] pairs")
        if not isinstance(item["count"], int):
            raise EntityVocabError(f"{where}: 'count' must be an integer")
        entries.append(VocabEntry(tuple((title, language) for title, language in pairs), item["count"]))
    return entries


def _is_entity_pair(pair: object) -> bool:
    return (
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and bool(pair[0])
        and (pair[1] is None or isinstance(pair[1], str))
    )


def _parse_tsv(lines: list[str], path: str) -> list[VocabEntry]:
    entries = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0] or not fields[1].strip().isdigit():
            raise EntityVocabError(f"{path}, line {number}: expected 'title<TAB>count', got {line[:80]!r}")
        entries.append(VocabEntry(((fields[0], None),), int(fields[1])))
    return entries
