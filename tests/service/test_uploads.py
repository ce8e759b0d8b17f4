"""Ingestion into a running service over a real uvicorn server: uploads, jobs, refusals, and 16
clients searching and asking while a job ingests a real guideline PDF."""

from __future__ import annotations

import gzip
import io
import statistics
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kmed.service_ingest import service_ingest
from retrieval.settings import ApiKey, Settings, load_settings
from service.auth import key_hash
from tests.data.bad_pdfs import make_bad_pdfs
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files
from tests.service.conftest import DATA, serve

KEY = "ingest-key-for-tests"
INGEST = {"X-API-Key": KEY}
GUIDELINE = "소아청소년_하기도감염_항생제사용지침_2017.pdf"


def settings_for(root: Path, **server: object) -> Settings:
    settings = load_settings(data_dir=root / "data")
    settings.api_keys = [ApiKey(name="uploader", hash=key_hash(KEY), role="ingest")]
    settings.auth.rate_limit = settings.auth.anonymous_rate_limit = (
        "100000/minute"  # one address, many clients
    )
    for name, value in server.items():
        setattr(settings.server, name, value)
    return index_files(settings, [DATA / "statute_sample.md"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = settings_for(tmp_path, max_upload_bytes=2 << 20)
    for url in serve(settings, service_ingest(settings)):
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client


def wait(client: httpx.Client, job: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/jobs/{job['id']}", headers=INGEST).json()
        if body["status"] in ("done", "failed"):
            return body  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def upload(client: httpx.Client, *files: tuple[str, bytes], **form: str) -> httpx.Response:
    return client.post(
        "/v1/documents", files=[("files", (name, data)) for name, data in files], data=form, headers=INGEST
    )


def test_an_uploaded_guideline_is_searched_and_its_page_shown(api: httpx.Client, tmp_path: Path) -> None:
    pdf = make_guideline_pdf(tmp_path / "fever.pdf").read_bytes()
    response = upload(api, ("소아 발열 지침.pdf", pdf), issuer="한빛소아과학회", version="2024")
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    job = wait(api, response.json())
    assert job["status"] == "done", job
    (result,) = job["results"]
    assert result["status"] == "new" and result["units"] > 0 and result["version"] == "2024"
    assert job["submitted_by"] == "uploader" and job["progress"]["files_done"] == 1
    hits = api.get("/v1/search", params={"q": "해열제 용량", "doc_type": "guideline"}).json()["hits"]
    assert hits and hits[0]["clause"]["doc_id"] == result["doc_id"]
    page = api.get(f"/v1/clauses/{hits[0]['clause']['clause_id']}/page.png")
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
    again = wait(
        api, upload(api, ("소아 발열 지침.pdf", pdf), issuer="한빛소아과학회", version="2024").json()
    )
    assert [r["status"] for r in again["results"]] == ["unchanged"]
    listed = api.get("/v1/jobs", headers=INGEST).json()
    assert [j["id"] for j in listed][:2] == [again["id"], job["id"]]


def test_wrong_types_archives_empty_and_large_uploads_are_refused(api: httpx.Client) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("bomb.txt", "0" * 1_000_000)
    cases = {
        ("law.zip", zipped.getvalue()): 415,
        ("law.md.gz", gzip.compress(b"# law")): 415,
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 100): 415,  # the name says PDF, the bytes do not
        ("empty.md", b""): 422,
        ("huge.pdf", b"%PDF-1.7\n" + b"0" * (3 << 20)): 413,
    }
    for (name, data), status in cases.items():
        response = upload(api, (name, data))
        assert response.status_code == status, (name, response.text)
        assert response.json()["detail"]
    assert api.post("/v1/documents", files=[("files", ("a.md", b"# a"))]).status_code == 401
    assert api.get("/v1/jobs").status_code == 401
    assert api.get("/v1/jobs/0123abc", headers=INGEST).status_code == 404
    assert not api.get("/v1/jobs", headers=INGEST).json()  # nothing was queued


def test_bad_pdfs_fail_alone_and_leave_the_index_as_it_was(api: httpx.Client, tmp_path: Path) -> None:
    before = api.get("/v1/search", params={"q": "진료기록부 보존"}).json()["hits"]
    bad = make_bad_pdfs(tmp_path / "bad", huge_pages=30)
    kinds = ("corrupt", "truncated", "encrypted", "zero_pages")  # what gets past the type check
    files = [(bad[kind].name, bad[kind].read_bytes()) for kind in kinds]
    job = wait(api, upload(api, *files).json())
    assert job["status"] == "failed" and len(job["results"]) == len(files)
    assert all(
        r["status"] == "failed" and r["error"] and "/sources/" not in r["error"] for r in job["results"]
    )
    assert api.get("/v1/search", params={"q": "진료기록부 보존"}).json()["hits"] == before


def test_sixteen_clients_search_and_ask_while_a_real_guideline_is_ingested(tmp_path: Path) -> None:
    real = load_settings().shared_dir / "corpora" / "guidelines" / "pdf" / GUIDELINE
    pdf = real.read_bytes() if real.is_file() else make_guideline_pdf(tmp_path / "fever.pdf").read_bytes()
    settings = settings_for(tmp_path)
    question = "세기관지염 항생제" if real.is_file() else "해열제 용량"
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def client_loop(url: str, n: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while not stop.is_set():
                started = time.perf_counter()
                if n % 2:
                    response = client.get("/v1/search", params={"q": question})
                else:
                    response = client.post("/v1/ask", json={"question": "진료기록부는 몇 년 보존하나요?"})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    for url in serve(settings, service_ingest(settings)):
        threads = [threading.Thread(target=client_loop, args=(url, n), daemon=True) for n in range(16)]
        for thread in threads:
            thread.start()
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                sent = upload(client, (real.name if real.is_file() else "fever.pdf", pdf))
                assert sent.status_code == 202, sent.text
                job = wait(client, sent.json(), 900)
                first = client.get("/v1/search", params={"q": question, "doc_type": "guideline"}).json()[
                    "hits"
                ]
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=150)
    assert job["status"] == "done", job
    assert first and first[0]["clause"]["doc_id"] == job["results"][0]["doc_id"]
    assert not errors, errors[:3]
    assert len(latencies) > 16
    p95 = statistics.quantiles(latencies, n=20)[-1]
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    (out / "ingest_under_load.txt").write_text(
        f"{len(latencies)} requests by 16 clients during the job, 0 errors, p95 {p95 * 1000:.0f} ms, "
        f"median {statistics.median(latencies) * 1000:.0f} ms\n",
        "utf-8",
    )


def test_kmed_ingest_server_sends_the_files_and_prints_the_table(api: httpx.Client, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kmed.cli import app

    pdf = make_guideline_pdf(tmp_path / "fever.pdf")
    args = ["ingest", str(pdf), "--server", str(api.base_url), "--key", KEY, "--version", "2024"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "fever.pdf" in result.output and "new" in result.output and "1 ok, 0 failed" in result.output
    refused = CliRunner().invoke(app, [*args[:4], "--key", "wrong"])
    assert refused.exit_code == 2 and "401" in refused.output
