"""``model.init: pretrained``: continue pretraining from a Hugging Face LUKE directory (here: our exports of real
tiny runs, laid out as a released studio-ousia/luke-* is), its entities mapped onto the corpus's by title."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from corpus_builders import build_sample_corpus
from export_runs import export, train_zero_runs
from training_runs import run, run_ok, single_process, tiny_overrides

from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from pretraining.config import ConfigError, load_config
from pretraining.data import LukePretrainingCollator, PretrainingDataset, TokenizerInfo
from pretraining.model_setup import build_model, load_checkpoint_weights, resolve_model_config
from pretraining.pretrained import MAPPING_REPORT_FILE, PretrainedLuke

pytestmark = pytest.mark.slow
TINY = Path(__file__).resolve().parents[1] / "configs" / "train" / "tiny.yaml"
ENTITY_EMBEDDINGS = "luke.entity_embeddings.entity_embeddings.weight"


def pretrained_config(corpus: Path, init_from: Path, **fields):
    overrides = tiny_overrides(corpus, Path("unused"), model__config="", model__init="pretrained", **fields)
    return load_config(TINY, [*overrides, f"model.init_from={init_from}"])


def batch_loss(model: torch.nn.Module, corpus: Corpus, entity_vocab_size: int) -> torch.Tensor:
    """The pretraining loss of ``model`` on the first 8 validation rows, masked with a fixed seed."""
    from transformers import AutoTokenizer

    info = TokenizerInfo.from_tokenizer(AutoTokenizer.from_pretrained(corpus.tokenizer_path))
    collator = LukePretrainingCollator(
        info, entity_vocab_size, corpus.max_seq_length, corpus.max_entity_length, corpus.max_mention_length, seed=3
    )
    dataset = PretrainingDataset(corpus, "validation")
    batch = collator([dataset[index] for index in range(min(8, len(dataset)))])
    model.eval()
    with torch.no_grad():
        return model(**batch).loss


def test_an_export_loaded_back_gives_the_losses_of_its_checkpoint(zero_runs, exported, enwiki_corpus):
    from luke.configs import load_model_config
    from luke.model import LukeForPretraining

    corpus = Corpus.open(enwiki_corpus)
    tokenizer = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    entities = len(EntityVocab.load(str(corpus.entity_vocab_path)))
    source = LukeForPretraining(load_model_config("tiny", vocab_size=tokenizer.vocab_size, entity_vocab_size=entities))
    load_checkpoint_weights(source, zero_runs / "bpe-zero2")

    config = pretrained_config(enwiki_corpus, exported["bpe-zero2"])
    model_config = resolve_model_config(config, corpus, tokenizer)
    assert model_config.use_entity_aware_attention and model_config.entity_vocab_size == entities
    continued = build_model(config, model_config, corpus)
    for name, tensor in source.state_dict().items():  # every entity of the corpus is the export's: all kept
        torch.testing.assert_close(continued.state_dict()[name], tensor.float(), rtol=0, atol=0, msg=name)
    torch.testing.assert_close(batch_loss(continued, corpus, entities), batch_loss(source, corpus, entities))


@pytest.fixture(scope="module")
def half_export(enwiki_dump, bpe_tokenizer_dir, tmp_path_factory) -> Path:
    """The export of a short run on the sample's first half of articles: its entity vocabulary overlaps the
    whole sample's partly."""
    directory = tmp_path_factory.mktemp("half")
    corpus = build_sample_corpus(enwiki_dump, directory / "corpus", tokenizer=str(bpe_tokenizer_dir), max_pages=53)
    train_zero_runs(directory / "runs", [f"half:{corpus}:2"])
    result = export(directory / "runs" / "half", directory / "export")
    assert result.exit_code == 0, result.output
    return directory / "export"


@pytest.fixture(scope="module")
def half_run(half_export) -> Path:
    """The run directory ``half_export`` was exported from."""
    return half_export.parent / "runs" / "half"


@pytest.mark.parametrize("rule", ["mask", "mean"])
def test_another_entity_vocabulary_is_mapped_by_title(half_export, enwiki_corpus, rule):
    corpus = Corpus.open(enwiki_corpus)
    pretrained = PretrainedLuke.read(half_export)
    source = pretrained.state_dict()[ENTITY_EMBEDDINGS]
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    shared = [entry.title for entry in vocab.entries if entry.title in pretrained.entity_vocab]
    new = [entry.title for entry in vocab.entries if entry.title not in pretrained.entity_vocab]
    assert len(shared) > 100 and len(new) > 100

    config = pretrained_config(enwiki_corpus, half_export, model__new_entity_init=rule)
    tokenizer = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    rows = build_model(config, resolve_model_config(config, corpus, tokenizer), corpus).state_dict()
    rows = rows[ENTITY_EMBEDDINGS]
    ids = vocab.title_to_id()
    for title in shared:
        torch.testing.assert_close(rows[ids[title]], source[pretrained.entity_vocab[title]], rtol=0, atol=0)
    expected_new = source[pretrained.entity_vocab["[MASK]"]] if rule == "mask" else source.mean(dim=0)
    for title in new:
        torch.testing.assert_close(rows[ids[title]], expected_new, rtol=0, atol=0)


