#!/bin/bash
# One training stage with torchrun: run this script once on every node, with the same MASTER_ADDR and
# NNODES and its own NODE_RANK (0 on the node at MASTER_ADDR).
#
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 launch/train/torchrun_multinode.sh configs/train/luke-base-stage1.yaml \
#       data.corpus=/data/corpus run_dir=/runs/base-s1        # and NODE_RANK=1 on the second node
#
# Environment: NNODES, NODE_RANK, MASTER_ADDR (reachable from all nodes), optionally MASTER_PORT (29500) and
# GPUS_PER_NODE (all visible GPUs). On CPU-only machines set DS_ACCELERATOR=cpu and GPUS_PER_NODE (ranks per
# node); the tests run two such "nodes" on 127.0.0.1.
# Exit codes: `luke train`'s (0 finished, 75 stopped on request with a checkpoint saved, else an error);
# torchrun alone would turn 75 into 1 (pretraining.launcher_status).
set -euo pipefail
CONFIG=${1:?usage: NNODES=N NODE_RANK=I MASTER_ADDR=HOST torchrun_multinode.sh CONFIG [key=value ...]}
shift
GPUS_PER_NODE=${GPUS_PER_NODE:-$(python -c "import torch; print(max(torch.cuda.device_count(), 1))")}
exec python -m pretraining.launcher_status torchrun --nnodes="${NNODES:?}" --node_rank="${NODE_RANK:?}" \
    --nproc_per_node="$GPUS_PER_NODE" --master_addr="${MASTER_ADDR:?}" --master_port="${MASTER_PORT:-29500}" \
    -m luke.cli train --config "$CONFIG" "$@"
