"""`luke export` on real ZeRO-2/ZeRO-3 checkpoints of a tiny LUKE trained on corpora that `build_corpus` made
from the enwiki sample (a byte-level BPE tokenizer, and a SentencePiece one trained inside the job)."""

from __future__ import annotations

import json
import os
import re
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
from export_runs import export
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, LukeForEntityClassification

from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from pretraining.export.exporter import verification_texts
from pretraining.weights import consolidate, locate_checkpoint

pytestmark = pytest.mark.slow


def _corpus_of(run_dir: Path) -> Corpus:
    return Corpus.open(json.loads((run_dir / "run_info.json").read_text())["corpus"])


@pytest.mark.parametrize("name", ["bpe-zero2", "bpe-zero3", "sp-zero2"])
def test_export_loads_cleanly_and_holds_the_checkpoint_weights(name, zero_runs, exported):
    directory = exported[name]
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= {
        path.name for path in directory.iterdir()
    }
    assert not list(directory.parent.glob(".*partial*")), "the staging directory was left behind"
    _, info = AutoModelForMaskedLM.from_pretrained(directory, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    # the bare encoder takes every weight but the two pretraining heads
    _, info = AutoModel.from_pretrained(directory, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["mismatched_keys"], info
    assert {key.split(".")[0] for key in info["unexpected_keys"]} == {"lm_head", "entity_predictions"}
    config = json.loads((directory / "config.json").read_text())
    assert config["architectures"] == ["LukeForMaskedLM"] and config["use_entity_aware_attention"] is True

    weights = consolidate(locate_checkpoint(zero_runs / name))
    exported_weights = load_file(directory / "model.safetensors")
    for key, tensor in weights.items():
        if key not in exported_weights:  # tied to a saved weight: transformers writes one name of the pair
            continue
        rows = tensor.shape[0]
        torch.testing.assert_close(exported_weights[key][:rows], tensor.float(), rtol=0, atol=0, msg=key)
    # entity-aware queries start as copies of the word query (the run trained without them)
    torch.testing.assert_close(
        exported_weights["luke.encoder.layer.0.attention.self.e2w_query.weight"],
        weights["luke.encoder.layer.0.attention.self.query.weight"],
    )
    card = (directory / "README.md").read_text()
    assert "## Corpus" in card and "## Final metrics" in card and "train/loss" in card
    beam, torch_version = version("apache-beam"), version("torch")  # corpus and training versions, side by side
    assert "| package | corpus | training | export |" in card
    assert f"| apache-beam | {beam} | {beam} | {beam} |" in card and f"| torch | {torch_version} |" in card


def _raw_sentences(dump: Path, count: int) -> list[str]:
    from sample_corpus import read_paragraphs

    texts = [paragraph.text for paragraph in read_paragraphs(dump, max_pages=200)]
    return texts[:: max(1, len(texts) // count)][:count]


def test_luke_tokenizer_gives_the_corpus_ids_and_the_entity_vocabulary_ids(exported, zero_runs, enwiki_dump):
    corpus = _corpus_of(zero_runs / "bpe-zero2")
    theirs = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    ours = AutoTokenizer.from_pretrained(exported["bpe-zero2"], local_files_only=True)
    assert type(ours).__name__ == "LukeTokenizer"
    texts = _raw_sentences(enwiki_dump, 300)
    assert ours(texts, add_special_tokens=False)["input_ids"] == theirs(texts, add_special_tokens=False)["input_ids"]
    validation = corpus.split("validation")
    for index in range(0, len(validation), 7):
        word_ids = validation[index]["word_ids"].tolist()
        assert ours.decode(word_ids) == theirs.decode(word_ids)

    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    assert len(ours.entity_vocab) == len(vocab) + 1 and ours.entity_vocab["[MASK2]"] == len(vocab)
    titles = [vocab.title_of(entity_id) for entity_id in range(3, len(vocab), 97)]
    for title in titles:
        encoding = ours("x " + title, entities=[title], entity_spans=[(2, 2 + len(title))])
        assert encoding["entity_ids"] == [vocab[title]], title
    entity_markers = ours.convert_tokens_to_ids(["<ent>", "<ent2>"])
    vocab_size = json.loads((exported["bpe-zero2"] / "config.json").read_text())["vocab_size"]
    assert len(set(entity_markers)) == 2 and ours.unk_token_id not in entity_markers
    assert max(entity_markers) < vocab_size == len(ours)


# Text that a tokenizer's normaliser, pre-tokenizer or unknown-piece id would show up on: characters outside
# the vocabulary, NFKC-sensitive ones (ligature, circled digit, combining cedilla), whitespace runs, quotes.
HARD_TEXTS = [
    "Tokyo  has   spaces and\ttabs",
    "ﬁne ligatures ① and Ç vs C\u0327",
    "中文字符 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 unknown",
    "``quoted'' text",
    " leading and trailing ",
    "a <mask> b",
]


def test_mluke_tokenizer_for_a_sentencepiece_corpus(exported, zero_runs, enwiki_dump):
    corpus = _corpus_of(zero_runs / "sp-zero2")
    theirs = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    ours = AutoTokenizer.from_pretrained(exported["sp-zero2"], local_files_only=True)
    assert type(ours).__name__ == "MLukeTokenizer"
    validation = corpus.split("validation")
    # the corpus's own text, and raw text: the trained tokenizer is laid out as MLukeTokenizer rebuilds itself
    texts = verification_texts(corpus, theirs, count=len(validation)) + _raw_sentences(enwiki_dump, 300) + HARD_TEXTS
    assert ours(texts, add_special_tokens=False)["input_ids"] == theirs(texts, add_special_tokens=False)["input_ids"]
    assert theirs.unk_token_id in theirs(HARD_TEXTS[2], add_special_tokens=False)["input_ids"]
    for name in ("bos", "eos", "pad", "mask", "unk"):
        assert getattr(ours, f"{name}_token_id") == getattr(theirs, f"{name}_token_id")
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    for entity_id in range(3, len(vocab), 53):
        title, language = vocab.entries[entity_id].entities[0]
        assert ours.entity_vocab[f"{language}:{title}"] == entity_id
    row = next(row for row in (validation[i] for i in range(len(validation))) if len(row["entity_ids"]))
    start, end = int(row["entity_starts"][0]), int(row["entity_ends"][0])
    prefix, mention = theirs.decode(row["word_ids"][:start]), theirs.decode(row["word_ids"][start:end])
    text = prefix + mention
    title, language = vocab.entries[int(row["entity_ids"][0])].entities[0]
    encoding = ours(
        text, entities=[f"{language}:{title}"], entity_spans=[(len(text) - len(mention.lstrip()), len(text))]
    )
    assert encoding["entity_ids"] == [int(row["entity_ids"][0])]


def test_the_tokenizer_given_entity_spans_gives_the_rows_ids_and_mention_positions(exported, zero_runs):
    """The export's check: on validation rows with mentions, the exported tokenizer given the row's text with its
    mentions as entity_spans (and their entities) gives the row's word ids, mention positions and entity ids."""
    from pretraining.export.exporter import span_rows
    from pretraining.export.tokenizer import TokenizerConversionError, entity_vocab_mapping, verify_span_tokenization

    for name in ("bpe-zero2", "sp-zero2"):
        corpus = _corpus_of(zero_runs / name)
        corpus_tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
        tokenizer = AutoTokenizer.from_pretrained(exported[name], local_files_only=True)
        vocab = EntityVocab.load(str(corpus.entity_vocab_path))
        rows, _ = span_rows(corpus, corpus_tokenizer, entity_vocab_mapping(vocab, multilingual=name.startswith("sp")))
        assert len(rows) > 10 and all(row.entities for row in rows), name
        summary = verify_span_tokenization(tokenizer, corpus_tokenizer, rows, str(exported[name]))
        mentions = sum(len(row.mentions) for row in rows)
        assert summary == {"span_rows": len(rows), "span_mentions": mentions, "span_rows_differing": 0}
        card = (exported[name] / "README.md").read_text()
        assert f"mention positions ({len(rows)} rows, {summary['span_mentions']} mentions)" in card, name

        with pytest.raises(TokenizerConversionError, match=r"places mention 0 of validation row \d+ \(page \d+\)"):
            verify_span_tokenization(_Shifted(tokenizer), corpus_tokenizer, rows, str(exported[name]))


class _Shifted:
    """A tokenizer that places every mention one token later than ``tokenizer``: the check must see it."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer

    def __getattr__(self, attribute):
        return getattr(self._tokenizer, attribute)

    def __call__(self, *args, **kwargs):
        encoding = self._tokenizer(*args, **kwargs)
        shifted = [[p + 1 if p >= 0 else p for p in span] for span in encoding["entity_position_ids"]]
        encoding["entity_position_ids"] = shifted
        return encoding


@pytest.fixture(scope="module")
def sp_corpus_tokenized_whole(enwiki_dump, enwiki_sp_corpus, tmp_path_factory) -> Path:
    """`enwiki_sp_corpus` built again with its tokenizer, but each linked sentence tokenized whole (the rule before
    sentences were cut at their links): the same vocabularies, other ids around links."""
    from corpus_builders import build_sample_corpus
    from whole_sentence_tokenization import sentences_tokenized_whole

    output = tmp_path_factory.mktemp("sp-tokenized-whole") / "corpus"
    options = {"max_pages": 40, "max_seq_length": 128, "validation_fraction": 0.1, "num_shards": 2}
    with sentences_tokenized_whole():
        build_sample_corpus(enwiki_dump, output, tokenizer=str(enwiki_sp_corpus / "tokenizer"), **options)
    shutil.rmtree(output / "tokenizer")  # the very files the run recorded the checksum of
    shutil.copytree(enwiki_sp_corpus / "tokenizer", output / "tokenizer")
    return output


def test_a_corpus_whose_linked_sentences_were_tokenized_whole_fails_the_export(
    zero_runs, enwiki_sp_corpus, sp_corpus_tokenized_whole, tmp_path
):
    result = export(zero_runs / "sp-zero2", tmp_path / "out", "--corpus", str(sp_corpus_tokenized_whole))
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    # the first row that differs, and where: other ids, or a mention on other tokens (a lone "▁" before a
    # mention was outside it when the sentence was tokenized whole, and is inside the cut piece " Name")
    assert re.search(r"exported tokenizer in .* validation row \d+ \(page \d+\)", line), line
    other_ids = r"other word ids than the corpus from token \d+ on: corpus \[.*\], exported \["
    assert re.search(rf"{other_ids}|at tokens \d+–\d+, the corpus at \d+–\d+$", line), line
    assert not (tmp_path / "out").exists()
    # the same rows in a corpus of format 2 (built before linked sentences were cut): exported, with a note
    older = tmp_path / "format-2"
    shutil.copytree(sp_corpus_tokenized_whole, older)
    metadata = json.loads((older / "metadata.json").read_text())
    (older / "metadata.json").write_text(json.dumps(metadata | {"format_version": 2}))
    result = export(zero_runs / "sp-zero2", tmp_path / "out", "--corpus", str(older))
    assert result.exit_code == 0, result.output
    note = re.search(
        r"note: the corpus \(format_version 2\) tokenized each linked sentence whole: .* gives (\d+) of", result.output
    )
    assert note and int(note.group(1)) > 0, result.output
    assert f"with entity_spans {note.group(1)} of" in result.output
    assert f"other word ids than the row on {note.group(1)} of" in (tmp_path / "out" / "README.md").read_text()


def test_lite_bf16_export_without_entity_aware_attention(zero_runs, tmp_path):
    output = tmp_path / "lite"
    result = export(zero_runs / "bpe-zero2", output, "--lite", "--dtype", "bfloat16", "--no-entity-aware-attention")
    assert result.exit_code == 0, result.output
    tokenizer = AutoTokenizer.from_pretrained(output, local_files_only=True)
    assert tokenizer.entity_vocab == {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3}
    model, info = AutoModelForMaskedLM.from_pretrained(output, local_files_only=True, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert model.config.entity_vocab_size == 4 and model.config.use_entity_aware_attention is False
    weights = load_file(output / "model.safetensors")
    assert weights["luke.entity_embeddings.entity_embeddings.weight"].shape[0] == 4
    assert all(tensor.dtype == torch.bfloat16 for tensor in weights.values())
    assert not any("w2e_query" in key for key in weights)
    full = consolidate(locate_checkpoint(zero_runs / "bpe-zero2"))
    table = full["luke.entity_embeddings.entity_embeddings.weight"]
    torch.testing.assert_close(
        weights["luke.entity_embeddings.entity_embeddings.weight"].float(),
        table[[0, 1, 2, 2]].to(torch.bfloat16).float(),
    )


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_fine_tuning_entity_classification_from_the_export_lowers_the_loss(name, exported, zero_runs):
    corpus = _corpus_of(zero_runs / name)
    tokenizer = AutoTokenizer.from_pretrained(exported[name], task="entity_classification")
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    texts, spans, labels = [], [], []
    split = corpus.split("train")
    for index in range(len(split)):
        row = split[index]
        if len(row["entity_ids"]) and len(texts) < 16:
            start, end = int(row["entity_starts"][0]), int(row["entity_ends"][0])
            words = row["word_ids"][max(0, start - 40) : end + 40]  # a window around the mention
            start, end = min(start, 40), min(start, 40) + end - start
            prefix, mention = tokenizer.decode(words[:start]), tokenizer.decode(words[start:end])
            texts.append(prefix + mention + tokenizer.decode(words[end:]))
            spans.append([(len(prefix) + len(mention) - len(mention.lstrip()), len(prefix) + len(mention))])
            labels.append(int(" " in vocab.title_of(int(row["entity_ids"][0]))))  # a multi-word title?
    batch = tokenizer(texts, entity_spans=spans, padding=True, return_tensors="pt")
    model = LukeForEntityClassification.from_pretrained(exported[name], num_labels=2)
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.1  # LUKE's
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(16):
        loss = model(**batch, labels=torch.tensor(labels)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0], losses


# Where <ent>/<ent2> start: LUKE's @/# in the byte-level BPE; the 4,000-piece SentencePiece has neither.
MARKER_PIECES = {"bpe-zero2": ("@", "#"), "sp-zero2": ("*", "%")}
MARKER_TOKENS = {"bpe-zero2": ["<ent>", "<ent2>"], "sp-zero2": ["▁<ent>", "▁<ent2>"]}  # 5.x's MLukeTokenizer adds ▁


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_entity_markers_start_from_distinct_symbols_and_special_ids_are_the_tokenizers(name, exported, zero_runs):
    corpus_tokenizer = AutoTokenizer.from_pretrained(_corpus_of(zero_runs / name).tokenizer_path)
    tokenizer = AutoTokenizer.from_pretrained(exported[name])
    weights = load_file(exported[name] / "model.safetensors")["luke.embeddings.word_embeddings.weight"]
    trained = consolidate(locate_checkpoint(zero_runs / name))["luke.embeddings.word_embeddings.weight"]
    markers = tokenizer.convert_tokens_to_ids(MARKER_TOKENS[name])
    assert tokenizer.unk_token_id not in markers and len(set(markers)) == 2
    sources = corpus_tokenizer.convert_tokens_to_ids(list(MARKER_PIECES[name]))
    assert corpus_tokenizer.unk_token_id not in sources and len(set(sources)) == 2
    for marker, source in zip(markers, sources, strict=True):
        torch.testing.assert_close(weights[marker], trained[source], rtol=0, atol=0)
    assert not torch.equal(weights[markers[0]], weights[markers[1]])
    card = (exported[name] / "README.md").read_text()
    first, second = MARKER_PIECES[name]
    assert f"<ent> from {first!r}" in card and f"<ent2> from {second!r}" in card
    config = json.loads((exported[name] / "config.json").read_text())
    ids = [config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]]
    assert ids == [tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id]
    assert ids == ([1, 0, 2] if name == "bpe-zero2" else [3, 1, 2])


def test_markers_the_corpus_tokenizer_holds_keep_their_rows(exported, zero_runs):
    """A corpus built with an export's tokenizer holds <ent>/<ent2>: a run on it trains their rows, and its
    export keeps them instead of starting them again from @/#."""
    from pretraining.export.exporter import export_word_sources
    from pretraining.export.tokenizer import build_luke_tokenizer, entity_vocab_mapping

    for name in ("bpe-zero2", "sp-zero2"):
        corpus_tokenizer = AutoTokenizer.from_pretrained(exported[name])
        multilingual = name.startswith("sp")
        vocab = EntityVocab.load(str(_corpus_of(zero_runs / name).entity_vocab_path))
        mapping = entity_vocab_mapping(vocab, multilingual)
        luke_tokenizer = build_luke_tokenizer(corpus_tokenizer, mapping, 30, str(exported[name]))
        sources, markers = export_word_sources(len(corpus_tokenizer), corpus_tokenizer, luke_tokenizer)
        assert len(corpus_tokenizer) == len(luke_tokenizer), name  # <ent>, <ent2> are the corpus tokenizer's
        assert sources == list(range(len(corpus_tokenizer))) and markers == [], name


def test_dropout_and_the_special_ids_of_an_older_run(zero_runs, tmp_path):
    """A run trained without dropout exports LUKE's 0.1 unless told otherwise; a run started before its special
    ids came from the tokenizer (pad 1, bos 0 on a SentencePiece corpus) exports with the ids it trained with."""
    run, _ = _copy_run(zero_runs, tmp_path, "sp-zero2")
    model_config = json.loads((run / "model_config.json").read_text())
    old = {"pad_token_id": 1, "bos_token_id": 0, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    (run / "model_config.json").write_text(json.dumps(model_config | old))
    result = export(run, tmp_path / "default")
    assert result.exit_code == 0 and "model verified" in result.output, result.output
    assert "note: pad_token_id 1 is the trained model's, kept (the tokenizer's is 3)" in result.output
    config = json.loads((tmp_path / "default" / "config.json").read_text())
    assert (config["pad_token_id"], config["bos_token_id"]) == (1, 0)
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.1
    card = (tmp_path / "default" / "README.md").read_text()
    assert (
        "| dropout (hidden / attention) | 0.1 / 0.1 in config.json, used when fine-tuning (pretrained with 0 / 0) |"
        in card
    )

    chosen = ("--hidden-dropout-prob", "0", "--attention-probs-dropout-prob", "0.05", "--no-verify")
    assert export(run, tmp_path / "chosen", *chosen).exit_code == 0
    config = json.loads((tmp_path / "chosen" / "config.json").read_text())
    assert (config["hidden_dropout_prob"], config["attention_probs_dropout_prob"]) == (0.0, 0.05)


def _copy_run(zero_runs: Path, tmp_path: Path, name: str = "bpe-zero3") -> tuple[Path, Path]:
    run = tmp_path / name
    shutil.copytree(zero_runs / name, run)
    return run, run / "checkpoints" / "step-00000003"


def test_truncated_checkpoint_is_a_clear_error(zero_runs, tmp_path):
    run, checkpoint = _copy_run(zero_runs, tmp_path)
    optim = next(checkpoint.glob("*_optim_states.pt"))
    optim.write_bytes(optim.read_bytes()[:1000])
    result = export(run, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert f"checkpoint {checkpoint} is damaged: {optim.name} has 1,000 bytes, the manifest says" in result.output
    assert not (tmp_path / "out").exists()
    (checkpoint / "manifest.json").unlink()  # as saved before manifests existed: the torch file is unreadable
    result = export(run, tmp_path / "out")
    assert result.exit_code == 1 and f"is damaged: {optim.name} is unreadable" in result.output, result.output


def test_overwritten_optimizer_states_are_refused(zero_runs, tmp_path):
    run, checkpoint = _copy_run(zero_runs, tmp_path, "bpe-zero2")
    optim = next(checkpoint.glob("*_optim_states.pt"))
    with optim.open("r+b") as handle:  # 4 KiB inside the fp32 master weights: the export read 2.4e24 before
        handle.seek(optim.stat().st_size // 2)
        handle.write(os.urandom(4096))
    result = export(run, tmp_path / "out")
    assert result.exit_code == 1 and "model verified" not in result.output
    assert f"checkpoint {checkpoint} is damaged: {optim.name} differs from its digest" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_corpus_with_other_vocabularies_is_refused(zero_runs, enwiki_sp_corpus, tmp_path):
    run = zero_runs / "bpe-zero2"
    info = json.loads((run / "run_info.json").read_text())
    result = export(run, tmp_path / "out", "--corpus", str(enwiki_sp_corpus))
    assert result.exit_code == 1 and "does not fit" not in result.output
    [line] = result.output.strip().splitlines()
    assert f"run {run} was trained with other vocabularies than corpus {enwiki_sp_corpus}" in line
    for key, path in (("tokenizer", "tokenizer"), ("entity_vocab", "entity_vocab.jsonl")):
        assert info["vocabulary_checksums"][key] in line and str(enwiki_sp_corpus / path) in line, line


def test_incomplete_checkpoints_are_clear_errors(zero_runs, tmp_path):
    zero2_run, zero2_checkpoint = _copy_run(zero_runs, tmp_path, "bpe-zero2")
    optim = next(zero2_checkpoint.glob("*_optim_states.pt"))
    optim.unlink()
    result = export(zero2_run, tmp_path / "out")
    assert result.exit_code == 1 and f"{optim.name} is missing" in result.output  # the manifest lists it
    # Without the manifest (a checkpoint saved before manifests existed), the structure is checked.
    (zero2_checkpoint / "manifest.json").unlink()  # its model states hold bf16 copies: never read
    result = export(zero2_run, tmp_path / "out")
    assert result.exit_code == 1 and "ZeRO stage 2 but holds no ZeRO optimizer partitions" in result.output
    run, checkpoint = _copy_run(zero_runs, tmp_path)
    next(checkpoint.glob("*_optim_states.pt")).unlink()
    (checkpoint / "manifest.json").unlink()
    result = export(run, tmp_path / "out")
    assert result.exit_code == 1 and "ZeRO stage 3 but holds no ZeRO optimizer partitions" in result.output
    next(checkpoint.glob("*_model_states.pt")).unlink()
    assert "holds no model states" in export(run, tmp_path / "out").output
    (run / "checkpoints" / "latest").write_text("step-00000009")
    result = export(run, tmp_path / "out")
    assert result.exit_code == 1 and "'step-00000009' does not exist" in result.output
    (run / "checkpoints" / "latest").unlink()
    assert "no latest file" in export(run, tmp_path / "out").output
    assert "--tag" in export(run, tmp_path / "out").output


def test_checkpoints_without_zero(zero_runs, tmp_path):
    fp32 = zero_runs / "bpe-nozero-fp32"
    module = torch.load(next((fp32 / "checkpoints").glob("step-*/mp_rank_00_model_states.pt")), weights_only=False)
    weights = consolidate(locate_checkpoint(fp32))
    assert weights.keys() == module["module"].keys()
    for key, tensor in weights.items():
        torch.testing.assert_close(tensor, module["module"][key], rtol=0, atol=0, msg=key)
    result = export(fp32, tmp_path / "fp32")
    assert result.exit_code == 0 and "model verified" in result.output, result.output
    # in bf16 the module is rounded and DeepSpeed keeps the fp32 master weights in a flat optimizer buffer
    result = export(zero_runs / "bpe-nozero-bf16", tmp_path / "bf16")
    assert result.exit_code == 1 and "saved without ZeRO in torch.bfloat16" in result.output, result.output
    assert not (tmp_path / "bf16").exists()


def test_output_is_not_overwritten_by_accident(exported, zero_runs):
    result = export(zero_runs / "bpe-zero2", exported["bpe-zero2"])
    assert result.exit_code == 1 and "--overwrite" in result.output


def test_verification_catches_a_wrong_weight(exported, zero_runs, tmp_path):
    from transformers import LukeConfig

    from pretraining.export.exporter import export_word_sources, our_model, validation_batch
    from pretraining.export.tokenizer import entity_vocab_mapping
    from pretraining.export.verification import VerificationError, verify_export

    directory = tmp_path / "tampered"
    shutil.copytree(exported["bpe-zero2"], directory)
    weights = load_file(directory / "model.safetensors")
    weights["luke.encoder.layer.1.output.dense.weight"][0, 0] += 0.05
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    run = zero_runs / "bpe-zero2"
    corpus = _corpus_of(run)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    config = LukeConfig.from_json_file(str(run / "model_config.json"))
    ours = our_model(config, consolidate(locate_checkpoint(run)), torch.float32)
    batch = validation_batch(corpus, tokenizer, len(vocab))
    word_sources, _ = export_word_sources(config.vocab_size, tokenizer, AutoTokenizer.from_pretrained(directory))
    mapping = entity_vocab_mapping(vocab, multilingual=False)
    verify_export(exported["bpe-zero2"], ours, batch, word_sources, mapping)  # the untouched export passes
    with pytest.raises(VerificationError, match="disagrees with ours"):
        verify_export(directory, ours, batch, word_sources, mapping)


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_demo_printout_of_top_entities_and_words(name, exported, zero_runs, capsys):
    from luke.demo_predictions import show_predictions

    show_predictions(exported[name], _corpus_of(zero_runs / name).path)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("validation text: ") and "<mask>" in lines[0]
    assert re.match(r"masked entity: the mention .*, linked to .*: rank [\d,]+ of [\d,]+$", lines[1])
    assert [line.split(".")[0].strip() for line in lines[2:7]] == ["1", "2", "3", "4", "5"]
    assert re.match(r"masked word: .*: rank [\d,]+ of [\d,]+$", lines[7])
    assert lines[13].startswith("what to expect: ")
    assert len(lines) == 14
