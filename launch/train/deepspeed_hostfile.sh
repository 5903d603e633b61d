#!/bin/bash
# One training stage with the DeepSpeed launcher: it reaches every host of HOSTFILE over passwordless ssh and
# starts one process per GPU (slots) with RANK / WORLD_SIZE / LOCAL_RANK set.
#
#   HOSTFILE=launch/train/hostfile.example launch/train/deepspeed_hostfile.sh configs/train/luke-large-stage2.yaml \
#       data.corpus=/data/corpus run_dir=/runs/s2
#
# Environment: the same Python environment and paths on every host (pdsh or ssh installed on the first one);
# variables to forward to the ranks go into ~/.deepspeed_env (e.g. NCCL_SOCKET_IFNAME=eth0).
set -euo pipefail
CONFIG=${1:?usage: HOSTFILE=FILE deepspeed_hostfile.sh CONFIG [key=value ...]}
shift
HOSTFILE=${HOSTFILE:?set HOSTFILE to a DeepSpeed hostfile ("host slots=8" per line)}
MASTER_ADDR=${MASTER_ADDR:-$(awk 'NF && $1 !~ /^#/ {print $1; exit}' "$HOSTFILE")}
# --no_local_rank: the ranks read LOCAL_RANK from the environment, `luke train` takes no --local_rank option.
exec deepspeed --hostfile="$HOSTFILE" --master_addr="$MASTER_ADDR" --master_port="${MASTER_PORT:-29500}" \
    --no_local_rank --module luke.cli train --config "$CONFIG" "$@"
