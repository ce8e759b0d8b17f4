"""What a client can send, against a real uvicorn server: every request ends in a clear 4xx or a
correct answer, never a 500 or a cut stream, and no question reaches a log unredacted."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from retrieval.settings import Settings, load_settings
from tests.data.guideline_pdf import make_guideline_pdf
from tests.fakes import FakeOpenAI
from tests.indexing import index_files
from tests.service.conftest import DATA, serve

QUESTION = "진료기록부는 몇 년 동안 보존해야 하나요?"


def build(root: Path) -> Settings:
    pdf = make_guideline_pdf(root / "fever.pdf")
    settings = load_settings(data_dir=root / "data")
    settings.server.body_timeout = 1.0
    index_files(settings, [DATA / "statute_sample.md", pdf])
    return settings


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def api(indexed: Settings) -> Iterator[httpx.Client]:
    for url in serve(indexed):
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def raw_post(api: httpx.Client, body: bytes) -> httpx.Response:
    return api.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_a_clear_422(
    api: httpx.Client, number: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "환자 홍길동 010-9876-5432"
    with caplog.at_level(logging.DEBUG):
        response = raw_post(api, f'{{"question": "{secret}", "k": {number}}}'.encode())
    assert response.status_code == 422, response.text
    body = response.json()  # valid JSON: no NaN was echoed back
    assert body["errors"][0]["loc"] == ["body", "k"]
    assert "finite" in body["detail"] or "integer" in body["detail"]
    assert "홍길동" not in response.text and "010-9876-5432" not in response.text
    assert not any("홍길동" in r.getMessage() or "9876-5432" in r.getMessage() for r in caplog.records)


def test_a_lone_surrogate_is_a_422_plain_or_streamed(api: httpx.Client) -> None:
    for stream in ("false", "true"):
        body = f'{{"question": "\\ud800 진료기록부 보존", "stream": {stream}}}'.encode()
        response = raw_post(api, body)
        assert response.status_code == 422, response.text
        assert "surrogate" in response.json()["detail"]
    response = api.get("/v1/search?q=%ED%A0%80%20%EC%A7%84%EB%A3%8C")  # a surrogate as UTF-8 bytes
    assert response.status_code in (200, 422), response.text


def test_search_redacts_the_question_it_returns(api: httpx.Client) -> None:
    response = api.get("/v1/search", params={"q": "환자 010-1234-5678 진료기록부 보존 기간"})
    assert response.status_code == 200
    body = response.json()
    assert "010-1234-5678" not in response.text
    assert body["query"] == "환자 [전화번호] 진료기록부 보존 기간"
    assert body["redacted"] == {"전화번호": 1}


def test_request_ids_are_echoed_or_made(api: httpx.Client) -> None:
    given = api.get("/healthz", headers={"X-Request-ID": "ward-7.abc123"})
    assert given.headers["x-request-id"] == "ward-7.abc123"
    made = api.get("/healthz", headers={"X-Request-ID": "not a token; <script>"})
    assert len(made.headers["x-request-id"]) == 32


def test_a_body_over_the_limit_is_413(api: httpx.Client, indexed: Settings) -> None:
    big = b'{"question": "' + b"a" * (indexed.server.max_body_bytes + 10) + b'"}'
    response = raw_post(api, big)
    assert response.status_code == 413, response.text[:200]
    announced = api.post(
        "/v1/ask",
        content=iter([b'{"question": "', b"a" * (indexed.server.max_body_bytes + 10), b'"}']),
        headers={"Content-Type": "application/json"},
    )  # chunked: no Content-Length to refuse up front
    assert announced.status_code == 413


def test_a_body_that_never_arrives_is_408(api: httpx.Client, indexed: Settings) -> None:
    host, port = urlsplit(str(api.base_url)).hostname, urlsplit(str(api.base_url)).port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 500\r\n\r\n{"question": '
        )
        started = time.monotonic()
        reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert time.monotonic() - started < indexed.server.body_timeout + 5


def test_a_very_long_question_is_bounded_and_says_so(api: httpx.Client, indexed: Settings) -> None:
    question = ("진료기록부의 보존 기간과 사본 발급에 관하여 묻습니다. " * 80)[:2000]
    response = api.get("/v1/search", params={"q": question})
    assert response.status_code == 200
    (note,) = response.json()["notes"]
    assert "2000 characters" in note and str(indexed.dense_window_chars // 2) in note
    answered = api.post("/v1/ask", json={"question": question})
    assert answered.status_code == 200 and answered.json()["notes"] == [note]


def test_a_model_that_breaks_mid_stream_ends_the_stream_with_an_error(
    tmp_path: Path, fake_llm: FakeOpenAI
) -> None:
    own = build(tmp_path)  # the module's server holds the other index
    llm = own.llm.model_copy(
        update={"provider": "openai-like", "model": "fake", "base_url": fake_llm.url, "timeout": 5.0}
    )
    for url in serve(own.model_copy(update={"llm": llm})):
        fake_llm.replies[:] = [f"진료기록부는 10년간 보존합니다 {FakeOpenAI.BREAK}"] * 4
        ask = {"question": QUESTION, "stream": True}
        with (
            httpx.Client(base_url=url, timeout=60) as client,
            client.stream("POST", "/v1/ask", json=ask) as response,
        ):
            assert response.status_code == 200
            text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("event:")]
    assert events[0].startswith("event: retrieval")
    assert events[-1].startswith("event: error"), events[-1]
    detail = json.loads(events[-1].split("data: ", 1)[1])["detail"]
    assert detail


def guideline_chunk(api: httpx.Client) -> str:
    hits = api.get("/v1/search", params={"q": "열성 경련", "doc_type": "guideline"}).json()["hits"]
    return str(hits[0]["clause"]["clause_id"])


def test_concurrent_renders_of_one_page_all_get_the_whole_png(api: httpx.Client) -> None:
    clause_id = guideline_chunk(api)

    def fetch(_: int) -> httpx.Response:
        return api.get(f"/v1/clauses/{clause_id}/page.png")

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(fetch, range(16)))
    assert {r.status_code for r in responses} == {200}
    bodies = {r.content for r in responses}
    assert len(bodies) == 1 and next(iter(bodies)).startswith(b"\x89PNG")


def test_a_pdf_changed_after_ingestion_is_409_not_a_wrong_page(
    api: httpx.Client, indexed: Settings, tmp_path: Path
) -> None:
    clause_id = guideline_chunk(api)
    pdf = Path(api.get(f"/v1/clauses/{clause_id}").json()["source"])
    original = pdf.read_bytes()
    for cached in (indexed.data_dir / "cache" / "pages").glob("*.png"):
        cached.unlink()
    try:
        pdf.write_bytes(make_guideline_pdf(tmp_path / "other.pdf", edition="2025").read_bytes())
        response = api.get(f"/v1/clauses/{clause_id}/page.png")
        assert response.status_code == 409, response.text
        assert "changed since it was ingested" in response.json()["detail"]
    finally:
        pdf.write_bytes(original)
    assert api.get(f"/v1/clauses/{clause_id}/page.png").status_code == 200
