"""Small real Wikipedia dumps for demos and tests.

The PyPI wheel of gensim 4.3.3 carries two shortened Wikipedia dumps as test data. We fetch one pinned
wheel file with ``pip download --no-deps`` (gensim is never installed), extract the dump, check its
sha256 and cache it, so that later calls are instant and offline.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click

GENSIM_REQUIREMENT = "gensim==4.3.3"
# One pinned wheel file: the data is the same in every platform's wheel, pinning one keeps the download
# identical on every machine (pip picks the file by these tags, not by the host's).
WHEEL_TAGS = [
    "--platform",
    "manylinux_2_17_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--only-binary=:all:",
]
WHEEL_FILE = "gensim-4.3.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


@dataclass(frozen=True)
class SampleDump:
    """A dump file inside the gensim wheel and the sha256 of its bytes."""

    member: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


SAMPLE_DUMPS: dict[str, SampleDump] = {
    "en": SampleDump(
        "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
        "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d",
    ),
    "bg": SampleDump(
        "gensim/test/test_data/bgwiki-latest-pages-articles-shortened.xml.bz2",
        "8c67571ec18cb8f0f77a91ab2ee4a04c9368684358e40b94d95670f909210355",
    ),
}


class SampleDumpError(RuntimeError):
    """The sample dump could not be fetched or did not match its checksum."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/luke-pipeline``, else ``~/.cache/luke-pipeline``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "luke-pipeline"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sample_dump(language: str = "en", cache_dir: Path | None = None) -> Path:
    """Return the path of the cached sample dump of ``language``, downloading it on first use."""
    if language not in SAMPLE_DUMPS:
        raise SampleDumpError(f"no sample dump for language {language!r}; choose one of {sorted(SAMPLE_DUMPS)}")
    dump = SAMPLE_DUMPS[language]
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_dir / dump.filename
    if target.exists() and sha256_of(target) == dump.sha256:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        wheel = _download_wheel(Path(tmp))
        extracted = Path(tmp) / dump.filename
        with zipfile.ZipFile(wheel) as archive, archive.open(dump.member) as src, open(extracted, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        actual = sha256_of(extracted)
        if actual != dump.sha256:
            raise SampleDumpError(
                f"checksum mismatch for {dump.filename} from {WHEEL_FILE}: expected sha256 {dump.sha256}, "
                f"got {actual}; the file was not cached"
            )
        os.replace(extracted, target)  # atomic: the cache never holds a partial dump
    return target


def _download_wheel(directory: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(directory),
        *WHEEL_TAGS,
        GENSIM_REQUIREMENT,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise SampleDumpError(f"cannot run pip to download {GENSIM_REQUIREMENT}: {error}") from error
    wheel = directory / WHEEL_FILE
    if result.returncode != 0 or not wheel.exists():
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SampleDumpError(
            f"`pip download {GENSIM_REQUIREMENT}` failed (exit code {result.returncode}); the sample dump needs "
            "pip and access to PyPI the first time, then it is cached. pip said:\n  " + "\n  ".join(detail)
        )
    return wheel


@click.command("sample-dump")
@click.option(
    "--language",
    type=click.Choice(sorted(SAMPLE_DUMPS)),
    default="en",
    show_default=True,
    help="Which sample: the English dump (206 pages, 100 redirects) or the Bulgarian one (3 pages).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the dump is cached [default: $XDG_CACHE_HOME/luke-pipeline or ~/.cache/luke-pipeline].",
)
def sample_dump_command(language: str, cache_dir: Path | None) -> None:
    """Print the path of a small real Wikipedia dump (fetched once from PyPI, then cached)."""
    try:
        click.echo(fetch_sample_dump(language, cache_dir))
    except SampleDumpError as error:
        raise click.ClickException(str(error)) from error
