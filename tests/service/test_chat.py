"""The OpenAI-compatible endpoint through the official `openai` client against a real uvicorn
server: plain and streamed, the 근거 list and `reference`, abstention as an assistant message,
no unverified sentence and no personal identifier in what comes back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from retrieval.settings import CORPORA_DIR, ApiKey, AuthSettings, Settings, load_settings
from service.auth import key_hash
from tests.fakes import FakeOpenAI
from tests.indexing import index_files
from tests.service.conftest import serve

QUESTION = "진료기록부는 몇 년 동안 보관해야 하나요?"
WHO = "(보호자 연락처 010-2345-6789, 900101-1234567)"
KEY = "kmed_test_chat_reader_0123456789"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("chat") / "data")
    index_files(settings, [CORPORA_DIR / "samples"])
    return settings.model_copy(
        update={
            "api_keys": [ApiKey(name="open-webui", hash=key_hash(KEY), role="read")],
            "auth": AuthSettings(read_requires_key=True),
        }
    )


@pytest.fixture(scope="module")
def client(indexed: Settings) -> Iterator[openai.OpenAI]:
    for url in serve(indexed):  # the offline default: extractive answers
        with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as c:
            yield c


def test_models_and_a_plain_answer(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["kmed"]
    reply = client.chat.completions.create(
        model="kmed",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "감염관리 규정은?"},
            {"role": "assistant", "content": "무엇이 궁금하신가요?"},
            {"role": "user", "content": f"{QUESTION} {WHO}"},
        ],
        temperature=0.2,  # accepted, ignored
    )
    message = reply.choices[0].message
    content = message.content or ""
    assert "[1]" in content and "**근거**" in content
    assert re.search(r"^\[1\] 한빛대학교병원 진료기록관리규정 제8조", content, re.MULTILINE), content
    assert "law.go.kr" not in content  # a hospital's own rules are not on law.go.kr
    reference = message.model_extra["reference"]  # type: ignore[index]
    assert not reference["abstained"] and reference["chunks"]
    first = reference["chunks"][0]
    assert first["n"] == 1 and first["label"] in content and first["content"]
    assert reference["doc_aggs"][0]["count"] >= 1
    raw = reply.model_dump_json()
    for identifier in ("010-2345-6789", "2345-6789", "900101-1234567", "1234567"):
        assert identifier not in raw


def test_a_streamed_answer_ends_with_its_reference(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="kmed", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    plain = client.chat.completions.create(model="kmed", messages=[{"role": "user", "content": QUESTION}])
    assert text == plain.choices[0].message.content  # the same verified text, only in pieces
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.model_extra["reference"]["chunks"]  # type: ignore[index]


def test_abstention_is_an_assistant_message_with_its_references(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="kmed",
        messages=[{"role": "user", "content": "식품위생법상 조리원은 건강진단을 몇 번 받아야 하나요?"}],
    )
    content = reply.choices[0].message.content or ""
    assert content.startswith("근거를 찾지 못했습니다")
    assert reply.choices[0].message.model_extra["reference"]["abstained"] is True  # type: ignore[index]
    assert "**근거**" not in content


def test_filters_ride_in_extra_body(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="kmed",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"kmed": {"law": "한빛대학교병원 감염관리규정"}},
    )
    chunks = reply.choices[0].message.model_extra["reference"]["chunks"]  # type: ignore[index]
    assert all("감염관리규정" in c["label"] for c in chunks)


def test_bad_requests_are_clear(client: openai.OpenAI, indexed: Settings) -> None:
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError, match="no user message"):
        client.chat.completions.create(model="kmed", messages=[{"role": "system", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model="kmed", messages=[{"role": "user", "content": "  "}], stream=True
        )
    with (
        openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0) as keyless,
        pytest.raises(openai.AuthenticationError),
    ):
        keyless.models.list()


@pytest.fixture(scope="module")
def llm_server(
    indexed: Settings, fake_llm: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("chat-llm") / "data"  # a server of its own needs an index of its own
    index_files(load_settings(data_dir=data), [CORPORA_DIR / "samples"])
    llm = {"provider": "openai-like", "model": "fake", "base_url": fake_llm.url, "max_retries": 0}
    settings = indexed.model_copy(update={"data_dir": data, "llm": indexed.llm.model_copy(update=llm)})
    yield from serve(settings)


@pytest.fixture(scope="module")
def llm_client(llm_server: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{llm_server}/v1", api_key=KEY, max_retries=0) as c:
        yield c


def key_of(body: dict[str, Any], label_part: str) -> int:
    prompt = body["messages"][-1]["content"]
    for n, source in re.findall(r'<context n="(\d+)" source="([^"]+)"', prompt):
        if label_part in source:
            return int(n)
    raise AssertionError(f"{label_part} not in the context")


@pytest.mark.parametrize("stream", [False, True])
def test_a_sentence_that_fails_verification_never_reaches_the_chat(
    llm_client: openai.OpenAI, fake_llm: FakeOpenAI, stream: bool
) -> None:
    fake_llm.replies[:] = [
        lambda b: (
            f"진료기록부는 10년 동안 보존합니다 [{key_of(b, '제8조제1항')}]. "
            f"진료기록부는 3개월이면 폐기해도 됩니다 [{key_of(b, '제8조제1항')}]. 근거 없는 문장입니다."
        )
    ]
    messages: Any = [{"role": "user", "content": f"{QUESTION} {WHO}"}]
    if stream:
        content = "".join(
            c.choices[0].delta.content or ""
            for c in llm_client.chat.completions.create(model="kmed", messages=messages, stream=True)
        )
    else:
        content = (
            llm_client.chat.completions.create(model="kmed", messages=messages).choices[0].message.content
            or ""
        )
    assert "10년 동안 보존합니다" in content
    assert "3개월" not in content and "근거 없는 문장" not in content
    sent = json.dumps(fake_llm.requests[-1], ensure_ascii=False)
    assert "010-2345-6789" not in sent and "900101" not in sent  # redacted before the model saw it


def test_a_stream_that_fails_midway_ends_with_an_error_object(llm_server: str, fake_llm: FakeOpenAI) -> None:
    def crash(body: dict[str, Any]) -> str:
        raise ConnectionResetError("the model server went away")

    fake_llm.replies[:] = [crash]
    body = {"model": "kmed", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with httpx.Client(timeout=60) as http:
        response = http.post(f"{llm_server}/v1/chat/completions", json=body, headers={"X-API-Key": KEY})
    assert response.status_code == 200  # the stream had started
    data = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "error" in data[-1] and data[-1]["error"]["message"]
    assert "[DONE]" not in response.text
