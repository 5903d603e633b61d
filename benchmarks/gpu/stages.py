"""The stages of the GPU suite: each a budget and the commands it runs, for the GPU or for the CPU smoke mode.

Every command is a fresh process that may write one JSON (or JSON Lines) result; ``summary`` turns a stage's
results into the line of the suite's table. The GPU sizes follow issue 23: LUKE-large in bfloat16, micro-batch 16
for the model step (8 and 32 were measured once: 16 took 9-12 GiB), the trainer and the real run; smoke mode runs
the same code paths on a tiny model on the CPU.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DEEPSPEED = ROOT / "configs/deepspeed"


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    result: Path | None = None
    """A JSON file the command writes (JSON Lines: its last record), read into the suite's JSON."""


@dataclass(frozen=True)
class Stage:
    name: str
    budget_s: int
    """Seconds on the GPU; what a stage leaves unused passes to the next ones."""
    commands: list[Command]
    summary: Callable[[dict[str, object]], str] = field(default=lambda results: "")


@dataclass(frozen=True)
class Plan:
    device: str
    smoke: bool
    corpus: Path
    wheels: Path
    scratch: Path


def install_stage(plan: Plan) -> Stage:
    """The carried wheels (DeepSpeed resolving its missing dependencies from them, the project without its
    dependencies), then DeepSpeed's fused Adam built for this GPU once, so that later stages find it cached."""
    pip = [PYTHON, "-m", "pip", "install", "-q", "--no-index", "--root-user-action=ignore"]
    projects = sorted(plan.wheels.glob("luke_pipeline-*.whl"))
    build = (  # in luke train's JIT cache (pretraining.process_env), after its check for stale build locks
        "from pretraining.extension_locks import clear_stale_locks; from pretraining.process_env import "
        "extensions_root; clear_stale_locks(extensions_root()); "
        "from deepspeed.ops.op_builder import FusedAdamBuilder; FusedAdamBuilder().load()"
    )
    return Stage(
        "install",
        65,
        [
            Command("deepspeed", [*pip, "--find-links", str(plan.wheels), "deepspeed"]),
            Command("project", [*pip, "--no-deps", *map(str, projects)]),
            Command("fused adam", [PYTHON, "-c", build]),
        ],
    )


def check_stage(plan: Plan, check: str, budget_s: int, summary) -> Stage:
    result = plan.scratch / f"{check}.json"
    argv = [PYTHON, str(ROOT / "benchmarks/gpu/checks.py"), check, "--device", plan.device, "--json", str(result)]
    return Stage(check, budget_s, [Command(check, argv + ["--smoke"] * plan.smoke, result)], summary)


def bench_model_argv(plan: Plan) -> list[str]:
    if plan.smoke:
        sizes = ["--layers", "1", "--hidden", "64", "--words", "32", "--entities", "8", "--vocab-size", "500"]
        sizes += ["--entity-vocab-size", "100", "--steps", "1", "--modes", "entity-aware"]
    else:
        sizes = ["--config", "luke-large", "--dtype", "bfloat16", "--steps", "10"]
    return [PYTHON, str(ROOT / "benchmarks/bench_model.py"), *sizes, "--device", plan.device]


def model_stage(plan: Plan) -> Stage:
    """bench_model at batch 16, ours against transformers (batch 8 and 32: ``bench_model --batch-size``)."""
    batch_size = 2 if plan.smoke else 16
    result = plan.scratch / f"model-b{batch_size}.json"
    argv = [*bench_model_argv(plan), "--batch-size", str(batch_size), "--json", str(result)]
    return Stage("model", 95, [Command(f"batch {batch_size}", argv, result)], summarize_model_rows)


def compile_stage(plan: Plan) -> Stage:
    """The batch-16 row of ours, plain attention (LUKE-large's), with torch.compile on."""
    batch_size = 2 if plan.smoke else 16
    result = plan.scratch / "compile.json"
    argv = [*bench_model_argv(plan), "--batch-size", str(batch_size), "--implementations", "ours"]
    # smoke mode traces with dynamo and AOT autograd but leaves out inductor's code generation (minutes on 2 cores;
    # tests/test_compile.py checks inductor's losses)
    argv += ["--compile", "--json", str(result)]
    argv += ["--compile-backend", "aot_eager"] if plan.smoke else ["--modes", "plain"]
    return Stage("compile", 45, [Command("compiled", argv, result)], summarize_model_rows)


