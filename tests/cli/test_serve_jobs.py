"""kill -9 of a real `kmed serve` in the middle of an ingestion job: after a restart the previous
version is intact and searched, the job says it failed and why, and the same upload succeeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from retrieval.settings import load_settings
from service.auth import key_hash
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files, wait_until_ready
from tests.service.conftest import DATA, _free_port

KMED = Path(sys.executable).parent / "kmed"
KEY = "ingest-key-for-the-kill-test"
INGEST = {"X-API-Key": KEY}
BIG = (
    load_settings().shared_dir
    / "corpora"
    / "guidelines"
    / "pdf"
    / "소아청소년_하기도감염_항생제사용지침_2017.pdf"
)


@contextmanager
def kmed_serve(tmp_path: Path, port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    keys = [{"name": "uploader", "hash": key_hash(KEY), "role": "ingest"}]
    env = {
        **os.environ,
        "KMED_DATA_DIR": str(tmp_path / "data"),
        "KMED_API_KEYS": json.dumps(keys),
        "KMED_SERVER__LOG_FILE": str(tmp_path / "serve.log"),
    }
    server = subprocess.Popen(
        [str(KMED), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(base, server)
    try:
        yield server, base
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


def job_of(base: str, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{base}/v1/jobs/{job_id}", headers=INGEST, timeout=30).json()  # type: ignore[no-any-return]


def current(base: str) -> dict[str, Any]:
    return httpx.get(f"{base}/v1/documents/g-fever", headers={"X-API-Key": KEY}, timeout=30).json()  # type: ignore[no-any-return]


@pytest.mark.skipif(
    not BIG.is_file(), reason=f"the shared corpora are absent ({BIG}): no PDF slow enough to cut"
)
def test_kill_9_mid_job_keeps_the_previous_version(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    index_files(settings, [DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "fever.pdf")])
    form = {"doc_id": "g-fever", "version": "2099", "effective": "2026-01-01"}  # a "revised edition"
    files = [("files", (BIG.name, BIG.read_bytes()))]

    with kmed_serve(tmp_path, _free_port()) as (server, base):
        before = httpx.get(f"{base}/v1/search", params={"q": "해열제 용량", "doc_type": "guideline"}).json()
        job = httpx.post(f"{base}/v1/documents", files=files, data=form, headers=INGEST, timeout=60).json()
        deadline = time.monotonic() + 300
        while job_of(base, job["id"])["progress"]["stage"] != "embedding":
            assert time.monotonic() < deadline and job_of(base, job["id"])["status"] != "done"
            time.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)

    with kmed_serve(tmp_path, _free_port()) as (_, base):
        cut = job_of(base, job["id"])
        assert cut["status"] == "failed" and "stopped while this job was embedding" in cut["error"]
        record = current(base)
        assert record["current"] == "2024" and len(record["versions"]) == 1
        after = httpx.get(f"{base}/v1/search", params={"q": "해열제 용량", "doc_type": "guideline"}).json()
        assert [h["clause"]["clause_id"] for h in after["hits"]] == [
            h["clause"]["clause_id"] for h in before["hits"]
        ]
        again = httpx.post(f"{base}/v1/documents", files=files, data=form, headers=INGEST, timeout=60).json()
        deadline = time.monotonic() + 900
        while (done := job_of(base, again["id"]))["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert done["status"] == "done", done
        assert current(base)["current"] == "2099"
