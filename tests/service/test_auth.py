"""Keys and roles on every route, and rate limits, over a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrieval.settings import ApiKey, AuthSettings, Settings, load_settings
from service.auth import key_hash
from tests.service.conftest import serve

KEYS = {role: f"key-of-{role}-holder" for role in ("read", "ingest", "admin")}
WHO = ["none", "wrong", "read", "ingest", "admin"]  # no key, a key we never issued, each role
ROUTES = [  # method, path, json body, the lowest role it needs
    ("GET", "/v1/search?q=진료기록부 보존", None, "read"),
    ("GET", "/v1/clauses/lookup?ref=의료법 제22조", None, "read"),
    ("GET", "/v1/clauses/no-such-clause", None, "read"),
    ("GET", "/v1/clauses/no-such-clause/page.png", None, "read"),
    ("POST", "/v1/ask", {"question": "진료기록부는 몇 년 보존하나요?"}, "read"),
    ("POST", "/v1/citations/verify", {"text": "시험보건법 시행규칙 제2조의2에 따라 기록한다."}, "read"),
    ("GET", "/v1/models", None, "read"),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "kmed", "messages": [{"role": "user", "content": "기록 보존"}]},
        "read",
    ),
    ("GET", "/v1/documents", None, "ingest"),
    ("GET", "/v1/documents/no-such-doc", None, "ingest"),
    ("DELETE", "/v1/documents/no-such-doc", None, "admin"),
]
RANK = {"read": 0, "ingest": 1, "admin": 2}


def with_keys(settings: Settings, **auth: object) -> Settings:
    keys = [ApiKey(name=f"{role}-client", hash=key_hash(key), role=role) for role, key in KEYS.items()]  # type: ignore[arg-type]
    return settings.model_copy(
        update={"api_keys": keys, "auth": AuthSettings(**auth)}  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def locked(indexed_settings: Settings) -> Iterator[httpx.Client]:
    settings = with_keys(indexed_settings, read_requires_key=True, rate_limit="1000/minute")
    for url in serve(settings):
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def headers(who: str) -> dict[str, str]:
    if who == "none":
        return {}
    return {"X-API-Key": KEYS.get(who, "not-a-key-we-issued")}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
def test_every_route_checks_the_key_and_its_role(
    locked: httpx.Client, who: str, method: str, path: str, body: object, needs: str
) -> None:
    response = locked.request(method, path, json=body, headers=headers(who))
    if who in ("none", "wrong"):
        assert response.status_code == 401, response.text
        assert "X-API-Key" in response.json()["detail"]
    elif RANK[who] < RANK[needs]:
        assert response.status_code == 403, response.text
        assert needs in response.json()["detail"] and who in response.json()["detail"]
    else:
        assert response.status_code in (200, 404), response.text


def test_bearer_and_the_old_admin_header_work(locked: httpx.Client) -> None:
    assert (
        locked.get("/v1/documents", headers={"Authorization": f"Bearer {KEYS['admin']}"}).status_code == 200
    )
    assert locked.get("/v1/documents", headers={"X-Admin-Key": KEYS["admin"]}).status_code == 200


def test_health_docs_and_widget_stay_open(locked: httpx.Client) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/widget.js", "/"):
        assert locked.get(path).status_code == 200, path


def test_open_reads_still_refuse_a_wrong_key_and_writes_need_one(tmp_path: Path) -> None:
    """With no index behind it, 503 says the request got past the key check."""
    for url in serve(with_keys(load_settings(data_dir=tmp_path / "data"))):
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/v1/search", params={"q": "진료기록부"}).status_code == 503
            assert (
                client.get("/v1/search", params={"q": "진료기록부"}, headers=headers("wrong")).status_code
                == 401
            )
            assert client.get("/v1/documents").status_code == 401
            assert client.get("/v1/documents", headers=headers("read")).status_code == 403


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    settings = with_keys(
        load_settings(data_dir=tmp_path / "data"), rate_limit="3/minute", anonymous_rate_limit="2/minute"
    )
    for url in serve(settings):
        with httpx.Client(base_url=url, timeout=60) as client:
            anonymous = [client.get("/v1/search", params={"q": "의료법"}).status_code for _ in range(3)]
            assert anonymous == [503, 503, 429]
            limited = client.get("/v1/search", params={"q": "의료법"})
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
            assert "retry in" in limited.json()["detail"]
            keyed = [client.get("/v1/documents", headers=headers("ingest")).status_code for _ in range(4)]
            assert keyed == [503, 503, 503, 429]
            assert client.get("/v1/documents", headers=headers("admin")).status_code == 503  # its own limit
