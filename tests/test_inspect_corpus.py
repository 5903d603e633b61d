"""`luke inspect corpus` on real corpora: its counts against an independent count from the shards, the
highlighted mentions against the tokenizer's decoding of their spans, checks that fire on one tampered row,
the failure paths, and a report that needs no network."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from luke.cli import main
from luke.inspection.corpus_report import build_corpus_report
from luke.inspection.tokenizer import tokenizer_checksum


class ReportParser(HTMLParser):
    """Collects the decoded rows' mentions (text, entity id, span) and every resource the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.resources: list[str] = []
        self.tags: Counter = Counter()
        self._mention: dict | None = None
        self._in_text: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] += 1
        if tag in ("img", "script", "iframe", "source", "video", "audio", "embed") and "src" in attrs:
            self.resources.append(attrs["src"])
        if tag == "link":
            self.resources.append(attrs.get("href", ""))
        if tag == "div" and attrs.get("class") == "row":
            self.rows.append({"split": attrs["data-split"], "index": int(attrs["data-index"]), "mentions": []})
        if tag == "mark":
            self._mention = {
                "entity_id": int(attrs["data-entity-id"]),
                "start": int(attrs["data-start"]),
                "end": int(attrs["data-end"]),
                "unk": "unk" in attrs["class"].split(),
                "text": "",
                "title": "",
            }
            self.rows[-1]["mentions"].append(self._mention)
        if tag == "span" and self._mention is not None:
            self._in_text = {"text": "text", "entity": "title"}[attrs["class"]]

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_text = None
        if tag == "mark":
            self._mention = None

    def handle_data(self, data):
        if self._in_text:
            self._mention[self._in_text] += data


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    return parser


def independent_counts(corpus: Path) -> dict[str, dict]:
    """Per split: rows, word tokens, mentions, [UNK] mentions and mentions per entity id, read with pyarrow."""
    metadata = json.loads((corpus / "metadata.json").read_text())
    counts = {}
    for split, entry in metadata["splits"].items():
        tables = [pa.ipc.open_file(corpus / shard).read_all() for shard in entry["shards"]]
        table = pa.concat_tables(tables)
        entity_ids = pc.list_flatten(table.column("entity_ids")).to_pylist()
        counts[split] = {
            "sequences": table.num_rows,
            "word_tokens": pc.sum(pc.list_value_length(table.column("word_ids"))).as_py() or 0,
            "mentions": len(entity_ids),
            "unk": entity_ids.count(1),
            "per_entity": Counter(entity_ids),
            "shard_rows": [t.num_rows for t in tables],
        }
    return counts


@pytest.mark.slow
def test_report_counts_equal_an_independent_count_of_the_shards(enwiki_corpus, tmp_path):
    report = build_corpus_report(enwiki_corpus, rows=0, sample_rows_per_split=0)
    expected = independent_counts(enwiki_corpus)
    assert [split.name for split in report.splits] == list(expected)
    occurrences = Counter()
    for split in report.splits:
        counted = expected[split.name]
        assert split.sequences == counted["sequences"] == split.sequence_lengths.sum()
        assert split.word_tokens == counted["word_tokens"]
        assert split.mentions == counted["mentions"] == split.mention_lengths.sum() == split.mentions_read
        assert split.unk_mentions_read == counted["unk"]
        assert split.shard_rows == counted["shard_rows"]
        assert (split.entities_per_sequence * range(len(split.entities_per_sequence))).sum() == counted["mentions"]
        occurrences += counted["per_entity"]
    assert {i: int(n) for i, n in enumerate(report.occurrences) if n} == dict(occurrences)
    assert all(check.ok for check in report.checks), [c for c in report.checks if not c.ok]

    output = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["inspect", "corpus", str(enwiki_corpus), "-o", str(output), "--rows", "3"])
    assert result.exit_code == 0, result.output
    html = output.read_text()
    train = expected["train"]
    for figure in (train["sequences"], train["word_tokens"], train["mentions"]):
        assert f">{figure:,}</td>" in html  # the splits table
        assert f"{figure:,}" in result.output  # the terminal summary
    top_id, top_count = occurrences.most_common(1)[0]
    assert f'<td class="num">{top_id:,}</td>' in html and f">{top_count:,}</td>" in html
    assert f"all {len(list(report.checks))} checks passed" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["enwiki_corpus", "enwiki_sp_corpus"])
