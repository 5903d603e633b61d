#!/usr/bin/env bash
# Run `luke build-corpus` or `luke build-entity-vocab` on Google Cloud Dataflow. Needs the gcp extra
# (pip install -e ".[gcp]": apache-beam[gcp]) and credentials; not runnable on the development machines.
#
#   PROJECT=my-project BUCKET=gs://my-bucket launch/beam/dataflow.sh build-corpus \
#       gs://my-bucket/dumps/enwiki-20240101-pages-articles-multistream.xml.bz2 --output gs://my-bucket/corpus \
#       --tokenizer roberta-large --entity-vocab-size 500000 --num-shards 256 --max_num_workers=32
#
# Beam pipeline options go after the job's own (--max_num_workers=...); MACHINE_TYPE sets the workers' type.
set -euo pipefail
source "$(dirname "$0")/common.sh"
PROJECT="${PROJECT:?set PROJECT to your GCP project}"
REGION="${REGION:-us-central1}"
BUCKET="${BUCKET:?set BUCKET to a gs:// bucket for temporary and staging files, e.g. gs://my-bucket}"
# Ship this package to the workers as a wheel (its dependencies are installed from PyPI by Dataflow).
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
python -m pip wheel --quiet --no-deps --wheel-dir "$WHEELS" "$ROOT"
luke "$@" \
    --runner=DataflowRunner \
    --project="$PROJECT" \
    --region="$REGION" \
    --temp_location="$BUCKET/tmp" \
    --staging_location="$BUCKET/staging" \
    --job_name="luke-$1-$(date +%Y%m%d-%H%M%S)" \
    --extra_package="$(ls "$WHEELS"/luke_pipeline-*.whl)" \
    --machine_type="${MACHINE_TYPE:-n2-standard-8}" \
    --experiments=use_runner_v2
