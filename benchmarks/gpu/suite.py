"""Every GPU figure and CUDA check of issue 23 in one call, on a machine prepared by ``benchmarks/gpu/prepare.sh``.

Installs the carried wheels (``--no-index``), then runs the stages of ``stages.py`` in order: environment,
CUDA correctness and SDPA backends, ``bench_trainer`` (ZeRO-1/2/3), a real ``luke train`` + ``luke export``,
``bench_model`` (LUKE-large bf16, batch 16) and ``bench_model`` with ``torch.compile``. Each command is a subprocess
with a timeout: a stage may use its own budget plus what earlier stages left, and never more than the deadline
(default 520 s, inside a 570-second call), so a failing or slow stage costs only its own figures. Writes
``suite.json`` (every stage's status, times and results) and ``suite.log`` (every command's output) into
``--out`` (default ``$OUT`` when set, else ``gpu-suite-out/``) and prints a table.

    python3 benchmarks/gpu/suite.py                        # on the GPU machine (prepare.sh prints the call)
    python benchmarks/gpu/suite.py --device cpu --smoke    # every code path on a tiny model, no installation
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stages import ROOT, Command, Plan, Stage, stages  # this folder is sys.path[0] when run as a script

CARRY = ROOT / "gpu-carry"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no installation (CI on CPU)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-suite-out"))
    parser.add_argument("--carry", type=Path, default=CARRY, help="prepare.sh's folder (wheels/, corpus/)")
    parser.add_argument("--corpus", type=Path, help="corpus directory (default: CARRY/corpus)")
    parser.add_argument("--stages", nargs="+", help="run only these stages, after the installation (default: all)")
    parser.add_argument("--deadline", type=float, default=520.0, help="seconds for the whole suite (default 520)")
    return parser.parse_args(argv)


def child_environment(device: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    if device == "cpu":
        env.setdefault("DS_ACCELERATOR", "cpu")
    if "TORCH_CUDA_ARCH_LIST" in env:
        # DeepSpeed's JIT builder parses each entry as numbers: the image's "9.0a" (Hopper's arch-specific
        # features) fails it with "invalid literal for int(): '0a'". Fused Adam uses none of them.
        env["TORCH_CUDA_ARCH_LIST"] = re.sub(r"(\d+\.\d+)[a-z]+", r"\1", env["TORCH_CUDA_ARCH_LIST"])
    return env


def run_command(command: Command, timeout: float, env: dict[str, str], log) -> dict:
    """Run one command with ``timeout`` seconds, its output appended to ``log``; its status and result."""
    log.write(f"\n===== {command.name}: {' '.join(command.argv)}\n")
    log.flush()
    start = time.monotonic()
    if timeout <= 0:
        status = "skipped (no time left)"
    else:
        # its own process group, so that a timeout also ends its workers (bench_model's, DataLoader's)
        process = subprocess.Popen(
            command.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
            status = "ok" if returncode == 0 else f"failed ({returncode})"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            status = f"timed out ({timeout:.0f} s)"
    seconds = time.monotonic() - start
    log.write(f"===== {command.name}: {status} in {seconds:.1f} s\n")
    return {"name": command.name, "status": status, "seconds": round(seconds, 1), "result": read_result(command.result)}


def read_result(path: Path | None):
    """A command's JSON result; of JSON Lines, the last record of the train split (else the last record)."""
    if path is None or not path.is_file():
        return None
    if path.suffix != ".jsonl":
        return json.loads(path.read_text())
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [record for record in records if record.get("split") == "train"]
    return (train or records or [None])[-1]


def run_stage(stage: Stage, end: float, deadline: float, env: dict[str, str], log) -> dict:
    """The stage's commands in order, each with the time left until ``end`` (capped by ``deadline``)."""
    start = time.monotonic()
    commands = [run_command(command, min(end, deadline) - time.monotonic(), env, log) for command in stage.commands]
    failed = [command["status"] for command in commands if command["status"] != "ok"]
    results = {command["name"]: command["result"] for command in commands}
    try:
        summary = stage.summary(results)
    except (KeyError, TypeError, ValueError) as error:  # a partial result: the figures that came are in the JSON
        summary = f"(no summary: {error!r})"
    return {
        "name": stage.name,
        "status": failed[0] if failed else "ok",
        "seconds": round(time.monotonic() - start, 1),
        "budget_s": stage.budget_s,
        "summary": summary,
        "commands": commands,
    }


def run_suite(args: argparse.Namespace, log) -> list[dict]:
    """Every selected stage; a stage ends by its share of the cumulative budget and the deadline."""
    start = time.monotonic()
    deadline = start + args.deadline
    with tempfile.TemporaryDirectory(prefix="gpu-suite-") as scratch:
        plan = Plan(args.device, args.smoke, args.corpus or args.carry / "corpus", args.carry / "wheels", Path(scratch))
        env = child_environment(args.device)
        reports, end = [], start
        for stage in stages(plan):
            if args.stages and stage.name not in [*args.stages, "install"]:  # a fresh machine installs every time
                continue
            end += stage.budget_s
            reports.append(run_stage(stage, end, deadline, env, log))
            print(f"{stage.name}: {reports[-1]['status']} in {reports[-1]['seconds']} s", flush=True)
    return reports


def print_table(reports: list[dict]) -> None:
    print(f"\n{'stage':13s} {'status':22s} {'time':>13s}  figures")
    for report in reports:
        time_used = f"{report['seconds']:.0f}/{report['budget_s']} s"
        print(f"{report['name']:13s} {report['status']:22s} {time_used:>13s}  {report['summary']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with (args.out / "suite.log").open("w", encoding="utf-8") as log:
        reports = run_suite(args, log)
    summary = {"started": started, "device": args.device, "smoke": args.smoke, "stages": reports}
    (args.out / "suite.json").write_text(json.dumps(summary, indent=1) + "\n")
    print_table(reports)
    print(f"\nwrote {args.out / 'suite.json'} and {args.out / 'suite.log'}")
    return 0 if all(report["status"] == "ok" for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
