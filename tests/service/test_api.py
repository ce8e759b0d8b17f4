"""The HTTP API over loopback: search, clause lookup, health, readiness, errors, OpenAPI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from retrieval.settings import Settings, load_settings
from tests.service.conftest import DATA, serve


def test_search_returns_cited_clauses(api: httpx.Client) -> None:
    response = api.get("/v1/search", params={"q": "기록은 몇 년 보관해야 하나요?", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "hybrid" and body["k"] == 3
    top = body["hits"][0]["clause"]
    assert top["label"] == "시험보건법 시행규칙 제2조의2제3항"
    assert "1년간 보관" in top["text"]
    assert top["url"].startswith("https://www.law.go.kr/")
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))


def test_search_says_which_reranker_ordered_the_hits(api: httpx.Client) -> None:
    hybrid = api.get("/v1/search", params={"q": "기록은 몇 년 보관해야 하나요?"}).json()
    assert hybrid["reranker"] == "learned" and hybrid["references"] == []
    assert api.get("/v1/search", params={"q": "기록 보관", "mode": "dense"}).json()["reranker"] == "none"
    named = api.get("/v1/search", params={"q": "시험보건법 시행규칙 제2조의2제4항", "k": 3}).json()
    assert named["references"] == ["시험보건법 시행규칙 제2조의2제4항"]
    assert named["hits"][0]["clause"]["label"] == "시험보건법 시행규칙 제2조의2제4항"
    missing = api.get("/v1/search", params={"q": "시험보건법 시행규칙 제999조에 따르면 보관 기간은?"})
    assert missing.status_code == 404 and "제999조가 없습니다" in missing.json()["detail"]


def test_lookup_resolves_a_citation(api: httpx.Client) -> None:
    found = api.get("/v1/clauses/lookup", params={"ref": "「시험보건법 시행규칙」 제2조제1호의2"})
    assert found.status_code == 200, found.text
    (entry,) = found.json()["found"]
    assert entry["reference"] == "시험보건법 시행규칙 제2조제1호의2" and entry["item"] == "제1호의2"
    assert entry["clauses"][0]["label"] == "시험보건법 시행규칙 제2조"
    assert entry["clauses"][0]["items"] and entry["clauses"][0]["url"].startswith("https://www.law.go.kr/")
    article = api.get("/v1/clauses/lookup", params={"ref": "시험보건법 시행규칙 제2조의2"}).json()
    assert [c["paragraph"] for c in article["found"][0]["clauses"]] == ["제1항", "제3항", "제4항"]
    for ref, status, words in [
        ("시험보건법 시행규칙 제999조", 404, "제999조가 없습니다"),
        ("시험보건법 시행규칙 제2조의2제2항", 404, "제2항이 없습니다"),
        ("약사법 제20조", 404, "색인에 없습니다"),
        ("보관 기간", 422, "의료법 제22조제2항"),
        ("", 422, "empty"),
    ]:
        response = api.get("/v1/clauses/lookup", params={"ref": ref})
        assert response.status_code == status and words in response.json()["detail"], (ref, response.text)
    old = api.get("/v1/clauses/lookup", params={"ref": "시험보건법 시행규칙 제4조", "as_of": "2000-01-01"})
    assert old.status_code == 404


def test_search_modes_and_filters(api: httpx.Client) -> None:
    for mode in ("dense", "sparse"):
        hits = api.get("/v1/search", params={"q": "보건요원 교육 시간", "mode": mode}).json()["hits"]
        assert hits and hits[0]["clause"]["article"] == "제4조"
    none = api.get("/v1/search", params={"q": "보건요원 교육 시간", "law": "약사법"}).json()
    assert none["hits"] == []
    old = api.get("/v1/search", params={"q": "보건요원 교육 시간", "as_of": "2000-01-01"}).json()
    assert old["hits"] == []  # the sample takes effect on 2024-04-01


def test_clause_lookup_has_references_and_notes(api: httpx.Client) -> None:
    hit = api.get("/v1/search", params={"q": "의료법 제22조를 따른다", "k": 1}).json()["hits"][0]["clause"]
    detail = api.get(f"/v1/clauses/{hit['clause_id']}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["label"] == hit["label"]
    assert {(r["law"], r["article"]) for r in body["references"]} >= {("의료법", "제22조")}
    assert api.get("/v1/clauses/s-nope-a1").status_code == 404


def test_bad_questions_get_clear_errors(api: httpx.Client) -> None:
    empty = api.get("/v1/search", params={"q": "   "})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    huge = api.get("/v1/search", params={"q": "가" * 5000})
    assert huge.status_code == 422 and "limit" in huge.json()["detail"]
    assert api.get("/v1/search", params={"q": "기록", "k": 0}).status_code == 422
    assert api.get("/v1/search", params={"q": "기록", "mode": "fuzzy"}).status_code == 422


def test_health_readiness_and_openapi(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["points"] > 0 and ready["backend"] == "edge"
    spec = api.get("/openapi.json").json()
    assert {"/v1/search", "/v1/clauses/{clause_id}", "/healthz", "/readyz"} <= set(spec["paths"])
    assert "처방전" in str(spec["paths"]["/v1/search"])  # Korean examples


def test_server_without_index_is_not_ready(tmp_path: Path) -> None:
    for url in serve(load_settings(data_dir=tmp_path / "empty")):
        with httpx.Client(base_url=url, timeout=30) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "kmed ingest" in ready.json()["detail"]
            search = client.get("/v1/search", params={"q": "기록"})
            assert search.status_code == 503 and "kmed ingest" in search.json()["detail"]
            assert client.get("/healthz").status_code == 200


def test_ingest_while_serving_says_what_to_do(api: httpx.Client, indexed_settings: Settings) -> None:
    """Qdrant Edge locks its shard per process: a second process is told to stop the server."""
    assert api.get("/readyz").status_code == 200  # the server holds the shard open
    kmed = Path(sys.executable).parent / "kmed"
    result = subprocess.run(
        [
            str(kmed),
            "ingest",
            str(DATA / "statute_sample.json"),
            "--data-dir",
            str(indexed_settings.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 3, result.stderr
    assert "open in another process" in result.stderr
    assert api.get("/v1/search", params={"q": "기록 보관"}).json()["hits"]  # the server is unharmed


def test_citations_are_verified_over_http(api: httpx.Client) -> None:
    text = (
        "보건기관의 장은 기록을 작성하여야 한다(시험보건법 시행규칙 제2조의2제1항). "
        "연락처 010-2345-6789. 시험보건법 시행규칙 제999조."
    )
    response = api.post("/v1/citations/verify", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(c["label"], c["verdict"]) for c in body["citations"]] == [
        ("시험보건법 시행규칙 제2조의2제1항", "ok"),
        ("시험보건법 시행규칙 제999조", "missing_clause"),
    ]
    assert not body["all_ok"] and "010-2345-6789" not in response.text
    assert api.post("/v1/citations/verify", json={"text": ""}).status_code == 422
