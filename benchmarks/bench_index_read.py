"""What reading a multistream index costs the driver: ``read_stream_offsets`` against decompression alone.

Since the driver plans the stream ranges itself (``preprocessing.sources.reading.plan_reading``), every job on a
multistream dump starts by decompressing and parsing its index on the launching machine. English Wikipedia's
index has ~23M lines (one per page, 100 per bz2 stream). This writes a **synthetic** index laid out as
Wikimedia's (``offset:page_id:title``, 100 pages per offset, titles of English Wikipedia's mean length, ~20
characters; random letters, so it compresses worse than the real one), bz2-compressed, then times:

- ``decompress`` (the baseline): ``bz2`` alone, the floor of any reader;
- ``read_stream_offsets``: the project's reader (a loop over the lines, each split at its first colon).

It prints the medians, the ratio of the two (the parsing's share on top of decompression), and the time
projected for 23M lines. (A reader scanning 16 MiB blocks with regular expressions was 1.1× faster on this
input, not worth its code.)

    python benchmarks/bench_index_read.py [--lines 2000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import bz2
import random
import statistics
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from preprocessing.sources.files import iter_blocks, open_decompressed
from preprocessing.sources.multistream import read_stream_offsets

ENWIKI_INDEX_LINES = 23_000_000
PAGES_PER_STREAM = 100
MEAN_TITLE_CHARACTERS = 20


def write_index(path: Path, lines: int, seed: int = 0) -> None:
    """A bz2 index of ``lines`` pages, 100 per stream, offsets growing by ~150 KB per stream."""
    rng = random.Random(seed)
    letters = string.ascii_letters + " "
    offset, rows = 600, []
    for page in range(lines):
        if page and page % PAGES_PER_STREAM == 0:
            offset += rng.randint(100_000, 200_000)
        title = "".join(rng.choices(letters, k=rng.randint(5, 2 * MEAN_TITLE_CHARACTERS - 5)))
        rows.append(f"{offset}:{page + 10}:{title}\n")
    path.write_bytes(bz2.compress("".join(rows).encode("utf-8")))


def decompress_only(path: str) -> int:
    with open_decompressed(path) as stream:
        return sum(len(block) for block in iter_blocks(stream))


def median_seconds(function: Callable[[str], object], path: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="pages in the synthetic index (default 2M)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synwiki-pages-articles-multistream-index.txt.bz2"
        write_index(path, args.lines)
        offsets = read_stream_offsets(str(path))
        assert len(offsets) == -(-args.lines // PAGES_PER_STREAM)
        print(f"synthetic index: {args.lines:,} lines, {path.stat().st_size / 2**20:.1f} MiB of bz2")
        seconds = {
            name: median_seconds(function, str(path), args.repeats)
            for name, function in (("decompress", decompress_only), ("read_stream_offsets", read_stream_offsets))
        }
    scale = ENWIKI_INDEX_LINES / args.lines
    for name, value in seconds.items():
        print(f"{name:20s} {value:7.2f} s median of {args.repeats}; {value * scale:6.0f} s projected for 23M lines")
    ratio = seconds["read_stream_offsets"] / seconds["decompress"]
    print(f"ratio read_stream_offsets / decompress: {ratio:.2f}×")


if __name__ == "__main__":
    main()
