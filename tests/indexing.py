"""Building a real index from files for a test, and waiting for a real `kmed serve` on it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

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


def wait_until_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait for a `kmed serve` process to answer /readyz with 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "kmed serve did not start"
        time.sleep(0.3)