def test_highlighted_mention_texts_equal_the_decoded_spans(fixture, request, tmp_path):
    from transformers import AutoTokenizer

    from preprocessing.corpus import Corpus

    corpus_dir = request.getfixturevalue(fixture)
    output = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["inspect", "corpus", str(corpus_dir), "-o", str(output), "--rows", "12"])
    assert result.exit_code == 0, result.output
    parsed = parse(output.read_text())
    assert len(parsed.rows) == 12
    corpus = Corpus.open(corpus_dir)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    vocab_titles = [json.loads(line)["entities"][0][0] for line in corpus.entity_vocab_path.read_text().splitlines()]
    splits = {name: corpus.split(name) for name in corpus.split_names}
    mentions = 0
    for shown in parsed.rows:
        row = splits[shown["split"]][shown["index"]]
        columns = (row["entity_starts"].tolist(), row["entity_ends"].tolist(), row["entity_ids"].tolist())
        spans = sorted(zip(*columns, strict=True))
        assert [(m["start"], m["end"], m["entity_id"]) for m in shown["mentions"]] == spans
        for mention in shown["mentions"]:
            span = row["word_ids"][mention["start"] : mention["end"]].tolist()
            decoded = tokenizer.decode(span, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            assert mention["text"] == decoded.strip()
            assert mention["unk"] == (mention["entity_id"] == 1)
            assert mention["title"] == vocab_titles[mention["entity_id"]]
            mentions += 1
    assert mentions > 12


def tamper_one_row(corpus: Path, destination: Path) -> tuple[int, int]:
    """A copy of ``corpus`` whose train row 5 of shard 1 has an entity id past the vocabulary and a mention
    ending past the row; returns the row's index in the split and its page id."""
    shutil.copytree(corpus, destination)
    metadata = json.loads((destination / "metadata.json").read_text())
    shards = metadata["splits"]["train"]["shards"]
    path = destination / shards[1]
    table = pa.ipc.open_file(path).read_all()
    rows = table.to_pylist()
    vocab_size = metadata["entity_vocab"]["entries"]
    row = rows[5]
    assert len(row["entity_ids"]) >= 2
    row["entity_ids"][0] = vocab_size + 7
    row["entity_starts"][1], row["entity_ends"][1] = len(row["word_ids"]) - 1, len(row["word_ids"]) + 1
    tampered = pa.Table.from_pylist(rows, schema=table.schema)
    path.unlink()
    with pa.ipc.new_file(path, tampered.schema) as writer:
        writer.write_table(tampered, max_chunksize=4096)
    before = sum(pa.ipc.open_file(destination / shard).read_all().num_rows for shard in shards[:1])
    return before + 5, row["page_id"]


@pytest.mark.slow
def test_checks_fire_on_a_corpus_with_one_tampered_row(enwiki_corpus, tmp_path):
    index, page = tamper_one_row(enwiki_corpus, tmp_path / "tampered")
    output = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["inspect", "corpus", str(tmp_path / "tampered"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    report = build_corpus_report(tmp_path / "tampered", rows=0)
    failed = {check.name.split(" (")[0]: check for check in report.checks.failed}
    assert set(failed) == {"mention spans inside their row", "entity ids in the vocabulary"}, failed
    where = f"train row {index} (page {page})"
    for check in failed.values():
        assert check.failures == 1 and check.examples[0].startswith(where), check
    assert "2 of 11 checks FAILED" in result.output and where in result.output
    html = output.read_text()
    assert '<div class="banner fail">2 of 11 checks failed' in html and where in html

    # the entity vocabulary edited after the build: its checksum no longer matches metadata.json
    vocab = tmp_path / "tampered" / "entity_vocab.jsonl"
    lines = vocab.read_text().splitlines()
    lines[3], lines[4] = lines[4].replace('"id": 4', '"id": 3'), lines[3].replace('"id": 3', '"id": 4')
    vocab.write_text("\n".join(lines) + "\n")
    report = build_corpus_report(tmp_path / "tampered", rows=0)
    assert not report.checks["entity vocabulary checksum equals metadata.json's"].ok


@pytest.mark.slow
def test_sampled_rows_keep_counts_exact_and_read_only_the_sample(enwiki_corpus):
    full = build_corpus_report(enwiki_corpus, rows=0, sample_rows_per_split=0)
    sampled = build_corpus_report(enwiki_corpus, rows=4, seed=3, sample_rows_per_split=100)
    for whole, part in zip(full.splits, sampled.splits, strict=True):
        assert (part.sequences, part.word_tokens, part.mentions) == (whole.sequences, whole.word_tokens, whole.mentions)
        assert (part.sequence_lengths == whole.sequence_lengths).all()
        assert part.rows_read == min(100, whole.sequences)
        assert part.mention_lengths.sum() == part.mentions_read < whole.mentions_read or whole.sequences <= 100
    assert sampled.occurrences.sum() < full.occurrences.sum()
    again = build_corpus_report(enwiki_corpus, rows=4, seed=3, sample_rows_per_split=100)
    assert [(r.split, r.index) for r in again.rows] == [(r.split, r.index) for r in sampled.rows]
    assert (again.occurrences == sampled.occurrences).all()


@pytest.mark.slow
def test_report_renders_without_network(enwiki_sp_corpus, tmp_path):
    output = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["inspect", "corpus", str(enwiki_sp_corpus), "-o", str(output)])
    assert result.exit_code == 0, result.output
    html = output.read_text()
    parsed = parse(html)
    assert parsed.tags["img"] == 4 and parsed.tags["script"] == 0 and parsed.tags["link"] == 0
    assert all(src.startswith("data:image/png;base64,") for src in parsed.resources), parsed.resources
    assert "url(" not in html and "@import" not in html


def test_tokenizer_checksum_is_the_one_runs_record(enwiki_dump, bpe_tokenizer_dir):
    from pretraining.vocabularies import tokenizer_checksum as recorded

    assert tokenizer_checksum(bpe_tokenizer_dir) == recorded(bpe_tokenizer_dir)


def test_missing_or_incomplete_corpus_fails_in_one_line_naming_it(tmp_path):
    runner = CliRunner()
    missing = tmp_path / "nowhere"
    result = runner.invoke(main, ["inspect", "corpus", str(missing), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: ") and str(missing) in result.output
    incomplete = tmp_path / "incomplete"
    (incomplete / "train").mkdir(parents=True)
    result = runner.invoke(main, ["inspect", "corpus", str(incomplete), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert str(incomplete) in result.output and "metadata.json is missing" in result.output
    assert not (tmp_path / "r.html").exists()


def test_unwritable_output_fails_before_reading_in_one_line(tmp_path):
    runner = CliRunner()
    (tmp_path / "a-file").write_text("")
    for output, reason in (
        (tmp_path / "a-file" / "report.html", "does not exist"),
        (tmp_path / "no-dir" / "report.html", "does not exist"),
        (tmp_path, "it is a directory"),
    ):
        for command in (["corpus", str(tmp_path / "nowhere")], ["run", str(tmp_path / "nowhere")]):
            result = runner.invoke(main, ["inspect", *command, "-o", str(output)])
            assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
            assert f"cannot write the report to {output}: " in result.output and reason in result.output


def test_write_report_names_the_path_when_the_rename_fails(tmp_path):
    from luke.inspection.page import OutputError, write_report

    target = tmp_path / "report.html"
    target.mkdir()
    with pytest.raises(OutputError, match=f"cannot write the report to {target}"):
        write_report(target, "<html></html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_help_explains_every_option_and_loads_no_heavy_library():
    runner = CliRunner()
    for command in (["corpus"], ["run"]):
        result = runner.invoke(main, ["inspect", *command, "--help"])
        assert result.exit_code == 0, result.output
        options = [line.split()[0] for line in result.output.splitlines() if line.strip().startswith("-")]
        assert options, result.output
        for line in result.output.split("Options:")[1].split("\n  -")[1:]:
            assert len(line.split()) > 3, f"option without explanation: {line}"
    probe = (
        "import sys\nfrom luke.cli import main\n"
        "for args in (['--help'], ['inspect', '--help'], ['inspect', 'corpus', '--help'],\n"
        "             ['inspect', 'run', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'apache_beam', 'matplotlib', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-500:]
