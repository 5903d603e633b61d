"""Test helpers that build what a corpus needs: local tokenizers (the hub is unreachable) and sample corpora.

``train_bpe_tokenizer`` stands in for roberta-large: a byte-level BPE trained with ``tokenizers`` on the
dump's text and saved as a ``RobertaTokenizer`` directory; ``build_sample_corpus`` runs the real
``build_corpus`` on a dump.
"""

from __future__ import annotations

import bz2
import json
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IN_PROCESS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


@dataclass(frozen=True)
class DumpPage:
    page_id: int
    namespace: int
    title: str
    redirect: str | None
    wikitext: str


def read_dump_pages(path: Path) -> Iterator[DumpPage]:
    """Every page of a sample dump, read with the standard library (independently of the pipeline)."""
    with bz2.open(path) as stream:
        for _, element in ET.iterparse(stream):
            if element.tag.rsplit("}", 1)[-1] != "page":
                continue
            fields = {child.tag.rsplit("}", 1)[-1]: child for child in element}
            revision = {child.tag.rsplit("}", 1)[-1]: child for child in fields["revision"]}
            redirect = fields.get("redirect")
            yield DumpPage(
                int(fields["id"].text),
                int(fields["ns"].text),
                fields["title"].text,
                redirect.get("title") if redirect is not None else None,
                revision["text"].text or "",
            )
            element.clear()


def article_sentences(dump: Path, language: str) -> list[list]:
    """Each article's sentences (with their links), in dump order, as the job makes them: wikiextractor via
    the wikitext parser, then the ICU sentence splitter."""
    from preprocessing.sources.reading import read_site_info
    from preprocessing.wikitext.parser import WikitextParser
    from preprocessing.wikitext.sentences import SentenceSplitter

    parser, splitter = WikitextParser(read_site_info([str(dump)])), SentenceSplitter(language)
    articles = []
    for page in read_dump_pages(dump):
        if page.namespace == 0 and page.redirect is None:
            paragraphs = parser.parse(page.page_id, page.title, page.wikitext).paragraphs
            articles.append([sentence for paragraph in paragraphs for sentence in splitter.split(paragraph)])
    return articles


def train_bpe_tokenizer(dump: Path, directory: Path, vocab_size: int = 4000) -> Path:
    """A byte-level BPE (RoBERTa's kind) trained on the dump's article wikitext, saved as a RobertaTokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    texts = [page.wikitext for page in read_dump_pages(dump) if page.namespace == 0 and page.redirect is None]
    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=specials, show_progress=False)
    with tempfile.TemporaryDirectory() as scratch:
        bpe.save_model(scratch)
        vocab = json.loads((Path(scratch) / "vocab.json").read_text(encoding="utf-8"))
        lines = (Path(scratch) / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    RobertaTokenizer(vocab=vocab, merges=merges).save_pretrained(directory)
    return directory


def build_sample_corpus(
    dump: Path | None, output: Path, beam_args=IN_PROCESS, overwrite: bool = False, **options
) -> Path:
    """Run the real corpus build on ``dump`` (or on ``documents=``) into ``output`` (keep_missing_targets: the
    dumps are slices)."""
    from preprocessing.corpus.build import CorpusBuildConfig, build_corpus
    from preprocessing.corpus.packing import PackingOptions

    packing_names = set(PackingOptions.__dataclass_fields__)
    packing = PackingOptions(**{name: options.pop(name) for name in list(options) if name in packing_names})
    options.setdefault("keep_missing_targets", True)
    dumps = (str(dump),) if dump is not None else ()
    config = CorpusBuildConfig(dumps=dumps, output=str(output), packing=packing, **options)
    build_corpus(config, list(beam_args), overwrite=overwrite)
    return output
