"""Bytes that travel to the device machine with a call: the working tree as git sees it (tracked files and
untracked files that are not ignored) plus the carried paths; exits non-zero over the limit.

    python benchmarks/gpu/travel_size.py gpu-carry [--limit-mib 64]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tree_bytes(root: Path) -> int:
    """Tracked and untracked-not-ignored files under ``root`` (files deleted from the tree count nothing)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    paths = {root / name for name in listing.decode().split("\0") if name}
    return sum(path.stat().st_size for path in paths if path.is_file() and not path.is_symlink())


def path_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("carry", nargs="*", type=Path, help="carried paths, relative to the repository root")
    parser.add_argument("--limit-mib", type=float, default=64.0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = {"working tree": tree_bytes(ROOT)} | {str(path): path_bytes(ROOT / path) for path in args.carry}
    for name, size in sizes.items():
        print(f"{name:20s} {size / 2**20:8.2f} MiB")
    total = sum(sizes.values()) / 2**20
    print(f"{'total':20s} {total:8.2f} MiB of {args.limit_mib:g} MiB")
    return 0 if total <= args.limit_mib else 1


if __name__ == "__main__":
    sys.exit(main())