def trainer_stage(plan: Plan) -> Stage:
    """bench_trainer on ZeRO-2 first, with a profile of its steps and the baseline's (the trainer reached 0.23 of
    the baseline on 2026-12-04), then ZeRO-1 and ZeRO-3 (each command with its own baseline)."""
    if plan.smoke:
        sizes = ["--model", "mid", "--batch-size", "2", "--steps", "1", "--repeats", "1", "--num-workers", "0"]
        groups = [["zero2-fp32"]]
    else:
        sizes = ["--model", "luke-large", "--batch-size", "16", "--steps", "3", "--repeats", "3", "--num-workers", "2"]
        groups = [["zero2-bf16"], ["zero1-bf16", "zero3-bf16"]]
    profile = ["--profile", "1" if plan.smoke else "3"]
    commands = []
    for group in groups:
        result = plan.scratch / f"trainer-{'-'.join(group)}.json"
        configs = [str(DEEPSPEED / f"{name}.json") for name in group]
        argv = [PYTHON, str(ROOT / "benchmarks/bench_trainer.py"), *sizes, "--device", plan.device.split(":")[0]]
        argv += ["--corpus", str(plan.corpus), "--deepspeed", *configs, "--json", str(result)]
        argv += profile if group is groups[0] else []
        commands.append(Command(" + ".join(group), argv, result))
    return Stage("trainer", 160, commands, summarize_trainer)


def train_stage(plan: Plan) -> Stage:
    """``luke train`` (stage-2 style: every weight, fused Adam without bias correction, bf16) then ``luke export``
    with its verification; the tiny model on ZeRO-2 fp32 with torch's AdamW in smoke mode."""
    run_dir, export_dir = plan.scratch / "run", plan.scratch / "export"
    common = [f"data.corpus={plan.corpus}", f"run_dir={run_dir}", "model.init=random", "model.init_from="]
    if plan.smoke:
        config, steps = "tiny.yaml", 2
        common += ["batch.global_batch_size=4", "batch.micro_batch_size=4", "data.num_workers=0"]
        common += ["schedule.warmup_steps=0"]
    else:
        config, steps = "luke-large-stage2.yaml", 50
        common += ["model.vocab_sizes_from_corpus=true", "batch.global_batch_size=16", "batch.micro_batch_size=16"]
        common += ["data.num_workers=2", "schedule.warmup_steps=5"]
    common += [f"schedule.max_steps={steps}", f"checkpoint.every_steps={steps}", f"eval.every_steps={steps}"]
    common += ["eval.max_batches=2", f"logging.every_steps={max(1, steps // 5)}"]
    luke = [PYTHON, "-m", "luke.cli"]
    train = [*luke, "train", "--config", str(ROOT / "configs/train" / config), *common]
    export = [*luke, "export", str(run_dir), "--output", str(export_dir)]
    commands = [Command("train", train, run_dir / "metrics.jsonl"), Command("export", export)]
    return Stage("train+export", 110, commands, summarize_run)


def stages(plan: Plan) -> list[Stage]:
    """Every stage in the order it runs; the installation only on the GPU machine. Those with no figure yet come
    first (docs/PERFORMANCE.md, "GPU suite": the model and compile stages were measured on 2026-12-04)."""
    return [
        *([] if plan.smoke else [install_stage(plan)]),
        check_stage(plan, "environment", 10, summarize_environment),
        check_stage(plan, "correctness", 35, summarize_correctness),
        trainer_stage(plan),
        train_stage(plan),
        model_stage(plan),
        compile_stage(plan),
    ]


def summarize_environment(results: dict) -> str:
    env = results.get("environment") or {}
    device = f"{env.get('device')} ({env['memory_gib']} GiB, driver {env['driver']})" if "driver" in env else "cpu"
    return f"{device}; torch {env.get('torch')} CUDA {env.get('cuda')}; DeepSpeed {env.get('deepspeed')}"


def summarize_correctness(results: dict) -> str:
    check = results.get("correctness") or {}
    errors: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for row in check.get("parity", []):
        errors[row["dtype"]].append(max(row["word_states_error"], row["entity_states_error"]))
    worst = {dtype: max(values, default=float("nan")) for dtype, values in errors.items()}
    backends = "; ".join(f"{case}: {'/'.join(names)}" for case, names in check.get("sdpa_backend", {}).items())
    return f"passed {check.get('passed')}, worst fp32 {worst['float32']:.1e} bf16 {worst['bfloat16']:.1e}; {backends}"


def summarize_model_rows(results: dict) -> str:
    parts = []
    for rows in results.values():
        for row in rows or []:
            if row["implementation"] != "ours":
                continue
            mfu = f" MFU {row['mfu']:.0%}" if row.get("mfu") is not None else ""
            ratio = f" {row['speedup_vs_transformers']:.2f}×tf" if "speedup_vs_transformers" in row else ""
            parts.append(f"b{row['batch_size']} {row['mode']}: {row['tokens_per_s']:,.0f} tok/s{mfu}{ratio}")
    return "; ".join(parts)


def summarize_trainer(results: dict) -> str:
    parts = []
    for runs in results.values():
        for name, run in (runs or {}).items():
            if name == "baseline":
                continue
            mfu = f" MFU {run['mfu']:.0%}" if run.get("mfu") is not None else ""
            share = f" optim {run['optimizer_step_share']:.0%}"
            parts.append(f"{name}: {run['samples_per_s']:.2f} samples/s{mfu} {run['peak_mib'] / 1024:.1f} GiB{share}")
    return "; ".join(parts)


def summarize_run(results: dict) -> str:
    last = results.get("train") or {}
    return f"step {last.get('step')}: loss {last.get('loss')}, {last.get('tokens_per_s')} tokens/s"
