#!/usr/bin/env bash
# Run `luke build-corpus` or `luke build-entity-vocab` on a dask.distributed cluster (scheduler + workers you
# started, each worker with this package installed: pip install -e ".[dask]"). The tests run the same jobs on a
# local cluster.
#
#   SCHEDULER=tcp://dask-scheduler:8786 launch/beam/dask.sh build-corpus /shared/enwiki-*.xml.bz2 \
#       --output /shared/corpus --tokenizer roberta-large --entity-vocab-size 500000
#
# The dumps and the output must be on a filesystem every worker reads and writes. Each pass's work items (a
# multistream dump's stream ranges, then parts and shards) go in 16 partitions: on a cluster of more than 4
# worker threads give --dask_npartitions=N (~4 a thread). Worker memory grows ×1.1–1.2 per ×4 of XML from 1 to
# 4 GB, and still grows beyond (×1.2 from 4 to 8 GB; docs/PERFORMANCE.md, "Scale").
set -euo pipefail
source "$(dirname "$0")/common.sh"
SCHEDULER="${SCHEDULER:?set SCHEDULER to the scheduler address, e.g. tcp://dask-scheduler:8786}"
luke "$@" --runner=apache_beam.runners.dask.dask_runner.DaskRunner --dask_client_address="$SCHEDULER"
