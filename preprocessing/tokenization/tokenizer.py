"""The corpus tokenizer: an existing Hugging Face tokenizer, or a SentencePiece model trained on the corpus.

Whichever the source, the corpus holds a ``tokenizer/`` directory written by ``save_pretrained``, and the
job tokenizes with the ``tokenizer.json`` that ``AutoTokenizer.from_pretrained`` gives back *from that
directory* (:func:`tokenizer_json_of`), so the shard ids are exactly the directory's ids.

A trained tokenizer is a SentencePiece unigram model (``<unk>``=0, ``<s>``=1, ``</s>``=2, ``<pad>``=3,
``<mask>``=4, then the pieces) saved as a plain fast tokenizer whose pipeline is exactly the one that
transformers 5.x's ``MLukeTokenizer`` rebuilds in code when it loads (unknown piece at id 0, a normaliser that
only maps ``` `` ```/``''`` to ``"``, ``Metaspace`` pre-tokenisation), so the exported mLUKE tokenizer gives
the corpus's ids on any text, not only on text the vocabulary covers. SentencePiece trains with that
normalisation too (no NFKC), is fed sentences (its trainer silently skips inputs longer than
``max_sentence_length``, and most Wikipedia paragraphs are), and the converted tokenizer is checked against
``SentencePieceProcessor`` on the training sentences before it is used.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SPECIAL_PIECES = {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": 3}  # SentencePiece's order; <mask> is 4
SPECIAL_TOKENS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
MASK_PIECE = "<mask>"
QUOTE_RULES = (("``", '"'), ("''", '"'))  # MLukeTokenizer's whole normaliser, applied in training too
MIN_AGREEMENT = 0.99  # share of training sentences on which HF ids must equal SentencePiece's
MAX_SENTENCE_BYTES = 1 << 16


class TokenizerError(ValueError):
    """A tokenizer that cannot serve the corpus (message names it)."""


@dataclass(frozen=True)
class TrainedTokenizer:
    """A trained tokenizer: its directory's files (name → bytes), the ``tokenizer.json`` text that
    AutoTokenizer gives back from them, and facts about the training."""

    files: dict[str, bytes]
    tokenizer_json: str
    info: dict


def load_fast_tokenizer(name_or_path: str):
    """``AutoTokenizer.from_pretrained(name_or_path)``, which must be a fast (Rust-backed) tokenizer."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise TokenizerError(f"cannot load tokenizer {name_or_path!r}: {error}") from error
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise TokenizerError(
            f"tokenizer {name_or_path!r} ({type(tokenizer).__name__}) is not a fast tokenizer: the corpus needs "
            "character offsets to map links to tokens"
        )
    return tokenizer


def tokenizer_json_of(directory: str | Path) -> str:
    """The ``tokenizer.json`` text of the tokenizer that ``AutoTokenizer`` loads from ``directory``."""
    return load_fast_tokenizer(str(directory)).backend_tokenizer.to_str()


def save_tokenizer_files(tokenizer) -> dict[str, bytes]:
    """The files ``tokenizer.save_pretrained`` writes, as name → bytes."""
    with tempfile.TemporaryDirectory() as directory:
        tokenizer.save_pretrained(directory)
        return {path.name: path.read_bytes() for path in sorted(Path(directory).iterdir()) if path.is_file()}


