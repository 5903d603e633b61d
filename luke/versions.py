"""The versions of the libraries the pipeline runs on: what ``luke --version`` prints and what every corpus
(``metadata.json``), run (``run_info.json``) and exported model (its card) records.

Read from the installed distributions' metadata, so nothing heavy is imported.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

# Our package, then the libraries whose versions change what a job computes or whether it runs.
PIPELINE_PACKAGES = (
    "luke-pipeline",
    "apache-beam",
    "torch",
    "deepspeed",
    "transformers",
    "tokenizers",
    "sentencepiece",
    "wikiextractor",
    "pyicu-wheels",
    "pyarrow",
    "numpy",
    "safetensors",
    "dask",
    "distributed",
)


def package_versions() -> dict[str, str]:
    """``{"python": ..., package: version or "not installed"}`` for Python and :data:`PIPELINE_PACKAGES`."""
    versions = {"python": platform.python_version()}
    for package in PIPELINE_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def format_versions(versions: dict[str, str]) -> str:
    """One ``name version`` line per entry, names aligned (what a bug report should quote)."""
    width = max(map(len, versions))
    return "\n".join(f"{name:<{width}}  {value}" for name, value in versions.items())
