"""Building a real index from files for a test: the embedder and encoder the settings name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ingest.pipeline import ingest_paths
from retrieval.runtime import build_dense, build_encoder, open_for_writing
from retrieval.settings import Settings


def index_files(settings: Settings, paths: Sequence[Path]) -> Settings:
    """Ingest `paths` into the settings' data folder (every file must succeed); the settings."""
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    try:
        report = ingest_paths(list(paths), index=index, embedder=embedder, encoder=build_encoder(settings))
    finally:
        index.close()
    assert not report.failed, [(r.path, r.error) for r in report.failed]
    return settings
