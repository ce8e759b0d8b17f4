"""The widget in real headless Chromium (Debian's /usr/bin/chromium) against a real server and index.

Screenshots go to test-output/screenshots/ (CI keeps that folder); with KMED_DOCS_SCREENSHOTS=1
the two the README shows are also written to docs/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import ingest_paths
from retrieval.runtime import build_dense, build_encoder, open_for_writing
from retrieval.settings import CORPORA_DIR, PROJECT_ROOT, Settings, load_settings
from tests.service.conftest import DATA, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = PROJECT_ROOT / "test-output" / "screenshots"
W = "#kmed-widget >> css="  # Playwright pierces the open shadow root with css selectors

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/setup installs it)"
)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings: Settings = load_settings(
        data_dir=tmp_path_factory.mktemp("widget") / "data", cors_origins=["https://intranet.example"]
    )
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    files = [CORPORA_DIR / "samples", DATA / "statute_sample.md"]
    assert not ingest_paths(files, index=index, embedder=embedder, encoder=build_encoder(settings)).failed
    index.close()
    yield from serve(settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 820}, locale="ko-KR")  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


def shot(page: object, name: str, *, docs: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))  # type: ignore[attr-defined]
    if docs and os.environ.get("KMED_DOCS_SCREENSHOTS"):
        page.screenshot(path=str(PROJECT_ROOT / "docs" / f"{name}.png"))  # type: ignore[attr-defined]


def ask(page: object, server: str, question: str) -> None:
    page.goto(server + "/")  # type: ignore[attr-defined]
    page.click(W + ".launcher")  # type: ignore[attr-defined]
    page.fill(W + "textarea", question)  # type: ignore[attr-defined]
    page.press(W + "textarea", "Enter")  # type: ignore[attr-defined]


def test_statute_answer_with_citation_panel(page: object, server: str) -> None:
    ask(page, server, "보건요원은 교육을 몇 시간 받아야 하나요?")
    page.wait_for_selector(W + ".chip", timeout=60_000)  # type: ignore[attr-defined]
    answer = page.inner_text(W + ".msg.bot")  # type: ignore[attr-defined]
    assert "시간" in answer
    page.click(W + ".chip >> nth=0")  # type: ignore[attr-defined]
    page.wait_for_selector(W + ".side mark", timeout=20_000)  # type: ignore[attr-defined]
    side = page.inner_text(W + ".side")  # type: ignore[attr-defined]
    assert "시험보건법 시행규칙" in side
    link = page.get_attribute(W + ".side a", "href")  # type: ignore[attr-defined]
    assert link and link.startswith("https://www.law.go.kr/")
    shot(page, "widget-statute", docs=True)


def test_guideline_citation_shows_the_highlighted_page(page: object, server: str) -> None:
    ask(page, server, "열성 경련이 몇 분 넘게 계속되면 응급실에 가야 하나요?")
    page.wait_for_selector(W + ".chip", timeout=60_000)  # type: ignore[attr-defined]
    assert "5분" in page.inner_text(W + ".msg.bot")  # type: ignore[attr-defined]
    shot(page, "widget-answer", docs=True)
    page.click(W + ".chip >> nth=0")  # type: ignore[attr-defined]
    image = page.wait_for_selector(W + ".side img", timeout=20_000)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const i = document.querySelector('#kmed-widget').shadowRoot.querySelector('.side img');"
        " return i && i.complete && i.naturalWidth > 0 }",
        timeout=20_000,
    )
    assert "p.4" in page.inner_text(W + ".side .path")  # type: ignore[attr-defined]
    assert image is not None
    shot(page, "widget-guideline", docs=True)


def test_abstention_is_shown_as_such(page: object, server: str) -> None:
    ask(page, server, "식품위생법상 조리원은 건강진단을 몇 번 받아야 하나요?")
    bubble = page.wait_for_selector(W + ".msg.bot.abstain", timeout=60_000)  # type: ignore[attr-defined]
    assert bubble is not None and "근거를 찾지 못했습니다" in bubble.inner_text()
    shot(page, "widget-abstain")


def test_enter_while_composing_hangul_does_not_send(page: object, server: str) -> None:
    page.goto(server + "/")  # type: ignore[attr-defined]
    page.click(W + ".launcher")  # type: ignore[attr-defined]
    page.fill(W + "textarea", "진료기록")  # type: ignore[attr-defined]
    page.evaluate(  # type: ignore[attr-defined]
        """() => {
          const box = document.querySelector('#kmed-widget').shadowRoot.querySelector('textarea');
          box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', isComposing: true, bubbles: true}));
        }"""
    )
    assert page.locator(W + ".msg.user").count() == 0  # type: ignore[attr-defined]
    assert page.input_value(W + "textarea") == "진료기록"  # type: ignore[attr-defined]


def test_hostile_page_css_cannot_reach_the_widget(page: object, server: str) -> None:
    hostile = (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "* { font-size: 40px !important; color: red !important; background: lime !important; }"
        "button { display: none !important; } div { border: 9px solid red !important; }"
        "kmed-widget { border: 9px solid red !important; }"
        f"</style></head><body><p>호스트 페이지</p><script src='{server}/widget.js' data-kmed-api='{server}'>"
        "</script></body></html>"
    )
    page.route(server + "/hostile.html", lambda route: route.fulfill(body=hostile, content_type="text/html"))  # type: ignore[attr-defined]
    page.goto(server + "/hostile.html")  # type: ignore[attr-defined]
    launcher = page.wait_for_selector(W + ".launcher")  # type: ignore[attr-defined]
    assert launcher is not None and launcher.is_visible()
    style = page.evaluate(  # type: ignore[attr-defined]
        "() => { const b = document.querySelector('#kmed-widget').shadowRoot.querySelector('.launcher');"
        " const s = getComputedStyle(b); return [s.fontSize, s.color, s.display]; }"
    )
    assert style[:2] == ["15px", "rgb(255, 255, 255)"] and style[2] != "none"
    host_border = page.evaluate(
        "() => getComputedStyle(document.querySelector('#kmed-widget')).borderTopWidth"
    )  # type: ignore[attr-defined]
    assert host_border == "0px"
    assert page.evaluate("() => getComputedStyle(document.querySelector('p')).fontSize") == "40px"  # type: ignore[attr-defined]


def test_usable_at_360_px(browser: object, server: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(server + "/")
    page.click(W + ".launcher")
    box = page.locator(W + ".panel").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert (
        page.evaluate("() => document.querySelector('#kmed-widget').shadowRoot.activeElement.tagName")
        == "TEXTAREA"
    )
    shot(page, "widget-360")
    context.close()


def test_cors_allowlist(server: str) -> None:
    allowed = httpx.get(server + "/healthz", headers={"Origin": "https://intranet.example"})
    assert allowed.headers.get("access-control-allow-origin") == "https://intranet.example"
    other = httpx.get(server + "/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_widget_is_small_and_self_contained(server: str) -> None:
    script = httpx.get(server + "/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) <= 40_000
    assert "http://" not in script.text.replace("http://HOST", "") and "https://" not in script.text


def test_an_unreachable_service_gives_an_error_with_retry(page: object, server: str) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing answers
    html = (
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        f"<script src='{server}/widget.js' data-kmed-api='{dead}'></script></body></html>"
    )
    page.route(server + "/offline.html", lambda route: route.fulfill(body=html, content_type="text/html"))  # type: ignore[attr-defined]
    page.goto(server + "/offline.html")  # type: ignore[attr-defined]
    page.click(W + ".launcher")  # type: ignore[attr-defined]
    page.fill(W + "textarea", "진료기록부 보존 기간")  # type: ignore[attr-defined]
    page.press(W + "textarea", "Enter")  # type: ignore[attr-defined]
    error = page.wait_for_selector(W + ".msg.bot.error", timeout=20_000)  # type: ignore[attr-defined]
    assert error is not None and "답변을 받지 못했습니다" in error.inner_text()
    assert page.locator(W + ".retry").is_visible()  # type: ignore[attr-defined]
    assert page.inner_text(W + "form button") == "보내기"  # type: ignore[attr-defined]


def test_stop_button_aborts_a_pending_answer(page: object, server: str) -> None:
    page.route(server + "/v1/ask", lambda route: None)  # type: ignore[attr-defined]  # never answers
    page.goto(server + "/")  # type: ignore[attr-defined]
    page.click(W + ".launcher")  # type: ignore[attr-defined]
    page.fill(W + "textarea", "진료기록부 보존 기간")  # type: ignore[attr-defined]
    page.press(W + "textarea", "Enter")  # type: ignore[attr-defined]
    page.wait_for_selector(W + "form button.stop")  # type: ignore[attr-defined]
    page.click(W + "form button.stop")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('#kmed-widget').shadowRoot.querySelector('form button')"
        ".textContent === '보내기'"
    )
    assert "(중지됨)" in page.inner_text(W + ".msg.bot")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose reads need a key (KMED_AUTH__READ_REQUIRES_KEY)."""
    from retrieval.settings import ApiKey, AuthSettings
    from service.auth import key_hash
    from tests.indexing import index_files

    settings = load_settings(data_dir=tmp_path_factory.mktemp("locked") / "data")
    index_files(settings, [CORPORA_DIR / "samples"])
    settings.api_keys = [ApiKey(name="intranet-widget", hash=key_hash(WIDGET_KEY), role="read")]
    settings.auth = AuthSettings(read_requires_key=True)
    yield from serve(settings)


