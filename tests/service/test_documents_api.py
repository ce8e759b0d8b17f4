"""Guideline hits and document management over a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrieval.runtime import build_searcher
from retrieval.search import search
from retrieval.settings import Settings, load_settings
from retrieval.snapshots import restore_snapshot
from tests.data.guideline_pdf import make_guideline_pdf
from tests.indexing import index_files
from tests.service.conftest import DATA, serve

KEY = "test-admin-key"
ADMIN = {"X-Admin-Key": KEY}


def _index(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data", admin_key=KEY)
    index_files(settings, [DATA / "statute_sample.md", make_guideline_pdf(tmp_path / "fever.pdf")])
    return settings


@pytest.fixture
def admin_api(tmp_path: Path) -> Iterator[httpx.Client]:
    for url in serve(_index(tmp_path)):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


def test_guideline_hits_carry_pages_boxes_and_grades(admin_api: httpx.Client) -> None:
    question = "38.5도 넘게 열이 나는 아이에게 아세트아미노펜을 줘도 되나요?"
    hits = admin_api.get("/v1/search", params={"q": question, "k": 3}).json()["hits"]
    top = next(h["clause"] for h in hits if h["clause"]["kind"] == "recommendation")
    assert top["doc_type"] == "guideline"
    assert top["label"] == "한빛 소아 발열 관리 지침(2024) §Ⅱ.권고 1, p.3"
    assert (top["page_start"], top["page_end"], top["url"]) == (3, 3, None)
    assert top["recommendation"] == {"number": "1", "strength": "A", "evidence": "II"}
    detail = admin_api.get(f"/v1/clauses/{top['clause_id']}").json()
    assert detail["boxes"] and detail["boxes"][0]["page"] == 3
    only = admin_api.get("/v1/search", params={"q": "해열제", "doc_type": "statute"}).json()["hits"]
    assert all(h["clause"]["doc_type"] == "statute" for h in only)


def test_documents_need_the_admin_key(admin_api: httpx.Client) -> None:
    assert admin_api.get("/v1/documents").status_code == 401
    wrong = admin_api.get("/v1/documents", headers={"X-Admin-Key": "guess"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert admin_api.delete("/v1/documents/g-fever").status_code == 401


def test_list_show_and_remove_a_document(admin_api: httpx.Client) -> None:
    listed = admin_api.get("/v1/documents", headers=ADMIN).json()
    assert {(d["doc_id"], d["doc_type"], d["versions"]) for d in listed} == {
        ("law-990001", "statute", 1),
        ("g-fever", "guideline", 1),
    }
    shown = admin_api.get("/v1/documents/g-fever", headers=ADMIN).json()
    assert shown["title"] == "한빛 소아 발열 관리 지침" and shown["current"] == "2024"
    version = shown["versions"][0]
    assert version["status"] == "current" and version["pages"] == 4 and version["units"] > 0
    assert admin_api.get("/v1/documents/g-nope", headers=ADMIN).status_code == 404

    removed = admin_api.delete("/v1/documents/g-fever", headers=ADMIN)
    assert removed.status_code == 200 and removed.json()["removed"] == version["units"]
    hits = admin_api.get("/v1/search", params={"q": "해열제 용량", "k": 10}).json()["hits"]
    assert hits and all(h["clause"]["doc_id"] != "g-fever" for h in hits)
    assert admin_api.get("/v1/documents/g-fever", headers=ADMIN).status_code == 404
    assert admin_api.delete("/v1/documents/g-fever", headers=ADMIN).status_code == 404


def test_without_a_configured_key_document_routes_are_off(api: httpx.Client) -> None:
    response = api.get("/v1/documents", headers={"X-Admin-Key": "anything"})
    assert response.status_code == 403 and "KMED_API_KEYS" in response.json()["detail"]
    spec = api.get("/openapi.json").json()
    assert {"/v1/documents", "/v1/documents/{doc_id}"} <= set(spec["paths"])


def test_an_admin_snapshot_of_the_running_index_restores_elsewhere(
    admin_api: httpx.Client, tmp_path: Path
) -> None:
    question = "해열제 용량"
    served = [
        h["clause"]["clause_id"] for h in admin_api.get("/v1/search", params={"q": question}).json()["hits"]
    ]
    assert admin_api.post("/v1/snapshots").status_code == 401
    taken = admin_api.post("/v1/snapshots", headers=ADMIN)
    assert taken.status_code == 200, taken.text
    path = Path(taken.json()["path"])
    assert path.is_file() and taken.json()["points"] > 0
    other = load_settings(data_dir=tmp_path / "restored")
    restore_snapshot(other, path)
    searcher = build_searcher(other)
    try:
        assert [h.clause.clause_id for h in search(searcher, question, k=5)] == served
    finally:
        searcher.index.close()
