"""Shared fixtures: the real sample dumps (fetched once into the user cache, then offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from preprocessing.sample_dump import fetch_sample_dump


@pytest.fixture(scope="session")
def enwiki_dump() -> Path:
    """The shortened English Wikipedia dump (206 pages, 100 of them redirects)."""
    return fetch_sample_dump("en")


@pytest.fixture(scope="session")
def bgwiki_dump() -> Path:
    """The shortened Bulgarian Wikipedia dump (3 pages, UTF-16 encoded XML)."""
    return fetch_sample_dump("bg")