WIDGET_KEY = "widget-read-key"


def test_a_keyed_widget_answers_and_shows_pages_where_reads_need_a_key(
    page: object, locked_server: str
) -> None:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        f"<script src='{locked_server}/widget.js' data-kmed-api='{locked_server}' "
        f"data-kmed-key='{WIDGET_KEY}'></script></body></html>"
    )
    page.route(
        locked_server + "/keyed.html", lambda route: route.fulfill(body=html, content_type="text/html")
    )  # type: ignore[attr-defined]
    assert httpx.post(locked_server + "/v1/ask", json={"question": "열성 경련"}).status_code == 401
    page.goto(locked_server + "/keyed.html")  # type: ignore[attr-defined]
    page.click(W + ".launcher")  # type: ignore[attr-defined]
    page.fill(W + "textarea", "열성 경련이 몇 분 넘게 계속되면 응급실에 가야 하나요?")  # type: ignore[attr-defined]
    page.press(W + "textarea", "Enter")  # type: ignore[attr-defined]
    page.wait_for_selector(W + ".chip", timeout=60_000)  # type: ignore[attr-defined]
    page.click(W + ".chip >> nth=0")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const i = document.querySelector('#kmed-widget').shadowRoot.querySelector('.side img');"
        " return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:') }",
        timeout=20_000,
    )
    shot(page, "widget-keyed")