def train_sentencepiece_tokenizer(
    sentences: Sequence[str], vocab_size: int, character_coverage: float = 0.9995
) -> TrainedTokenizer:
    """Train a unigram SentencePiece model on ``sentences`` and convert it to a fast tokenizer laid out as
    ``MLukeTokenizer`` rebuilds it (see the module docstring).

    Deterministic for the same sentences in the same order (one training thread, no input shuffling).
    """
    import sentencepiece as spm
    from transformers.utils import sentencepiece_model_pb2_new as sentencepiece_model

    sentences = [sentence for sentence in sentences if sentence.strip()]
    if not sentences:
        raise TokenizerError("no text to train the tokenizer on: the sample of the corpus is empty")
    model = io.BytesIO()
    with tempfile.TemporaryDirectory() as directory:
        rules = Path(directory) / "quote_rules.tsv"
        rules.write_text("".join(f"{_code_points(source)}\t{_code_points(target)}\n" for source, target in QUOTE_RULES))
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # a small sample may hold fewer pieces: take what it has
                model_type="unigram",
                control_symbols=[MASK_PIECE],
                character_coverage=character_coverage,
                normalization_rule_tsv=str(rules),
                remove_extra_whitespaces=False,  # as the Metaspace pre-tokenizer, which keeps whitespace runs
                max_sentence_length=MAX_SENTENCE_BYTES,
                input_sentence_size=0,
                shuffle_input_sentence=False,
                num_threads=1,
                minloglevel=2,
                **SPECIAL_PIECES,
            )
        except RuntimeError as error:
            raise TokenizerError(
                f"SentencePiece could not train a {vocab_size}-piece vocabulary on {len(sentences)} sentences: {error}"
            ) from error
    proto = sentencepiece_model.ModelProto()
    proto.ParseFromString(model.getvalue())
    files = save_tokenizer_files(_mluke_layout_tokenizer([(piece.piece, piece.score) for piece in proto.pieces]))
    tokenizer_json, agreement = _reload_and_check(files, model.getvalue(), sentences)
    return TrainedTokenizer(
        files,
        tokenizer_json,
        {
            "source": "sentencepiece-unigram",
            "requested_vocab_size": vocab_size,
            "reached_vocab_size": len(proto.pieces),  # smaller when the text holds too few distinct pieces
            "training_sentences": len(sentences),
            "character_coverage": character_coverage,
            "agreement_with_sentencepiece": agreement,
        },
    )


def _code_points(text: str) -> str:
    """``text`` as SentencePiece's normalisation rules write it: hex code points separated by spaces."""
    return " ".join(f"{ord(character):X}" for character in text)


def _mluke_layout_tokenizer(pieces: list[tuple[str, float]]):
    """A ``PreTrainedTokenizerFast`` over the unigram ``pieces`` with the normaliser, pre-tokenizer and
    decoder of transformers 5.x's ``MLukeTokenizer`` and RoBERTa-style ``<s> A </s></s> B </s>`` framing."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(Unigram(pieces, unk_id=SPECIAL_PIECES["unk_id"], byte_fallback=False))
    backend.normalizer = normalizers.Sequence([normalizers.Replace(old, new) for old, new in QUOTE_RULES])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = SPECIAL_TOKENS["bos_token"], SPECIAL_TOKENS["eos_token"]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, SPECIAL_PIECES["bos_id"]), (eos, SPECIAL_PIECES["eos_id"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **SPECIAL_TOKENS,
        cls_token=bos,
        sep_token=eos,
        mask_token=AddedToken(MASK_PIECE, lstrip=True, rstrip=False, special=True),  # as MLukeTokenizer's
    )


def _reload_and_check(files: dict[str, bytes], model: bytes, sentences: Sequence[str]) -> tuple[str, float]:
    """Reload the saved directory with AutoTokenizer, compare its ids with SentencePiece's; return its
    ``tokenizer.json`` text and the share of sampled sentences on which the ids agree."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as directory:
        for name, content in files.items():
            (Path(directory) / name).write_bytes(content)
        tokenizer = load_fast_tokenizer(directory)
        processor = spm.SentencePieceProcessor(model_proto=model)
        checked = list(sentences[:: max(1, len(sentences) // 2000)])
        ours = tokenizer(checked, add_special_tokens=False)["input_ids"]
        agreement = sum(a == b for a, b in zip(ours, processor.encode(checked), strict=True)) / len(checked)
        mask_id = tokenizer.convert_tokens_to_ids(MASK_PIECE)
        if tokenizer.mask_token != MASK_PIECE or mask_id != processor.piece_to_id(MASK_PIECE):
            raise TokenizerError("the converted tokenizer lost SentencePiece's <mask> piece")
        tokenizer_json = tokenizer.backend_tokenizer.to_str()
    if agreement < MIN_AGREEMENT:
        raise TokenizerError(
            f"the converted tokenizer agrees with SentencePiece on only {agreement:.1%} of the sampled sentences"
        )
    return tokenizer_json, agreement
