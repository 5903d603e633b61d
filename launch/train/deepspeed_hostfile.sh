#!/bin/bash
# One training stage with the DeepSpeed launcher: it reaches every host of HOSTFILE over passwordless ssh (pdsh)
# and starts one process per slot with RANK / WORLD_SIZE / LOCAL_RANK set. Launcher options go before `--`,
# `luke train`'s arguments after it:
#
#   HOSTFILE=launch/train/hostfile.example launch/train/deepspeed_hostfile.sh --ssh_port=2222 -- \
#       configs/train/luke-large-stage2.yaml data.corpus=/data/corpus run_dir=/runs/s2
#   echo "localhost slots=2" >hosts; HOSTFILE=hosts launch/train/deepspeed_hostfile.sh --no_ssh_check -- CONFIG ...
#
# Launcher options: any of `deepspeed --help` (--include, --exclude, --ssh_port, --launcher, --no_ssh_check ...).
# Environment: the same Python environment and paths on every host, pdsh (or ssh) on the first one. Ranks started
# over ssh get a fresh environment: this forwards TORCH_EXTENSIONS_DIR (default: inside the active environment,
# so no host rebuilds DeepSpeed's op into a shared cache), OMP_*, MKL_*, NCCL_*, GLOO_*, TORCH_*, HF_*,
# TOKENIZERS_*, DS_ACCELERATOR and LUKE_* variables, plus the lines of ~/.deepspeed_env and ./.deepspeed_env.
# Exit codes: `luke train`'s (0 finished, 75 stopped on request with a checkpoint saved, else an error).
set -euo pipefail
usage="usage: HOSTFILE=FILE deepspeed_hostfile.sh [LAUNCHER OPTION ...] -- CONFIG [key=value ...]"
launcher_options=()
while [[ $# -gt 0 && "$1" != "--" ]]; do launcher_options+=("$1"); shift; done
[[ $# -gt 0 ]] || { echo "deepspeed_hostfile.sh: no '--' before the training config; $usage" >&2; exit 2; }
shift
CONFIG=${1:?$usage}
shift
HOSTFILE=${HOSTFILE:?set HOSTFILE to a DeepSpeed hostfile ("host slots=8" per line)}
MASTER_ADDR=${MASTER_ADDR:-$(awk 'NF && $1 !~ /^#/ {print $1; exit}' "$HOSTFILE")}
TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$(python -c "from pretraining.process_env import extensions_dir; print(extensions_dir())")}
export TORCH_EXTENSIONS_DIR
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LUKE_EXIT_STATUS_DIR="$work/status"  # pretraining.launcher_status reads the ranks' codes here
mkdir "$LUKE_EXIT_STATUS_DIR"
# DS_ENV_FILE replaces ~/.deepspeed_env: its lines come first, then the variables the ranks need.
for file in ~/.deepspeed_env ./.deepspeed_env; do [[ -f "$file" ]] && grep -v '^[[:space:]]*$' "$file"; done \
    >"$work/deepspeed_env" || true
env | grep -E '^(OMP_|MKL_|NCCL_|GLOO_|TORCH_|HF_|TOKENIZERS_|DS_ACCELERATOR=|LUKE_)' >>"$work/deepspeed_env" || true
echo "forwarding to every rank: $(cut -d= -f1 "$work/deepspeed_env" | sort -u | tr '\n' ' ')"
# --no_local_rank: the ranks read LOCAL_RANK from the environment, `luke train` takes no --local_rank option.
DS_ENV_FILE="$work/deepspeed_env" python -m pretraining.launcher_status deepspeed --hostfile="$HOSTFILE" \
    --master_addr="$MASTER_ADDR" --master_port="${MASTER_PORT:-29500}" --no_local_rank "${launcher_options[@]}" \
    --module luke.cli train --config "$CONFIG" "$@"
