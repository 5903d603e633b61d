#!/usr/bin/env bash
# Run `luke build-corpus` or `luke build-entity-vocab` on an Apache Spark 3 cluster through Beam's portable Spark
# runner. Not runnable on the development machines (no Spark cluster).
#
#   SPARK_MASTER=spark://spark-master:7077 WORKER_IMAGE=registry/luke-beam:latest launch/beam/spark.sh \
#       build-corpus s3://bucket/dumps/enwiki-*.xml.bz2 --output s3://bucket/corpus --tokenizer roberta-large
#
# Job server: Beam starts one from beam-runners-spark-3-job-server-<beam version>.jar (here
# beam-runners-spark-3-job-server-2.77.0.jar), which it downloads from Maven Central
# (https://repo1.maven.org/maven2/org/apache/beam/) into ~/.apache_beam/cache/jars/ on first use. Offline, copy
# that jar there beforehand or set SPARK_JOB_SERVER_JAR=/path/to/it (--spark_job_server_jar); a JRE is needed.
# Workers: WORKER_IMAGE, an apache/beam_python3.11_sdk:2.77.0 image with this package installed.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SPARK_MASTER="${SPARK_MASTER:?set SPARK_MASTER, e.g. spark://spark-master:7077}"
WORKER_IMAGE="${WORKER_IMAGE:?set WORKER_IMAGE: an apache/beam_python3.11_sdk image with this package installed}"
luke "$@" \
    --runner=SparkRunner \
    --spark_master_url="$SPARK_MASTER" \
    ${SPARK_JOB_SERVER_JAR:+--spark_job_server_jar="$SPARK_JOB_SERVER_JAR"} \
    --environment_type=DOCKER \
    --environment_config="$WORKER_IMAGE"
