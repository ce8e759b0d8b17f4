"""A real uvicorn server on loopback over a real Edge index built from tests/data."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from retrieval.settings import Settings, load_settings
from service.app import create_app
from service.jobs import Ingest
from tests.fakes import FakeOpenAI
from tests.indexing import index_files

DATA = Path(__file__).resolve().parent.parent / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings, ingest: Ingest | None = None) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, ingest), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible chat server on loopback with scripted replies."""
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def indexed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("api") / "data")
    index_files(settings, [DATA / "statute_sample.md"])
    return settings


@pytest.fixture(scope="module")
def api(indexed_settings: Settings) -> Iterator[httpx.Client]:
    for url in serve(indexed_settings):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
