"""The MCP server through the SDK's own client: over stdio (`kmed mcp` as a subprocess) and over
streamable HTTP at /mcp of a real uvicorn server, against a real index of the shipped samples
and the test statute."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import AnyUrl

from retrieval.settings import CORPORA_DIR, ApiKey, AuthSettings, Settings, load_settings
from service.auth import key_hash
from tests.indexing import index_files
from tests.service.conftest import DATA, serve

KMED = Path(sys.executable).parent / "kmed"
READ_KEY = "kmed_test_mcp_reader_0123456789"
RULE = "시험보건법 시행규칙 제2조의2제1항"
DRAFT = (
    "보건기관의 장은 기록을 작성하여야 한다(시험보건법 시행규칙 제2조의2제1항). "
    "시험보건법 시행규칙 제999조에 따라 기록을 폐기한다. 조리사는 식품위생법 제40조에 따라 건강진단을 받는다."
)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("mcp") / "data")
    index_files(settings, [CORPORA_DIR / "samples", DATA / "statute_sample.md"])
    return settings


def structured(result: Any) -> dict[str, Any]:
    assert not result.isError, result.content
    return result.structuredContent  # type: ignore[no-any-return]


async def exercise(session: ClientSession) -> None:
    """What every transport must do: the same tools, answers and refusals."""
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == {"search", "get_clause", "ask", "verify_citations"}
    assert "조항" in (tools["search"].description or "")
    assert tools["search"].inputSchema["properties"]["k"]["maximum"] >= 10
    assert tools["ask"].outputSchema is not None

    found = structured(
        await session.call_tool("search", {"question": "진료기록부 보존 기간 010-2345-6789", "k": 3})
    )
    assert "010-2345-6789" not in found["query"] and "[전화번호]" in found["query"]
    assert found["clauses"] and all(c["label"] and c["clause_id"] for c in found["clauses"])

    clause = structured(await session.call_tool("get_clause", {"ref_or_id": RULE}))
    assert clause["clauses"][0]["label"] == RULE and "기록을 작성" in clause["clauses"][0]["text"]
    by_id = structured(
        await session.call_tool("get_clause", {"ref_or_id": clause["clauses"][0]["clause_id"]})
    )
    assert by_id["clauses"][0]["label"] == RULE
    missing = await session.call_tool("get_clause", {"ref_or_id": "시험보건법 시행규칙 제999조"})
    assert missing.isError and "제999조" in missing.content[0].text  # type: ignore[union-attr]

    answered = structured(
        await session.call_tool("ask", {"question": "진료기록부는 몇 년 동안 보관해야 하나요?"})
    )
    assert not answered["abstained"] and answered["citations"], answered
    assert "[1]" in answered["answer"] and answered["quotes"][0] in answered["citations"][0]["text"]
    refused = structured(
        await session.call_tool("ask", {"question": "식품위생법상 조리원은 건강진단을 몇 번 받아야 하나요?"})
    )
    assert refused["abstained"] and refused["citations"] == []

    report = structured(await session.call_tool("verify_citations", {"text": DRAFT}))
    assert [(c["label"], c["verdict"]) for c in report["citations"]] == [
        (RULE, "ok"),
        ("시험보건법 시행규칙 제999조", "missing_clause"),
        ("식품위생법 제40조", "law_not_indexed"),
    ]

    templates = (await session.list_resource_templates()).resourceTemplates
    assert [t.uriTemplate for t in templates] == ["kmed://clause/{clause_id}"]
    read = await session.read_resource(AnyUrl(f"kmed://clause/{clause['clauses'][0]['clause_id']}"))
    assert read.contents[0].text.startswith(RULE)  # type: ignore[union-attr]


def test_stdio(indexed: Settings) -> None:
    params = StdioServerParameters(
        command=str(KMED), args=["mcp"], env={**os.environ, "KMED_DATA_DIR": str(indexed.data_dir)}
    )

    async def main() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await exercise(session)

    anyio.run(main)


@pytest.fixture(scope="module")
def keyed_server(indexed: Settings) -> Iterator[str]:
    settings = indexed.model_copy(
        update={
            "api_keys": [ApiKey(name="agent", hash=key_hash(READ_KEY), role="read")],
            "auth": AuthSettings(read_requires_key=True),
        }
    )
    yield from serve(settings)


@asynccontextmanager
async def http_session(url: str, key: str | None) -> AsyncIterator[ClientSession]:
    headers = {"X-API-Key": key} if key else {}
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        yield session


def test_streamable_http_behind_the_read_key(keyed_server: str) -> None:
    async def main() -> None:
        async with http_session(keyed_server, READ_KEY) as session:
            await exercise(session)

    anyio.run(main)


def test_http_without_a_key_is_told_which_header_to_send(keyed_server: str) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    refused = httpx.post(f"{keyed_server}/mcp", json=message, headers=headers, timeout=30)
    assert refused.status_code == 401 and "X-API-Key" in refused.json()["detail"]
    wrong = httpx.post(
        f"{keyed_server}/mcp", json=message, headers={**headers, "X-API-Key": "nope"}, timeout=30
    )
    assert wrong.status_code == 401
    listed = httpx.post(
        f"{keyed_server}/mcp", json=message, headers={**headers, "X-API-Key": READ_KEY}, timeout=30
    )
    assert listed.status_code == 200, listed.text
    assert {t["name"] for t in json.loads(listed.text)["result"]["tools"]} >= {"ask", "verify_citations"}
