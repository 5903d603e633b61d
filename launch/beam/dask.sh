#!/usr/bin/env bash
# Build the entity vocabulary on a dask.distributed cluster (scheduler + workers you started, each worker
# with this package installed: pip install -e ".[dask]"). The tests run the same job on a local cluster.
set -euo pipefail

SCHEDULER="${SCHEDULER:?set SCHEDULER to the scheduler address, e.g. tcp://dask-scheduler:8786}"
DUMP="${DUMP:?set DUMP to the dump path on a filesystem every worker can read}"
OUTPUT="${OUTPUT:?set OUTPUT to the vocabulary path on a filesystem every worker can write}"

luke build-entity-vocab "$DUMP" \
    --output "$OUTPUT" \
    --entity-vocab-size 500000 \
    --runner=apache_beam.runners.dask.dask_runner.DaskRunner \
    --dask_client_address="$SCHEDULER"
