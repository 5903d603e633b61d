#!/usr/bin/env bash
# Build the entity vocabulary on an Apache Spark cluster through Beam's portable Spark runner.
# Not runnable on the development machines (no Spark cluster); see README.md.
set -euo pipefail

SPARK_MASTER="${SPARK_MASTER:?set SPARK_MASTER, e.g. spark://spark-master:7077}"
WORKER_IMAGE="${WORKER_IMAGE:?set WORKER_IMAGE: an apache/beam_python3.11_sdk image with this package installed}"
DUMP="${DUMP:?set DUMP to the dump path on a filesystem every worker can read (s3://, gs://, hdfs://)}"
OUTPUT="${OUTPUT:?set OUTPUT, e.g. s3://bucket/corpus/entity_vocab.jsonl}"

luke build-entity-vocab "$DUMP" \
    --output "$OUTPUT" \
    --entity-vocab-size 500000 \
    --runner=SparkRunner \
    --spark_master_url="$SPARK_MASTER" \
    --environment_type=DOCKER \
    --environment_config="$WORKER_IMAGE"
