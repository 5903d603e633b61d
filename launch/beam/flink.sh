#!/usr/bin/env bash
# Build the entity vocabulary on an Apache Flink cluster through Beam's portable Flink runner.
# Not runnable on the development machines (no Flink cluster); see README.md.
set -euo pipefail

FLINK_MASTER="${FLINK_MASTER:?set FLINK_MASTER, e.g. flink-jobmanager:8081}"
WORKER_IMAGE="${WORKER_IMAGE:?set WORKER_IMAGE: an apache/beam_python3.11_sdk image with this package installed}"
DUMP="${DUMP:?set DUMP to the dump path on a filesystem every worker can read (s3://, gs://, hdfs://)}"
OUTPUT="${OUTPUT:?set OUTPUT, e.g. s3://bucket/corpus/entity_vocab.jsonl}"
PARALLELISM="${PARALLELISM:-64}"

luke build-entity-vocab "$DUMP" \
    --output "$OUTPUT" \
    --entity-vocab-size 500000 \
    --runner=FlinkRunner \
    --flink_master="$FLINK_MASTER" \
    --parallelism="$PARALLELISM" \
    --environment_type=DOCKER \
    --environment_config="$WORKER_IMAGE"
