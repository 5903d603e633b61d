#!/usr/bin/env bash
# Build the entity vocabulary of a full Wikipedia dump on Google Cloud Dataflow.
# Not runnable on the development machines (no cloud access); see README.md.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to your GCP project}"
REGION="${REGION:-us-central1}"
BUCKET="${BUCKET:?set BUCKET to a gs:// bucket, e.g. gs://my-bucket}"
DUMP="${DUMP:-$BUCKET/dumps/enwiki-20240101-pages-articles-multistream.xml.bz2}"  # index next to it
OUTPUT="${OUTPUT:-$BUCKET/corpus/entity_vocab.jsonl}"

cd "$(dirname "$0")/../.."  # the repository root
# Ship this package to the workers as a wheel (its dependencies are installed from PyPI by Dataflow).
python -m pip wheel --no-deps --wheel-dir dist .
WHEEL="$(ls dist/luke_pipeline-*.whl | tail -n 1)"
luke build-entity-vocab "$DUMP" \
    --output "$OUTPUT" \
    --entity-vocab-size 500000 \
    --runner=DataflowRunner \
    --project="$PROJECT" \
    --region="$REGION" \
    --temp_location="$BUCKET/tmp" \
    --staging_location="$BUCKET/staging" \
    --job_name="luke-entity-vocab-$(date +%Y%m%d-%H%M%S)" \
    --extra_package="$WHEEL" \
    --machine_type=n2-standard-8 \
    --max_num_workers=16 \
    --experiments=use_runner_v2