def test_a_few_steps_continue_from_the_export_and_report_the_mapping(
    half_export, enwiki_corpus, deepspeed_cpu_env, tmp_path
):
    run_dir = tmp_path / "continued"
    overrides = tiny_overrides(
        enwiki_corpus, run_dir, schedule__max_steps=3, model__config="", model__init="pretrained"
    )
    result = run_ok(single_process([*overrides, f"model.init_from={half_export}"]), deepspeed_cpu_env)
    assert "entity vocabulary mapped by title:" in result.stdout and "finished at step 3" in result.stdout
    report = json.loads((run_dir / MAPPING_REPORT_FILE).read_text())
    vocab = EntityVocab.load(str(Corpus.open(enwiki_corpus).entity_vocab_path))
    known = PretrainedLuke.read(half_export).entity_vocab
    assert report["kept"] == sum(entry.title in known for entry in vocab.entries)
    assert report["kept"] + report["new"] == len(vocab)
    assert report["dropped"] == len(set(known.values()) - {known[e.title] for e in vocab.entries if e.title in known})
    assert (
        report["most_frequent_new"][0]
        == max((entry for entry in vocab.entries if entry.title not in known), key=lambda entry: entry.count).title
    )


def test_a_corpus_with_another_tokenizer_is_refused_in_one_line(
    exported, enwiki_sp_corpus, deepspeed_cpu_env, tmp_path
):
    corpus = Corpus.open(enwiki_sp_corpus)
    config = pretrained_config(enwiki_sp_corpus, exported["bpe-zero2"])
    with pytest.raises(ConfigError, match=r"the corpus tokenizer .* differs from its tokenizer .*--tokenizer"):
        resolve_model_config(config, corpus, TokenizerInfo.from_pretrained(corpus.tokenizer_path))
    overrides = tiny_overrides(enwiki_sp_corpus, tmp_path / "r", model__config="", model__init="pretrained")
    result = run(single_process([*overrides, f"model.init_from={exported['bpe-zero2']}"]), deepspeed_cpu_env)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_a_corpus_built_with_the_models_tokenizer_and_entity_vocabulary_keeps_every_id(exported, enwiki_dump, tmp_path):
    from transformers import AutoTokenizer

    model_dir = exported["bpe-zero2"]
    output = build_sample_corpus(
        enwiki_dump, tmp_path / "corpus", tokenizer=str(model_dir), entity_vocab=str(model_dir), max_pages=10
    )
    corpus = Corpus.open(output)
    luke_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert EntityVocab.load(str(corpus.entity_vocab_path)).title_to_id() == luke_tokenizer.entity_vocab
    config = pretrained_config(output, model_dir)
    model_config = resolve_model_config(config, corpus, TokenizerInfo.from_pretrained(corpus.tokenizer_path))
    model = build_model(config, model_config, corpus)
    source = PretrainedLuke.read(model_dir).state_dict()
    torch.testing.assert_close(model.state_dict()[ENTITY_EMBEDDINGS], source[ENTITY_EMBEDDINGS], rtol=0, atol=0)


def test_stage_two_from_a_run_on_another_corpus_maps_its_entities_by_title(
    half_run, enwiki_corpus, deepspeed_cpu_env, tmp_path
):
    stage2 = tiny_overrides(enwiki_corpus, tmp_path / "s2", schedule__max_steps=2, model__init="checkpoint")
    stage2.append(f"model.init_from={half_run}")
    refused = run(single_process(stage2), deepspeed_cpu_env)
    assert refused.returncode != 0 and "other vocabularies" in refused.stderr
    result = run_ok(single_process([*stage2, "model.entity_vocab_mapping=by_title"]), deepspeed_cpu_env)
    assert f"initialising from run {half_run}: entity vocabulary mapped by title:" in result.stdout
    report = json.loads((tmp_path / "s2" / MAPPING_REPORT_FILE).read_text())
    half_corpus = Corpus.open(json.loads((half_run / "run_info.json").read_text())["corpus"])
    half_vocab = EntityVocab.load(str(half_corpus.entity_vocab_path))
    vocab = EntityVocab.load(str(Corpus.open(enwiki_corpus).entity_vocab_path))
    assert report["kept"] == sum(entry.title in half_vocab for entry in vocab.entries) > 100
    assert report["new"] > 100 and "finished at step 2" in result.stdout


def test_mluke_keys_map_to_their_titles(exported, enwiki_sp_corpus):
    from pretraining.model_setup import entity_mapping

    pretrained = PretrainedLuke.read(exported["sp-zero2"])  # an MLukeTokenizer: entity keys "en:Title"
    assert any(key.startswith("en:") for key in pretrained.entity_vocab)
    mapping = entity_mapping(pretrained.entity_source(), Corpus.open(enwiki_sp_corpus))
    assert mapping.kept == len(mapping.sources) and mapping.dropped == 1  # every entity; [MASK2] left out
