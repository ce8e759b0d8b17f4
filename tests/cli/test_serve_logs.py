"""A real `kmed serve` process with the audit log on: its log file has one JSON object per line,
an audit record per question with the request id, and no identifier a client sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from retrieval.settings import load_settings
from tests.indexing import index_files, wait_until_ready
from tests.service.conftest import DATA, _free_port

KMED = Path(sys.executable).parent / "kmed"
IDENTIFIERS = ("010-2345-6789", "900101-1234567", "kim.doctor@hanbit.kr", "H-2024-000123")


def test_serve_writes_redacted_audit_records(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    index_files(settings, [DATA / "statute_sample.md"])

    log_file, port = tmp_path / "logs" / "kmed.jsonl", _free_port()
    env = {
        **os.environ,
        "KMED_ANSWER__AUDIT_LOG": "true",
        "KMED_SERVER__LOG_FILE": str(log_file),
        "KMED_DATA_DIR": str(tmp_path / "data"),
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
    assert any(r["logger"].startswith("uvicorn") for r in records)  # the server's own records too
