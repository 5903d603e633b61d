"""The run directory of a training stage: what is in it, written once by rank 0 at start.

::

    run/
      config.json            the resolved training config (loadable by `luke train --config`)
      model_config.json      the transformers.LukeConfig of the model (vocab sizes from the corpus applied)
      deepspeed_config.json  the DeepSpeed config as run (the file of `deepspeed` completed from the config)
      corpus_metadata.json   the corpus's metadata.json, as trained on
      run_info.json          package versions, world size, corpus / tokenizer / entity-vocab paths and their
                             checksums (pretraining.vocabularies), start time
      starts.jsonl           one JSON object per start of `luke train` in this directory: the step it started
                             from, the checkpoint it resumed, world size, the resolved config and the
                             settings it changed (so that resumes and config changes stay visible after
                             config.json is replaced; see pretraining.config_changes)
      metrics.jsonl          one JSON object per logged step and evaluation
      tensorboard/           TensorBoard event files
      checkpoints/           DeepSpeed tags step-00001000/ ... and `latest` (see pretraining.checkpoint)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import LukeConfig

from luke.versions import package_versions
from preprocessing.corpus import Corpus
from pretraining.config import ConfigError, TrainConfig, save_config
from pretraining.config_changes import ConfigChange, RunSettings

CONFIG_FILE = "config.json"
MODEL_CONFIG_FILE = "model_config.json"
DEEPSPEED_CONFIG_FILE = "deepspeed_config.json"
CORPUS_METADATA_FILE = "corpus_metadata.json"
RUN_INFO_FILE = "run_info.json"
STARTS_FILE = "starts.jsonl"
VOCABULARY_CHECKSUMS = "vocabulary_checksums"


def write_run_files(
    run_dir: Path,
    config: TrainConfig,
    model_config: LukeConfig,
    deepspeed_config: dict[str, Any],
    corpus: Corpus,
    world_size: int,
    vocabulary_checksums: dict[str, str],
) -> None:
    """Write the description of this run (rank 0 only); replaces the files of an earlier start.
    ``vocabulary_checksums``: ``pretraining.vocabularies.corpus_checksums(corpus)``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / CONFIG_FILE)
    model_config.to_json_file(str(run_dir / MODEL_CONFIG_FILE))
    _write_json(run_dir / DEEPSPEED_CONFIG_FILE, deepspeed_config)
    _write_json(run_dir / CORPUS_METADATA_FILE, corpus.metadata)
    _write_json(
        run_dir / RUN_INFO_FILE,
        {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "world_size": world_size,
            "corpus": str(corpus.path.resolve()),
            "tokenizer": str(corpus.tokenizer_path.resolve()),
            "entity_vocab": str(corpus.entity_vocab_path.resolve()),
            VOCABULARY_CHECKSUMS: vocabulary_checksums,
            "versions": package_versions(),
        },
    )


def record_start(
    run_dir: Path,
    step: int,
    config: dict[str, Any],
    world_size: int,
    resumed_from: str | None,
    changes: list[ConfigChange] = (),
) -> None:
    """Append this start to ``starts.jsonl`` (rank 0 only). Records of starts after ``step`` are dropped
    first, as ``metrics.jsonl`` drops the steps after the checkpoint a run resumes from: the file stays the
    history of the steps that count. ``config``: the resolved config as given (before resume adjusts it);
    ``changes``: the settings that differ from the run's recorded ones, in force from ``step`` on."""
    path = run_dir / STARTS_FILE
    kept = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                pass  # a torn line of a killed start
    record = {
        "step": step,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resumed_from": resumed_from,
        "world_size": world_size,
        "config": config,
        "changed": [change.to_record() for change in changes],
    }
    kept.append(json.dumps(record))
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    temporary.replace(path)


def read_run_info(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / RUN_INFO_FILE).read_text(encoding="utf-8"))


def read_settings(run_dir: Path) -> RunSettings:
    """The settings the run's latest start recorded (config, model config, DeepSpeed config, corpus); a
    :class:`ConfigError` naming the file when one cannot be read."""
    deepspeed = run_dir / DEEPSPEED_CONFIG_FILE
    try:
        return RunSettings(
            config=_read_json(run_dir / CONFIG_FILE),
            model_config=LukeConfig.from_json_file(str(run_dir / MODEL_CONFIG_FILE)).to_dict(),
            deepspeed=_read_json(deepspeed) if deepspeed.is_file() else None,
            corpus_metadata=_read_json(run_dir / CORPUS_METADATA_FILE),
            vocabulary_checksums=read_run_info(run_dir).get(VOCABULARY_CHECKSUMS, {}),
        )
    except (OSError, ValueError) as error:  # json.JSONDecodeError and LukeConfig's EnvironmentError included
        raise ConfigError(
            f"cannot resume {run_dir}: its recorded settings, to compare with these, are unreadable ({error})"
        ) from error


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
