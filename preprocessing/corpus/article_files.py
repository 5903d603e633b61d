"""Tokenized articles between the article pass and the packing pass: one file per unit and split, written
where the unit is read and read back by the shard that packs it (they never cross a shuffle).

A file is a sequence of pickled :class:`TokenizedArticle`, in the unit's page order, written atomically (all
or nothing) on any Beam filesystem, under the job's scratch directory: ``articles/<split>/unit-000042.pickles``.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import numpy as np
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import atomic_create
from preprocessing.records import Link
from preprocessing.tokenization.mentions import Mention, TokenizedSentence

ARTICLES_DIR = "articles"


class TokenizedArticle:
    """An article's sentences, tokenized; mentions keep their entity title (the vocabulary comes later).

    Held flat, as it is pickled: one int32 buffer for all the word ids, the sentence lengths, the mentions as
    ``(sentence index, target, start, end, link start, link end)`` tuples and the text of each sentence with
    mentions as ``(sentence index, text)`` (the packing pass cuts a sentence again at the mentions it keeps).
    ``sentences`` rebuilds the per-sentence view.
    """

    __slots__ = ("_ids", "_lengths", "_mentions", "_texts", "page_id")

    def __init__(self, page_id: int, sentences: Sequence[TokenizedSentence]) -> None:
        ids = [sentence.word_ids for sentence in sentences]
        self.page_id = page_id
        self._ids = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, dtype=np.int32)
        self._lengths = np.fromiter((len(part) for part in ids), dtype=np.int32, count=len(ids))
        self._mentions = tuple(
            (index, mention.target, mention.start, mention.end, *_link_span(mention))
            for index, sentence in enumerate(sentences)
            for mention in sentence.mentions
        )
        self._texts = tuple((index, sentence.text) for index, sentence in enumerate(sentences) if sentence.text)

    @property
    def has_mentions(self) -> bool:
        return bool(self._mentions)

    @property
    def num_sentences(self) -> int:
        return len(self._lengths)

    @property
    def num_mentions(self) -> int:
        return len(self._mentions)

    @property
    def sentences(self) -> tuple[TokenizedSentence, ...]:
        by_sentence: list[list[Mention]] = [[] for _ in self._lengths]
        for index, target, start, end, link_start, link_end in self._mentions:
            link = Link(link_start, link_end, target) if link_start >= 0 else None
            by_sentence[index].append(Mention(target, start, end, link))
        texts = dict(self._texts)
        ends = np.cumsum(self._lengths).tolist()
        return tuple(
            TokenizedSentence(self._ids[end - length : end], tuple(mentions), texts.get(index))
            for index, (end, length, mentions) in enumerate(zip(ends, self._lengths.tolist(), by_sentence, strict=True))
        )

    def __reduce__(self):
        state = (self.page_id, self._ids.tobytes(), self._lengths.tobytes(), self._mentions, self._texts)
        return _rebuild_article, state


def _link_span(mention: Mention) -> tuple[int, int]:
    return (mention.link.start, mention.link.end) if mention.link is not None else (-1, -1)


def _rebuild_article(page_id: int, ids: bytes, lengths: bytes, mentions: tuple, texts: tuple) -> TokenizedArticle:
    article = TokenizedArticle.__new__(TokenizedArticle)
    article.page_id, article._mentions, article._texts = page_id, mentions, texts
    article._ids = np.frombuffer(ids, dtype=np.int32)
    article._lengths = np.frombuffer(lengths, dtype=np.int32)
    return article


def article_file_path(build_dir: str, split: str, unit: int) -> str:
    return FileSystems.join(build_dir, ARTICLES_DIR, split, f"unit-{unit:06d}.pickles")


class ArticleFileWriter:
    """Writes a unit's articles to one file per split (every split's file, empty ones too), atomically."""

    def __init__(self, build_dir: str, splits: Sequence[str], unit: int) -> None:
        self._stack = contextlib.ExitStack()
        self._streams: dict[str, BinaryIO] = {
            split: self._stack.enter_context(atomic_create(article_file_path(build_dir, split, unit)))
            for split in splits
        }

    def write(self, split: str, article: TokenizedArticle) -> None:
        pickle.dump(article, self._streams[split], protocol=pickle.HIGHEST_PROTOCOL)

    def __enter__(self) -> ArticleFileWriter:
        return self

    def __exit__(self, *exc_info) -> bool | None:
        return self._stack.__exit__(*exc_info)


def read_article_file(build_dir: str, split: str, unit: int) -> Iterator[TokenizedArticle]:
    """The articles of one unit and split, in the order written; ``FileNotFoundError`` naming the file if the
    article pass did not write it."""
    path = article_file_path(build_dir, split, unit)
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"{path}: the article pass wrote no file for unit {unit} ({split})")
    with FileSystems.open(path) as stream:
        while True:
            try:
                yield pickle.load(stream)
            except EOFError:
                return
