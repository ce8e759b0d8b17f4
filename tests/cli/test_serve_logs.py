"""A real `kmed serve` process with the audit log on: its log file has one JSON object per line,
an audit record per question with the request id, one per upload job with who sent which files
and the versions written, and no identifier a client sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from retrieval.settings import load_settings
from service.auth import key_hash
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files, wait_until_ready
from tests.service.conftest import DATA, _free_port

KMED = Path(sys.executable).parent / "kmed"
IDENTIFIERS = ("010-2345-6789", "900101-1234567", "kim.doctor@hanbit.kr", "H-2024-000123")
UPLOAD_KEY = "kmed_test_uploader_key_0123456789"


def test_serve_writes_redacted_audit_records(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    index_files(settings, [DATA / "statute_sample.md"])

    log_file, port = tmp_path / "logs" / "kmed.jsonl", _free_port()
    env = {
        **os.environ,
        "KMED_ANSWER__AUDIT_LOG": "true",
        "KMED_SERVER__LOG_FILE": str(log_file),
        "KMED_DATA_DIR": str(tmp_path / "data"),
        "KMED_API_KEYS": json.dumps([{"name": "ward-it", "hash": key_hash(UPLOAD_KEY), "role": "ingest"}]),
    }
    stderr = (tmp_path / "stderr.txt").open("wb")
    server = subprocess.Popen(
        [str(KMED), "serve", "--port", str(port), "--access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, server)
        who = " ".join(IDENTIFIERS)
        with httpx.Client(base_url=base, timeout=60) as client:
            asked = client.post(
                "/v1/ask",
                json={"question": f"{who} 환자의 진료기록부는 몇 년 보존하나요?"},
                headers={"X-Request-ID": "audit-test-1"},
            )
            assert asked.status_code == 200
            assert client.get("/v1/search", params={"q": f"{who} 진료기록부 보존"}).status_code == 200
            bad = client.post(
                "/v1/ask",
                content=f'{{"question": "{who}", "k": NaN}}',
                headers={"Content-Type": "application/json"},
            )
            assert bad.status_code == 422
            pdf = make_guideline_pdf(tmp_path / "fever.pdf").read_bytes()
            sent = client.post(
                "/v1/documents",
                files=[("files", ("fever.pdf", pdf))],
                data={"doc_id": "g-fever", "version": "2026"},
                headers={"X-API-Key": UPLOAD_KEY},
            )
            assert sent.status_code == 202, sent.text
            job = sent.json()
            deadline = time.monotonic() + 120
            while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                job = client.get(f"/v1/jobs/{job['id']}", headers={"X-API-Key": UPLOAD_KEY}).json()
            assert job["status"] == "done", job
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        stderr.close()

    lines = log_file.read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    text = log_file.read_text("utf-8")
    for identifier in IDENTIFIERS:
        assert identifier not in text, identifier
    audits = [r for r in records if r["logger"] == "kmed.audit"]
    ask = next(r for r in audits if r["audit"]["event"] == "ask")
    assert ask["request_id"] == "audit-test-1"
    assert "[전화번호]" in ask["audit"]["question"] and "[주민등록번호]" in ask["audit"]["question"]
    assert ask["audit"]["key"] == "anonymous" and isinstance(ask["audit"]["cited"], list)
    assert ask["audit"]["latency_ms"] > 0
    search = next(r for r in audits if r["audit"]["event"] == "search")
    assert "[환자번호]" in search["audit"]["question"] and search["audit"]["hits"]
    upload = next(r for r in audits if r["audit"]["event"] == "ingest")
    assert upload["audit"]["key"] == "ward-it" and upload["audit"]["files"] == ["fever.pdf"]
    assert upload["audit"]["versions"] == [
        {"file": "fever.pdf", "status": "new", "doc_id": "g-fever", "version": "2026"}
    ]
    assert UPLOAD_KEY not in text  # the key's name is logged, never the key
    assert any(r["logger"].startswith("uvicorn") for r in records)  # the server's own records too
