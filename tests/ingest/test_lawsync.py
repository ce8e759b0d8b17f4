"""law.go.kr sync against a loopback fake of the Open API that serves real lawService.do XML.

The fake answers lawSearch.do in the real `<LawSearch><law id=…>` shape, built from each file's
`<기본정보>`, and, like law.go.kr, answers an unknown OC with an HTML error page (HTTP 200).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest
import stamina

from ingest.errors import IngestError
from ingest.lawsync import (
    ApiUnavailable,
    LawGoClient,
    LawSyncError,
    MissingOcKey,
    load_law_list,
    mark_synced,
    read_state,
    sync_laws,
)

OC = "kmedtest"
RESIDENT = "전공의의 수련환경 개선 및 지위 향상을 위한 법률 시행령"  # 285051.xml, 38 clauses
LEASE = "민법제312조의2단서의시행에관한규정"  # 20194.xml, 3 clauses
UNAUTHORISED_PAGE = (
    '<!DOCTYPE html>\n<html lang="ko"><head><meta charset="UTF-8"><title>국가법령정보 공동활용</title></head>'
    '<body><div class="error"><h2>미신청된 목록/본문에 대한 접근입니다.</h2>'
    "<p>OPEN API 신청 후 이용하여 주십시오.</p></div></body></html>"
).encode()
NOT_FOUND = (
    '<?xml version="1.0" encoding="UTF-8"?><Law>일치하는 법령이 없습니다. 법령명을 확인하여 주십시오.</Law>'
)


def legalize_cache(shared: Path) -> Path:
    path = shared / "corpora" / "lawxml" / "legalize-kr-cache"
    if not path.is_dir():
        pytest.skip(f"real lawService.do XML not found at {path}")
    return path


@dataclass
class FakeLawGo:
    """A law.go.kr DRF stand-in: `versions` maps title → [(MST, lawService.do XML)], newest last."""

    oc: str = OC
    versions: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    decoys: list[dict[str, str]] = field(default_factory=list)  # search rows with no text behind them
    mode: str = "ok"  # ok | html | refused-user | status-503 | flaky (one 503) | slow | garbled
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    def add(self, data: bytes, mst: str) -> str:
        title = _info(data)["법령명_한글"]
        self.versions.setdefault(title, []).append((mst, data))
        return title

    def fetches(self) -> list[str]:
        return [params.get("MST", "") for path, params in self.requests if path.endswith("lawService.do")]

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append((path, params))
        if self.mode == "status-503" or (self.mode == "flaky" and len(self.requests) == 1):
            return 503, "text/html", b"<html><body>Service Unavailable</body></html>"
        if self.mode == "slow":
            time.sleep(1.0)
        if params.get("OC") != self.oc or self.mode == "html":
            return 200, "text/html;charset=UTF-8", UNAUTHORISED_PAGE
        if self.mode == "refused-user":
            body = (
                "<?xml version='1.0' encoding='UTF-8'?><Response>"
                "<result>사용자 정보 검증에 실패하였습니다.</result><msg>OPEN API 호출 시 사용자 검증을 "
                "위하여 정확한 서버장비의 IP주소 및 도메인주소를 등록해 주세요.</msg></Response>"
            )
            return 200, "application/xml", body.encode()
        if path.endswith("/lawSearch.do"):
            return 200, "application/xml;charset=UTF-8", self.search_xml(params.get("query", ""))
        if path.endswith("/lawService.do"):
            for entries in self.versions.values():
                for mst, data in entries:
                    if mst == params.get("MST"):
                        return (
                            200,
                            "application/xml;charset=UTF-8",
                            data[:2000] if self.mode == "garbled" else data,
                        )
            return 200, "application/xml;charset=UTF-8", NOT_FOUND.encode()
        return 404, "text/html", b"<html><body>404</body></html>"

    def search_xml(self, query: str) -> bytes:
        rows = [{**_info(entries[-1][1]), "MST": entries[-1][0]} for entries in self.versions.values()]
        rows = [
            r for r in [*rows, *self.decoys] if query.replace(" ", "") in r["법령명_한글"].replace(" ", "")
        ]
        laws = "".join(_search_row(i, row, self.oc) for i, row in enumerate(rows, 1))
        return (
            '<?xml version="1.0" encoding="UTF-8"?><LawSearch><target>law</target>'
            f"<키워드>{escape(query)}</키워드><section>lawNm</section><totalCnt>{len(rows)}</totalCnt>"
            f"<page>1</page>{laws}</LawSearch>"
        ).encode()


def _info(data: bytes) -> dict[str, str]:
    info = ET.fromstring(data).find("기본정보")
    assert info is not None
    fields = {child.tag: " ".join((child.text or "").split()) for child in info}
    ministry = info.find("소관부처")
    fields["소관부처코드"] = ministry.get("소관부처코드", "") if ministry is not None else ""
    return fields


def _search_row(i: int, r: dict[str, str], oc: str) -> str:
    """One `<law>` of a real lawSearch.do?target=law answer, elements in the order law.go.kr sends them."""
    link = (
        f"/DRF/lawService.do?OC={oc}&amp;target=law&amp;MST={r['MST']}&amp;type=HTML&amp;efYd={r['시행일자']}"
    )
    fields = [
        ("법령일련번호", r["MST"]),
        ("현행연혁코드", "현행"),
        ("법령명한글", f"<![CDATA[{r['법령명_한글']}]]>"),
        ("법령약칭명", f"<![CDATA[{r.get('법령명약칭', '')}]]>"),
        ("법령ID", r["법령ID"]),
        ("공포일자", r["공포일자"]),
        ("공포번호", r.get("공포번호", "")),
        ("제개정구분명", r.get("제개정구분", "")),
        ("소관부처코드", r.get("소관부처코드", "")),
        ("소관부처명", r.get("소관부처", "")),
        ("법령구분명", r.get("법종구분", "")),
        ("공동부령정보", ""),
        ("시행일자", r["시행일자"]),
        ("자법타법여부", ""),
        ("법령상세링크", link),
    ]
    return f'<law id="{i}">' + "".join(f"<{tag}>{value}</{tag}>" for tag, value in fields) + "</law>"


@contextmanager
def serve(fake: FakeLawGo) -> Iterator[FakeLawGo]:
    """Run `fake` on 127.0.0.1 (a free port) in a thread for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, content_type, body = fake.answer(url.path, params)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
            """Quiet: tests read `fake.requests` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/DRF"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def real_fake(shared: Path) -> FakeLawGo:
    """A fake holding the two small real laws, plus a decoy row sharing the 전공의법 prefix."""
    cache = legalize_cache(shared)
    fake = FakeLawGo()
    fake.add((cache / "285051.xml").read_bytes(), "285051")
    fake.add((cache / "20194.xml").read_bytes(), "20194")
    decoy = {**_info((cache / "285051.xml").read_bytes()), "MST": "285052"}
    fake.decoys.append(
        {**decoy, "법령명_한글": RESIDENT.replace("시행령", "시행규칙"), "법종구분": "보건복지부령"}
    )
    return fake


def new_version(data: bytes, promulgated: str, effective: str) -> bytes:
    """A copy of a lawService.do XML with later 공포일자/시행일자 in its <기본정보>."""
    text = data.decode()
    head, rest = text.split("</기본정보>", 1)
    head = re.sub(r"<공포일자>\d+</공포일자>", f"<공포일자>{promulgated}</공포일자>", head)
    head = re.sub(r"<시행일자>\d+</시행일자>", f"<시행일자>{effective}</시행일자>", head)
    return (head + "</기본정보>" + rest).encode()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def lawgo(shared: Path) -> Iterator[FakeLawGo]:
    with serve(real_fake(shared)) as fake:
        yield fake


def client_for(fake: FakeLawGo, oc: str = OC, timeout: float = 5.0) -> LawGoClient:
    return LawGoClient(oc, base_url=fake.base_url, timeout=timeout)


def test_first_sync_fetches_exact_titles_then_second_is_up_to_date(
    lawgo: FakeLawGo, shared: Path, tmp_path: Path
) -> None:
    store, state = tmp_path / "laws", tmp_path / "state.json"
    with client_for(lawgo) as client:
        first = sync_laws([RESIDENT, LEASE], client=client, store_dir=store, state_path=state)
        assert [o.status for o in first.outcomes] == ["fetched", "fetched"]
        resident = first.outcomes[0]
        assert resident.version is not None and resident.version.mst == "285051"  # not the 시행규칙 decoy
        assert (resident.version.promulgated, resident.version.effective) == ("20260330", "20260330")
        assert resident.version.kind == "대통령령" and resident.version.law_id == "012702"
        assert resident.path == store / RESIDENT / "285051.xml"
        assert resident.path.read_bytes() == (legalize_cache(shared) / "285051.xml").read_bytes()
        assert not state.exists()  # recorded only once ingested
        again = sync_laws([RESIDENT, LEASE], client=client, store_dir=store, state_path=state)
        assert [o.status for o in again.outcomes] == ["fetched", "fetched"]  # not marked: offered again
        mark_synced(state, again.fetched)
        assert read_state(state)[RESIDENT]["mst"] == "285051"
        assert set(read_state(state)[LEASE]) == {"mst", "promulgated", "effective", "fetched_at"}
        fetched_before = len(lawgo.fetches())
        third = sync_laws([RESIDENT, LEASE], client=client, store_dir=store, state_path=state)
    assert [o.status for o in third.outcomes] == ["up_to_date", "up_to_date"]
    assert len(lawgo.fetches()) == fetched_before  # no lawService.do call for an unchanged law
    assert not list(store.rglob("*.tmp"))


def test_new_version_is_fetched(lawgo: FakeLawGo, tmp_path: Path) -> None:
    store, state = tmp_path / "laws", tmp_path / "state.json"
    with client_for(lawgo) as client:
        mark_synced(state, sync_laws([RESIDENT], client=client, store_dir=store, state_path=state).fetched)
        original = lawgo.versions[RESIDENT][0][1]
        lawgo.add(new_version(original, "20260901", "20270101"), "299999")
        result = sync_laws([RESIDENT], client=client, store_dir=store, state_path=state)
    (outcome,) = result.outcomes
    assert outcome.status == "fetched" and outcome.previous_mst == "285051"
    assert outcome.version is not None and outcome.version.effective == "20270101"
    assert outcome.path == store / RESIDENT / "299999.xml" and outcome.path.is_file()
    assert read_state(state)[RESIDENT]["mst"] == "285051"
    mark_synced(state, result.fetched)
    assert read_state(state)[RESIDENT] | {"fetched_at": ""} == {
        "mst": "299999",
        "promulgated": "20260901",
        "effective": "20270101",
        "fetched_at": "",
    }


def test_unknown_title_is_reported_and_the_others_go_on(lawgo: FakeLawGo, tmp_path: Path) -> None:
    prefix = RESIDENT.removesuffix(" 시행령")  # listed only as a substring of its 시행령 and 시행규칙
    with client_for(lawgo) as client:
        result = sync_laws(
            [prefix, "없는법", LEASE],
            client=client,
            store_dir=tmp_path / "laws",
            state_path=tmp_path / "s.json",
        )
    assert [o.status for o in result.outcomes] == ["failed", "failed", "fetched"]
    assert "no law with exactly this title" in result.outcomes[0].error
    assert f"{RESIDENT}" in result.outcomes[0].error  # says what it found instead
    assert result.outcomes[1].error.startswith("없는법: no law with exactly this title on law.go.kr;")


def test_missing_oc_key_says_which_setting() -> None:
    for oc in (None, "", "  "):
        with pytest.raises(MissingOcKey, match="set KMED_LAWGO__OC to your open.law.go.kr id"):
            LawGoClient(oc, base_url="http://127.0.0.1:9/DRF", timeout=1)
    assert issubclass(MissingOcKey, IngestError)


def test_wrong_oc_gets_the_html_page_and_stops_the_run(lawgo: FakeLawGo, tmp_path: Path) -> None:
    with client_for(lawgo, oc="someone-else") as client:
        result = sync_laws(
            [RESIDENT, LEASE], client=client, store_dir=tmp_path, state_path=tmp_path / "s.json"
        )
    first, second = result.outcomes
    assert first.status == second.status == "failed"
    assert "returned an HTML page instead of XML ('미신청된 목록/본문에 대한 접근입니다.')" in first.error
    assert "KMED_LAWGO__OC" in first.error and "\n" not in first.error
    assert second.error.startswith("not tried: ")
    assert len(lawgo.requests) == 1  # one refusal is enough
    assert "someone-else" not in first.error


def test_refused_connection(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{closed_port()}/DRF"
    with LawGoClient(OC, base_url=base, timeout=2) as client, pytest.raises(ApiUnavailable) as info:
        client.current(LEASE)
    assert str(info.value).startswith(f"cannot connect to {base}/lawSearch.do (")
    assert "check the network and KMED_LAWGO__BASE_URL" in str(info.value)
    assert OC not in str(info.value)


def test_timeout(lawgo: FakeLawGo) -> None:
    lawgo.mode = "slow"
    with (
        client_for(lawgo, timeout=0.2) as client,
        pytest.raises(ApiUnavailable, match="did not answer within 0.2 s"),
    ):
        client.current(LEASE)


@pytest.fixture(autouse=True)
def no_backoff_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):  # the retries happen, their waits do not
        yield


def test_http_error_status(lawgo: FakeLawGo) -> None:
    lawgo.mode = "status-503"
    with (
        client_for(lawgo) as client,
        pytest.raises(ApiUnavailable, match="answered HTTP 503 Service Unavailable"),
    ):
        client.current(LEASE)
    assert len(lawgo.requests) == 3  # retried, then reported


def test_a_passing_503_is_retried(lawgo: FakeLawGo) -> None:
    lawgo.mode = "flaky"
    with client_for(lawgo) as client:
        assert client.current(LEASE).title == LEASE
    assert len(lawgo.requests) == 2


def test_user_verification_refusal(lawgo: FakeLawGo) -> None:
    lawgo.mode = "refused-user"
    with client_for(lawgo) as client, pytest.raises(ApiUnavailable) as info:
        client.current(LEASE)
    assert "refused the request: <Response> 사용자 정보 검증에 실패하였습니다." in str(info.value)
    assert "IP/domain registered" in str(info.value)


def test_malformed_xml_fails_that_law_only(lawgo: FakeLawGo, tmp_path: Path) -> None:
    lawgo.mode = "garbled"  # lawService.do answers cut short
    with client_for(lawgo) as client:
        result = sync_laws(
            [RESIDENT, LEASE], client=client, store_dir=tmp_path / "laws", state_path=tmp_path / "s"
        )
    assert [o.status for o in result.outcomes] == ["failed", "failed"]
    assert all("lawService.do returned malformed XML" in o.error for o in result.outcomes)
    assert len(lawgo.fetches()) == 2  # a bad answer for one law does not stop the others
    assert not (tmp_path / "laws").exists() or not list((tmp_path / "laws").rglob("*.xml"))


def test_unknown_mst_is_a_clear_error(lawgo: FakeLawGo) -> None:
    lawgo.decoys[0]["법령명_한글"] = "사라진 법 시행규칙"
    with client_for(lawgo) as client, pytest.raises(LawSyncError) as info:
        client.fetch(client.current("사라진 법 시행규칙"))
    assert "lawService.do has no text for MST 285052 (일치하는 법령이 없습니다." in str(info.value)


def test_corrupt_state_says_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json", encoding="utf-8")
    with pytest.raises(LawSyncError, match="delete it to fetch every law again"):
        read_state(state)
    state.write_text(json.dumps(["의료법"]), encoding="utf-8")
    with pytest.raises(LawSyncError, match="not a sync state"):
        read_state(state)


def test_law_list_format(tmp_path: Path) -> None:
    listing = tmp_path / "laws.tsv"
    listing.write_text(
        "# comment\n\n의료법\n의료법  시행령\tnote\n의료법\n  # indented comment\n", encoding="utf-8"
    )
    assert load_law_list(listing) == ["의료법", "의료법 시행령"]
    with pytest.raises(LawSyncError, match="cannot read the law list"):
        load_law_list(tmp_path / "missing.tsv")


def test_shipped_law_list_names_the_core_laws() -> None:
    from retrieval.settings import load_settings

    titles = load_law_list(load_settings().lawgo.laws)
    for act in (
        "의료법",
        "약사법",
        "감염병의 예방 및 관리에 관한 법률",
        "응급의료에 관한 법률",
        "국민건강보험법",
    ):
        assert {act, f"{act} 시행령", f"{act} 시행규칙"} <= set(titles)
    assert {
        "개인정보 보호법",
        "개인정보 보호법 시행령",
        "마약류 관리에 관한 법률",
        "의료기사 등에 관한 법률",
        "환자안전법",
        "호스피스ㆍ완화의료 및 임종과정에 있는 환자의 연명의료결정에 관한 법률",
    } <= set(titles)
    assert len(titles) == len(set(titles))


def test_shipped_law_list_matches_the_statute_corpus(shared: Path) -> None:
    from retrieval.settings import load_settings

    titles = set(load_law_list(load_settings().lawgo.laws))
    corpus = {
        match.group(1).strip()
        for path in (shared / "corpora" / "statutes").glob("*/*.md")
        if (match := re.search(r"^제목:\s*(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE))
    }
    assert titles <= corpus, sorted(titles - corpus)  # every title is one law.go.kr writes
