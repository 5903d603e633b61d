"""The ledger: the counts of every pass, checked against each other before ``metadata.json`` is written.

Each pass carries its counts as data (``beam.reports``), so they reach the driver on every runner. A
:class:`Balance` says that what one stage handed on equals what the next one received or dropped, by reason; the
two sides are counted in different places (often on different sides of a shuffle, or in different passes), so
an element lost in between — by a runner or by our code — breaks one of them. :func:`check_ledger` raises
:class:`LedgerError` naming the first balance that fails, and returns every balance for ``metadata.json``.
Count names are ``<pass>/<count>``: ``titles/`` (title and table passes), ``articles/``, ``vocabulary/``,
``packing/``.
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE_KINDS = ("article", "redirect")
LINK_DROPS = ("missing_target", "redirect_loop", "redirect_chain_too_long")
PACKING_SENTENCE_DROPS = ("too_short", "too_long", "sequence_without_entities")
PACKING_MENTION_DROPS = ("too_long", "entity_not_in_vocab", "over_entity_limit", "in_dropped_sentence")


class LedgerError(RuntimeError):
    """Two stages' counts do not balance: an element was lost between them."""


@dataclass(frozen=True)
class Balance:
    """``sum(left) == sum(right)`` over the named counts (a missing count is 0)."""

    stage: str
    left: tuple[str, ...]
    right: tuple[str, ...]

    def sides(self, counts: dict[str, int]) -> tuple[int, int]:
        return sum(counts.get(name, 0) for name in self.left), sum(counts.get(name, 0) for name in self.right)


def _names(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}" for name in names)


def title_balances() -> list[Balance]:
    """The title pass: pages by kind; every title read is in the table (across the runs merged by part)."""
    return [
        Balance(
            "title pass: pages by kind",
            ("titles/pages.read",),
            _names("titles/pages.", "articles", "redirects", "other_namespace"),
        ),
        Balance(
            "title table: titles and redirects read = titles in its parts",
            ("titles/pages.articles", "titles/pages.redirects"),
            _names("titles/table.", *TITLE_KINDS, "duplicates", "beyond_max_pages"),
        ),
    ]


def dump_article_balances() -> list[Balance]:
    """The article pass over a dump: it read what the title pass read; article pages; link resolution."""
    return [
        Balance("article pass: pages read = the title pass's", ("articles/pages.read",), ("titles/pages.read",)),
        Balance(
            "article pass: pages by kind",
            ("articles/pages.read",),
            _names("articles/pages.", "articles", "redirects", "other_namespace"),
        ),
        Balance(
            "article pass: article pages",
            ("articles/pages.articles",),
            _names(
                "articles/",
                "articles.parsed",
                "pages_failed.extraction_error",
                "articles.without_text",
                "articles.beyond_max_pages",
            ),
        ),
        Balance(
            "link resolution",
            ("articles/links.parsed",),
            ("articles/links.kept", *_names("articles/links_dropped.", *LINK_DROPS)),
        ),
    ]


def vocabulary_balances() -> list[Balance]:
    """The vocabulary counted every kept link (across the runs summed by part)."""
    return [
        Balance("entity vocabulary: links counted", ("articles/links.kept",), ("vocabulary/entities.links_counted",))
    ]


def corpus_balances(splits: list[str]) -> list[Balance]:
    """Sentences, tokens and article files of the article pass; the packing pass read them all and wrote every
    sequence it made."""
    written = _names("articles/articles.written.", *splits)
    balances = [
        Balance(
            "sentence splitting", ("articles/links.kept",), ("articles/links", "articles/mentions_dropped.blank_anchor")
        ),
        Balance(
            "tokenization",
            ("articles/links",),
            _names("articles/", "mentions", "mentions_dropped.no_tokens", "mentions_dropped.unknown_token"),
        ),
        Balance("article files: articles written", ("articles/articles.parsed",), written),
        Balance("packing pass: articles read = written", ("packing/articles.packed",), written),
        Balance("packing pass: sentences read = written", ("packing/sentences.in",), ("articles/sentences",)),
        Balance("packing pass: mentions read = written", ("packing/mentions.in",), ("articles/mentions",)),
        Balance(
            "packing: sentences",
            ("packing/sentences.in",),
            ("packing/sentences.packed", *_names("packing/sentences_dropped.", *PACKING_SENTENCE_DROPS)),
        ),
        Balance(
            "packing: mentions",
            ("packing/mentions.in",),
            (
                *_names("packing/split.", *(f"{split}.mentions" for split in splits)),
                *_names("packing/mentions_dropped.", *PACKING_MENTION_DROPS),
            ),
        ),
        Balance(
            "packing: sequences made = in the shards",
            ("packing/sequences",),
            _names("packing/split.", *(f"{split}.sequences" for split in splits)),
        ),
    ]
    for split in splits:
        balances.append(
            Balance(
                f"shards: {split} rows written = read back",
                (f"packing/split.{split}.sequences",),
                (f"packing/split.{split}.rows_written",),
            )
        )
    return balances


def check_ledger(balances: list[Balance], counts: dict[str, int]) -> list[dict]:
    """Every balance with its two sides; :class:`LedgerError` (one line) naming the first that does not hold."""
    record = []
    for balance in balances:
        left, right = balance.sides(counts)
        if left != right:
            raise LedgerError(
                f"the counts do not balance at the {balance.stage}: {' + '.join(balance.left)} = {left:,} but "
                f"{' + '.join(balance.right)} = {right:,} ({abs(left - right):,} element(s) lost or made in between)"
            )
        record.append({"stage": balance.stage, "left": list(balance.left), "right": list(balance.right), "count": left})
    return record


def prefixed(prefix: str, counts: dict[str, int]) -> dict[str, int]:
    """``counts`` with every name as ``<prefix>/<name>``."""
    return {f"{prefix}/{name}": value for name, value in counts.items()}


def unprefixed(prefix: str, counts: dict[str, int]) -> dict[str, int]:
    """The counts named ``<prefix>/<name>`` in ``counts``, as ``name`` (``prefixed``'s inverse)."""
    return {name.removeprefix(f"{prefix}/"): value for name, value in counts.items() if name.startswith(f"{prefix}/")}
