#!/usr/bin/env bash
# Run `luke build-corpus` or `luke build-entity-vocab` on an Apache Flink cluster through Beam's portable Flink
# runner. Not runnable on the development machines (no Flink cluster).
#
#   FLINK_MASTER=flink-jobmanager:8081 WORKER_IMAGE=registry/luke-beam:latest launch/beam/flink.sh build-corpus \
#       s3://bucket/dumps/enwiki-*.xml.bz2 --output s3://bucket/corpus --tokenizer roberta-large --parallelism=64
#
# Job server: Beam starts one from beam-runners-flink-<FLINK_VERSION>-job-server-<beam version>.jar (here
# beam-runners-flink-1.20-job-server-2.77.0.jar), which it downloads from Maven Central
# (https://repo1.maven.org/maven2/org/apache/beam/) into ~/.apache_beam/cache/jars/ on first use. Offline, copy
# that jar there beforehand or set FLINK_JOB_SERVER_JAR=/path/to/it (--flink_job_server_jar); a JRE is needed.
# FLINK_VERSION (--flink_version, 1.19 / 1.20 / 2.0 / 2.1 / 2.2 in Beam 2.77) must match the cluster's.
# Workers: WORKER_IMAGE, an apache/beam_python3.11_sdk:2.77.0 image with this package installed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
FLINK_MASTER="${FLINK_MASTER:?set FLINK_MASTER, e.g. flink-jobmanager:8081}"
WORKER_IMAGE="${WORKER_IMAGE:?set WORKER_IMAGE: an apache/beam_python3.11_sdk image with this package installed}"
luke "$@" \
    --runner=FlinkRunner \
    --flink_master="$FLINK_MASTER" \
    --flink_version="${FLINK_VERSION:-1.20}" \
    ${FLINK_JOB_SERVER_JAR:+--flink_job_server_jar="$FLINK_JOB_SERVER_JAR"} \
    --environment_type=DOCKER \
    --environment_config="$WORKER_IMAGE"
