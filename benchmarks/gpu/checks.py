"""The GPU suite's own checks, each run in a fresh process: ``python benchmarks/gpu/checks.py CHECK --json FILE``.

* ``environment``: the device (name, memory, capability, driver), torch / CUDA / cuDNN / DeepSpeed / transformers
  versions, the SDPA backends enabled and whether flash attention is available;
* ``correctness``: ours against ``transformers.LukeForMaskedLM`` on the same weights and a padded batch, in
  float32 and bfloat16, both attention modes: relative error ‖ours − ref‖ / ‖ref‖ of the last word and entity
  hidden states and the loss differences against transformers in float32 (transformers' own bfloat16 error is
  given beside ours); then which SDPA kernel our attention runs in a training step (profiler op names), with
  and without padding.

Sizes: LUKE-large's width (hidden 1024, 16 heads: head size 64, 128 in entity-aware mode) with 2 layers and
4 × (512 words + 64 entities) on CUDA; the tiny model on CPU (``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks")]

MODES = {"plain": False, "entity-aware": True}
TOLERANCE = {"float32": 1e-4, "bfloat16": 2e-2}  # relative error of the hidden states
# SDPA's aten ops by backend, matched in this order against the profiler's op names
SDPA_OPS = {
    "flash": "_scaled_dot_product_flash_attention",
    "efficient": "_scaled_dot_product_efficient_attention",
    "cudnn": "_scaled_dot_product_cudnn_attention",
    "math": "_scaled_dot_product_attention_math",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["environment", "correctness"])
    parser.add_argument("--device", default="cuda", help="cuda or cpu (default cuda)")
    parser.add_argument("--smoke", action="store_true", help="the tiny model (CPU smoke mode)")
    parser.add_argument("--json", type=Path, required=True, help="write the result here")
    return parser.parse_args(argv)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(device: str) -> dict:
    """What the suite runs on."""
    import torch

    result = {
        "python": sys.version.split()[0],
        **{name: package_version(name) for name in ("torch", "deepspeed", "transformers", "luke-pipeline")},
        "cuda": torch.version.cuda,
    }
    if not device.startswith("cuda"):
        return result | {"device": "cpu", "threads": torch.get_num_threads()}
    from bench_model import device_peak_bf16_tflops

    properties = torch.cuda.get_device_properties(device)
    driver = subprocess.run(
        ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True
    )
    backends = torch.backends.cuda
    return result | {
        "device": properties.name,
        "memory_gib": round(properties.total_memory / 2**30, 1),
        "capability": f"{properties.major}.{properties.minor}",
        "driver": driver.stdout.strip() or None,
        "cudnn": torch.backends.cudnn.version(),
        "bf16_peak_tflops": device_peak_bf16_tflops(device),
        "sdpa_enabled": {
            "flash": backends.flash_sdp_enabled(),
            "efficient": backends.mem_efficient_sdp_enabled(),
            "cudnn": backends.cudnn_sdp_enabled(),
            "math": backends.math_sdp_enabled(),
        },
        "flash_attention_available": backends.is_flash_attention_available(),
    }


def check_config(aware: bool, smoke: bool):
    from luke.configs import load_model_config

    vocabularies = {"vocab_size": 1000, "entity_vocab_size": 1000, "use_entity_aware_attention": aware}
    if smoke:
        return load_model_config("tiny", **vocabularies)
    return load_model_config("luke-large", num_hidden_layers=2, **vocabularies)


def check_batch(config, smoke: bool, padded: bool):
    import torch

    from luke.synthetic_batch import random_batch

    sizes = (2, 24, 6) if smoke else (4, 512, 64)
    return random_batch(config, torch.Generator().manual_seed(1), *sizes, padded=padded)


def relative_error(value, reference) -> float:
    reference = reference.double()
    return float((value.double() - reference).norm() / reference.norm())


def correctness(device: str, smoke: bool) -> dict:
    """Parity rows per (mode, dtype) and the SDPA backend per (mode, padding); ``passed`` when every row is
    within :data:`TOLERANCE`."""
    rows, backends = [], {}
    for mode, aware in MODES.items():
        rows += parity_rows(mode, check_config(aware, smoke), device, smoke)
        for padded in (False, True):
            backends[f"{mode}, {'padded' if padded else 'no padding'}"] = training_backends(
                check_config(aware, smoke), device, smoke, padded
            )
    return {"passed": all(row["passed"] for row in rows), "parity": rows, "sdpa_backend": backends}


def parity_rows(mode: str, config, device: str, smoke: bool) -> list[dict]:
    import torch
    from transformers import LukeForMaskedLM

    from luke.model import LukeForPretraining
    from luke.synthetic_batch import transformers_inputs

    torch.manual_seed(0)
    ours = LukeForPretraining(config).eval().to(device)
    theirs = LukeForMaskedLM(config).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs.to(device)
    batch = {name: value.to(device) for name, value in check_batch(config, smoke, padded=True).items()}
    inputs = {name: value for name, value in batch.items() if "labels" not in name}
    rows = []
    with torch.no_grad():
        reference = theirs(**transformers_inputs(batch), output_hidden_states=True)
        ref_states = (reference.hidden_states[-1], reference.entity_hidden_states[-1])
        for dtype in ("float32", "bfloat16"):
            ours.to(getattr(torch, dtype))
            states, output = ours.encode(**inputs), ours(**batch)
            theirs_error = None
            if dtype == "bfloat16":
                theirs.to(torch.bfloat16)
                low = theirs(**transformers_inputs(batch), output_hidden_states=True)
                theirs_error = relative_error(low.hidden_states[-1], ref_states[0])
            errors = [relative_error(value, ref) for value, ref in zip(states, ref_states, strict=True)]
            rows.append(
                {
                    "mode": mode,
                    "dtype": dtype,
                    "word_states_error": errors[0],
                    "entity_states_error": errors[1],
                    "transformers_word_states_error": theirs_error,
                    "mlm_loss_diff": abs(float(output.mlm_loss) - float(reference.mlm_loss)),
                    "mep_loss_diff": abs(float(output.mep_loss) - float(reference.mep_loss)),
                    "passed": max(errors) <= TOLERANCE[dtype],
                }
            )
    return rows


def training_backends(config, device: str, smoke: bool, padded: bool) -> list[str]:
    """The SDPA backends one training step (forward + backward, dropout on; bfloat16 on CUDA) runs."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from luke.model import LukeForPretraining

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = LukeForPretraining(config).to(device=device, dtype=dtype).train()
    batch = {name: value.to(device) for name, value in check_batch(config, smoke, padded).items()}
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        model(**batch).loss.backward()
    names = {event.key for event in profiler.key_averages()}
    return [backend for backend, op in SDPA_OPS.items() if any(op in name for name in names)]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = environment(args.device) if args.check == "environment" else correctness(args.device, args.smoke)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    if not result.get("passed", True):
        raise SystemExit("correctness: a row is out of tolerance")


if __name__ == "__main__":
    main()
