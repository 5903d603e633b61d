"""Tokenization of sentences with a Hugging Face fast tokenizer, each link on whole tokens.

A sentence is tokenized after a space, as LUKE tokenized every sentence (with RoBERTa's ``add_prefix_space``):
its first word then has the form it has in running text (``ĠHe``, not ``He``, with a byte-level BPE;
SentencePiece's ``▁He`` either way), and a decoded row reads as prose (``Semitic. He``; with SentencePiece a
space may follow a link, see below).

A sentence without links is tokenized whole: its ids are exactly what
``AutoTokenizer.from_pretrained(corpus/tokenizer)(" " + text, add_special_tokens=False)`` gives. A sentence
with links is tokenized as transformers' ``LukeTokenizer`` and ``MLukeTokenizer`` (5.x; 4.x's ``LukeTokenizer``
splits alike) tokenize a text given ``entity_spans``: cut at every link start and end (a cut right after a
space moves before it, so the space goes with the text after it: ``" Paris"``), each piece tokenized on its own
and the ids joined (:func:`pieces_at_links`); LUKE's own dataset builder also tokenized the text before, inside
and after each link apart. So the model is pretrained on the ids fine-tuning gives it: ``exported(" " + text,
entity_spans=[(link.start + 1, link.end + 1), ...])`` yields the corpus's ids and mention spans, which the
export checks on validation rows. The cost: around a link a sentence's ids can differ from those of its text
tokenized whole (``[[cat]]fish`` is ``Ġcat fish``, not ``Ġcatfish``; with SentencePiece every piece starts a
word, so the text after a link starts with ``▁``: ``▁Paris ▁,``, which decodes as ``Paris ,``). A link is
therefore always on token boundaries; it is dropped and counted when its tokens include the unknown token
(``mentions_dropped.unknown_token``) or when it has no token (``mentions_dropped.no_tokens``: an anchor a
normaliser removes entirely, e.g. WordPiece's on zero-width characters), and the sentence is then cut at the
other links only. Only mentions are cut at, as LUKE's builder cut only at links of its entity vocabulary: a
sentence with mentions keeps its text (after a space) and each mention its link, so that the packing pass,
which learns the vocabulary's verdict, cuts it again at the mentions it keeps (:meth:`MentionTokenizer.cut_at`).

A byte-level BPE tokenizer (RoBERTa's kind) tokenizes most pieces through :class:`BPEWordMemo`, a memo of
each pre-tokenized word's ids that gives exactly `tokenizers`' ids, faster (2.8× once its words are known,
1.3× on a first pass: ``benchmarks/bench_tokenization.py``); the pieces it cannot vouch for, and every piece
of other tokenizers (SentencePiece, WordPiece), go to `tokenizers` itself.

For those other tokenizers the model's word cache (BPE, Unigram) holds :data:`WORD_CACHE_CAPACITY` words
instead of `tokenizers`' 10,000: a cache only memoises, so the ids stay the same, and a wiki's vocabulary
overflows 10,000 words at once (the enwiki sample alone has ~39,000 distinct pre-tokenized words). It fills
with the first words seen and is never evicted; ~400 bytes a word, i.e. ~100 MB per worker when full (the
memo holds as many words, in about half that).

A worker tokenizes on its own thread: a runner already runs one worker per core, and `tokenizers`' thread
pool would oversubscribe them and costs more CPU per sentence (measured: 4–8 % on per-article batches,
~25 % on large ones).
:class:`MentionTokenizer` sets ``TOKENIZERS_PARALLELISM=false`` in its process unless the variable is set
(the only switch `tokenizers` has; it is read at every batch call): ``TOKENIZERS_PARALLELISM=true`` keeps
the pool, e.g. for a one-worker in-memory run on an otherwise idle laptop.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain

import numpy as np
from tokenizers import Tokenizer

from preprocessing.records import Link
from preprocessing.tokenization.bpe_word_memo import BPEWordMemo
from preprocessing.wikitext.sentences import Sentence

WORD_CACHE_CAPACITY = 250_000


@dataclass(frozen=True)
class Mention:
    """A link mapped to tokens: ``word_ids[start:end]`` of its sentence spell the anchor text."""

    target: str
    start: int
    end: int  # exclusive
    link: Link | None = field(default=None, compare=False)  # in the sentence's ``text``: to cut it again


@dataclass(frozen=True, eq=False)
class TokenizedSentence:
    """A sentence's ids and mentions; one cut at its mentions also keeps its text (after a space), so that it can
    be cut again at fewer of them (:meth:`MentionTokenizer.cut_at`) when packing drops some."""

    word_ids: np.ndarray  # int32
    mentions: tuple[Mention, ...]
    text: str | None = None


@dataclass(frozen=True)
class Pieces:
    """A text cut at its links as transformers' LUKE tokenizers cut it: ``texts`` join to the text, and a
    link boundary at character ``c`` falls before piece ``piece_at[c]``."""

    texts: list[str]
    piece_at: dict[int, int]


def pieces_at_links(text: str, links: Sequence[Link]) -> Pieces:
    """``text`` cut at every link start and end, as ``LukeTokenizer``/``MLukeTokenizer`` cut a text at its
    ``entity_spans``: a cut right after a space moves before that space; the last piece may be empty."""
    texts: list[str] = []
    piece_at: dict[int, int] = {}
    cut = 0
    for position in sorted({boundary for link in links for boundary in (link.start, link.end)}):
        at = position - 1 if position > 0 and text[position - 1] == " " else position
        if at != cut:
            texts.append(text[cut:at])
            cut = at
        piece_at[position] = len(texts)
    texts.append(text[cut:])
    return Pieces(texts, piece_at)


class MentionTokenizer:
    """Tokenizes sentences and maps their links to token spans (one instance per worker)."""

    def __init__(self, tokenizer_json: str, word_memo: bool = True) -> None:
        """``word_memo=False`` sends every piece to `tokenizers` (the memo's baseline in tests and
        benchmarks)."""
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self._memo = BPEWordMemo.for_tokenizer(self.tokenizer) if word_memo else None
        resize_cache = getattr(self.tokenizer.model, "_resize_cache", None)  # BPE and Unigram have a cache
        if self._memo is None and resize_cache is not None:
            resize_cache(WORD_CACHE_CAPACITY)
        unk = self._unk_token(tokenizer_json)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk is not None else None

    @staticmethod
    def _unk_token(tokenizer_json: str) -> str | None:
        model = json.loads(tokenizer_json).get("model", {})
        if "unk_token" in model:
            return model["unk_token"]
        if model.get("type") == "Unigram" and model.get("unk_id") is not None:
            return model["vocab"][model["unk_id"]][0]
        return None

    def tokenize(self, sentences: Sequence[Sentence], counts: Counter) -> list[TokenizedSentence]:
        """Tokenize ``sentences``, each preceded by a space and cut at its links (see the module docstring);
        dropped links are counted in ``counts``.

        A byte-level BPE tokenizer's word memo (:class:`BPEWordMemo`) takes the pieces it can; the others go
        to `tokenizers` in one batch (ids only: no offsets are needed).
        """
        sentences = [_after_a_space(sentence) for sentence in sentences]
        cuts = [pieces_at_links(sentence.text, sentence.links) for sentence in sentences]
        ids = iter(self._encode([text for pieces in cuts for text in pieces.texts]))
        tokenized = []
        for sentence, pieces in zip(sentences, cuts, strict=True):
            sentence_ids = [next(ids) for _ in pieces.texts]
            if not sentence.links:  # one piece: the sentence tokenized whole
                tokenized.append(TokenizedSentence(np.asarray(sentence_ids[0], dtype=np.int32), ()))
                continue
            cut = self._cut(sentence.text, pieces, sentence_ids, sentence.links, counts)
            if len(cut.mentions) < len(sentence.links):  # cut only where mentions are
                cut = self._recut(sentence.text, cut.mentions)
            tokenized.append(cut)
        return tokenized

    def cut_at(self, sentence: TokenizedSentence, mentions: Sequence[Mention]) -> TokenizedSentence:
        """``sentence`` cut again at ``mentions`` only (some of its own, in order): the ids it then has, and those
        mentions at their new token positions. Without mentions, the sentence tokenized whole."""
        return self._recut(sentence.text, mentions)

    def _recut(self, text: str, mentions: Sequence[Mention]) -> TokenizedSentence:
        links = [mention.link for mention in mentions]
        pieces = pieces_at_links(text, links)
        return self._cut(text, pieces, self._encode(pieces.texts), links, None)

    def _cut(
        self,
        text: str,
        pieces: Pieces,
        piece_ids: list[list[int]],
        links: Sequence[Link],
        counts: Counter | None,
    ) -> TokenizedSentence:
        """The sentence from its pieces' ids, a mention per link; with ``counts``, links without tokens or with
        the unknown token are dropped and counted (``counts=None``: links that were mentions already)."""
        ids = list(chain.from_iterable(piece_ids))
        if not links:
            return TokenizedSentence(np.asarray(ids, dtype=np.int32), ())
        first_token = list(accumulate(map(len, piece_ids), initial=0))
        mentions = []
        for link in links:
            start, end = first_token[pieces.piece_at[link.start]], first_token[pieces.piece_at[link.end]]
            if counts is not None and start >= end:
                counts["mentions_dropped.no_tokens"] += 1
            elif counts is not None and self.unk_id is not None and self.unk_id in ids[start:end]:
                counts["mentions_dropped.unknown_token"] += 1
            else:
                mentions.append(Mention(link.target, start, end, link))
        return TokenizedSentence(np.asarray(ids, dtype=np.int32), tuple(mentions), text if mentions else None)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Each text's ids: the word memo's where it can, `tokenizers`' (one batch, ids only) for the others."""
        encoded = [self._memo.encode(text) for text in texts] if self._memo is not None else [None] * len(texts)
        left = [text for text, ids in zip(texts, encoded, strict=True) if ids is None]
        from_tokenizers = iter(
            [encoding.ids for encoding in self.tokenizer.encode_batch_fast(left, add_special_tokens=False)]
        )
        return [found if found is not None else next(from_tokenizers) for found in encoded]


def _after_a_space(sentence: Sentence) -> Sentence:
    """``sentence`` as it reads after the text before it: with one space in front."""
    links = tuple(Link(link.start + 1, link.end + 1, link.target) for link in sentence.links)
    return Sentence(" " + sentence.text, links)
