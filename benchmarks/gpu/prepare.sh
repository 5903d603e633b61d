#!/usr/bin/env bash
# Build, on a CPU machine with internet access to PyPI, what benchmarks/gpu/suite.py needs on the GPU machine
# (issue 23), into gpu-carry/ (git-ignored): the wheels it lacks and a small real corpus. Checks what would
# travel (the whole working tree plus gpu-carry/) against the 64 MiB limit and prints the call to make there.
#
# The GPU machine has Python 3.12, torch, transformers, pyarrow, tokenizers, sentencepiece, safetensors,
# tensorboard, click, tqdm, pytest, numpy, psutil, ninja, einops, msgpack, py-cpuinfo, xxhash, pyyaml, matplotlib,
# but no DeepSpeed and not this project. Carried: DeepSpeed as a pure-Python wheel (no op prebuilt; the suite
# builds fused Adam there with nvcc), its dependencies missing there for CPython 3.12 manylinux (pydantic-core is
# compiled), and the project as a wheel installed with --no-deps: the GPU stages use none of apache-beam,
# wikiextractor or pyicu (the corpus is built here).
#
#     benchmarks/gpu/prepare.sh            # PYTHON=... to use another interpreter than .venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
CARRY=gpu-carry
WHEELS=$CARRY/wheels
# DeepSpeed's requirements that the GPU machine lacks (typing-extensions: in case its own is older than pydantic's)
DEEPSPEED_DEPS=(hjson pydantic pydantic-core annotated-types typing-inspection typing-extensions)

version() { "$PYTHON" -c "from importlib.metadata import version; print(version('$1'))"; }

rm -rf "$CARRY"
mkdir -p "$WHEELS"

echo "== DeepSpeed $(version deepspeed), pure Python (DS_BUILD_OPS=0)"
DS_BUILD_OPS=0 "$PYTHON" -m pip wheel -q --no-cache-dir --no-deps --no-build-isolation --no-binary deepspeed \
    -w "$WHEELS" "deepspeed==$(version deepspeed)"

echo "== its dependencies for CPython 3.12 manylinux x86_64"
pins=()
for name in "${DEEPSPEED_DEPS[@]}"; do pins+=("$name==$(version "$name")"); done
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WHEELS" "${pins[@]}"

echo "== the project"
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$WHEELS" .

echo "== a corpus from the sample dump, byte-level BPE tokenizer"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -c "
import sys
from pathlib import Path
sys.path.insert(0, 'tests')
from corpus_builders import train_bpe_tokenizer
from preprocessing.sources.sample import fetch_sample_dump
train_bpe_tokenizer(fetch_sample_dump('en'), Path('$scratch/tokenizer'))
"
"$PYTHON" -m luke.cli build-corpus "$("$PYTHON" -m luke.cli sample-dump)" --output "$CARRY/corpus" \
    --tokenizer "$scratch/tokenizer" --keep-missing-targets >"$scratch/build.log" 2>&1 \
    || { cat "$scratch/build.log"; exit 1; }
tail -n 1 "$scratch/build.log"

echo "== what travels"
ls -l "$WHEELS"
"$PYTHON" benchmarks/gpu/travel_size.py "$CARRY"

cat <<EOF

On the GPU machine, one call of the device tool (the suite ends inside 520 s; its JSON and log come back):
    run(command="python3 benchmarks/gpu/suite.py", carry=["$CARRY"], timeout_s=570)
EOF
