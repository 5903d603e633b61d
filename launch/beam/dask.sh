#!/usr/bin/env bash
# Run `luke build-corpus` or `luke build-entity-vocab` on a dask.distributed cluster (scheduler + workers you
# started, each worker with this package installed: pip install -e ".[dask]"). The tests run the same jobs on a
# local cluster.
#
#   SCHEDULER=tcp://dask-scheduler:8786 launch/beam/dask.sh build-corpus /shared/enwiki-*.xml.bz2 \
#       --output /shared/corpus --tokenizer roberta-large --entity-vocab-size 500000
#
# The dumps and the output must be on a filesystem every worker reads and writes. Each pass's work items (a
# multistream dump's stream ranges, then parts and shards) go in 4 partitions per worker thread the scheduler
# counts when the job starts (at least 16; --dask_npartitions=N to choose). Start the workers with Dask's
# profiler off (DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False in their environment): by default each keeps an
# hour of per-second profiles. So started, worker memory grows ×1.06–1.07 per ×4 of XML from 1 to 4 GB and ×1.12
# from 4 to 8 GB (docs/PERFORMANCE.md, "Scale").
set -euo pipefail
source "$(dirname "$0")/common.sh"
SCHEDULER="${SCHEDULER:?set SCHEDULER to the scheduler address, e.g. tcp://dask-scheduler:8786}"
luke "$@" --runner=apache_beam.runners.dask.dask_runner.DaskRunner --dask_client_address="$SCHEDULER"
