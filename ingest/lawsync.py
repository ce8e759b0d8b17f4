"""Keep statutes current from the law.go.kr Open API (DRF): find each law's current version, fetch it once.

    LawSyncError           (an IngestError) a law could not be synced; one line saying why and what to do
     ├── MissingOcKey      no Open API id (OC) is configured: nothing can be synced (the CLI exits 4)
     └── ApiUnavailable    the API cannot be used at all right now (connection refused, timeout, HTTP
                           error, an HTML error page or a refusal instead of XML): the laws not yet
                           tried are reported failed with the same reason instead of waiting on each

Per title: `lawSearch.do` (a substring search on 법령명) lists laws; the entry whose 법령명한글 is
exactly the title gives the current 법령일련번호 (MST). A version whose MST the state file does not
hold is downloaded with `lawService.do` to ``<store_dir>/<title>/<MST>.xml`` (the XML reader takes
a numeric file name as the MST). The state records a version only through `mark_synced`, which
the caller runs after ingestion succeeded, so a file fetched but not ingested is fetched again.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import defusedxml.ElementTree as SafeET
import httpx
import stamina
from defusedxml import DefusedXmlException

from ingest.errors import IngestError

__all__ = [
    "ApiUnavailable",
    "LawGoClient",
    "LawOutcome",
    "LawSyncError",
    "LawVersion",
    "MissingOcKey",
    "SyncResult",
    "load_law_list",
    "mark_synced",
    "sync_laws",
]

SEARCH_PAGE_SIZE = 100  # the API's maximum `display`
MAX_SEARCH_PAGES = 5  # a title's exact match is on the first page unless the title is very short
USER_AGENT = "kmed-rag law sync (+https://open.law.go.kr)"


class LawSyncError(IngestError):
    """A law could not be synced; `kmed laws sync` prints the message on that law's line."""


class MissingOcKey(LawSyncError):
    """No law.go.kr Open API id is configured; shown once, before any request."""


class ApiUnavailable(LawSyncError):
    """The API answered no law at all (unreachable, HTTP error, HTML page, refusal); the run stops."""


RETRIES = 3  # attempts per request
RETRY_STATUS = {429, 500, 502, 503, 504}


class _RetryStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _transient(exc: Exception) -> bool:
    return isinstance(exc, httpx.TimeoutException | httpx.TransportError | _RetryStatus)


@dataclass(frozen=True)
class LawVersion:
    """One version of a law as lawSearch.do lists it."""

    title: str
    mst: str
    law_id: str
    promulgated: str  # YYYYMMDD, as the API writes dates
    effective: str
    kind: str = ""  # 법령구분명: 법률, 대통령령, 보건복지부령, ...
    status: str = ""  # 현행연혁코드: 현행, 연혁, 시행예정 (absent in some answers)


class LawGoClient:
    """A small client for lawSearch.do and lawService.do that turns every failure into one clear line."""

    def __init__(self, oc: str | None, *, base_url: str, timeout: float) -> None:
        if not oc or not oc.strip():
            raise MissingOcKey(
                "no law.go.kr Open API id: set KMED_LAWGO__OC to your open.law.go.kr id (the OC value)"
            )
        self._oc = oc.strip()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def search(self, title: str) -> list[LawVersion]:
        """Every law lawSearch.do lists for `title` (a substring match), up to MAX_SEARCH_PAGES pages."""
        found: list[LawVersion] = []
        for page in range(1, MAX_SEARCH_PAGES + 1):
            root = self._get(
                "lawSearch.do",
                {"target": "law", "type": "XML", "query": title, "display": SEARCH_PAGE_SIZE, "page": page},
                expect="LawSearch",
            )
            rows = [_version(row) for row in root.iter("law")]
            found += rows
            total = _int(root.findtext("totalCnt"))
            if not rows or len(found) >= total or any(_same_title(v.title, title) for v in rows):
                break
        return found

    def current(self, title: str) -> LawVersion:
        """The version of `title` in force: the exact title match (현행 preferred), latest by dates."""
        listed = self.search(title)
        exact = [v for v in listed if _same_title(v.title, title)]
        if not exact:
            near = sorted({v.title for v in listed})[:5]
            hint = f" (it lists: {', '.join(near)})" if near else ""
            raise LawSyncError(
                f"{title}: no law with exactly this title on law.go.kr{hint}; "
                "fix the title in the law list (as written in 법령명, e.g. '의료법 시행령')"
            )
        in_force = [v for v in exact if v.status == "현행"] or exact
        return max(in_force, key=lambda v: (v.effective, v.promulgated, _int(v.mst)))

    def fetch(self, version: LawVersion) -> bytes:
        """The full text of one version (lawService.do XML), checked to be that law."""
        params = {"target": "law", "MST": version.mst, "type": "XML"}
        data = self._request("lawService.do", params)
        root = _parse(data, "lawService.do")
        if root.tag != "법령":
            detail = " ".join("".join(root.itertext()).split())[:120]
            raise LawSyncError(
                f"{version.title}: lawService.do has no text for MST {version.mst} ({detail or root.tag}); "
                "try again later, the list and the text may be published a moment apart"
            )
        name = " ".join((root.findtext("기본정보/법령명_한글") or "").split())
        if not _same_title(name, version.title):
            raise LawSyncError(
                f"{version.title}: lawService.do returned '{name}' for MST {version.mst}; "
                "the API answered another law, try again later"
            )
        return data

    def _get(self, endpoint: str, params: Mapping[str, str | int], *, expect: str) -> ET.Element:
        root = _parse(self._request(endpoint, params), endpoint)
        if root.tag != expect:
            detail = " ".join("".join(root.itertext()).split())[:160] or "no details"
            hint = (
                "check KMED_LAWGO__OC and the server IP/domain registered for it on open.law.go.kr"
                if root.tag == "Response"  # <Response><result>사용자 정보 검증에 실패하였습니다</result>…
                else "the API changed or KMED_LAWGO__BASE_URL points elsewhere"
            )
            raise ApiUnavailable(f"{endpoint} refused the request: <{root.tag}> {detail}; {hint}")
        return root

    def _get_with_retries(self, url: str, params: Mapping[str, str | int]) -> httpx.Response:
        """GET, retried with exponential backoff (stamina) on what a moment may fix: timeouts,
        lost connections, 429 and 5xx. The calls are idempotent reads."""
        for attempt in stamina.retry_context(
            on=_transient, attempts=RETRIES, timeout=self.timeout * RETRIES + 10, wait_initial=0.5, wait_max=4
        ):
            with attempt:
                response = self._http.get(url, params=params)
                if response.status_code in RETRY_STATUS:
                    raise _RetryStatus(response)
        return response

    def _request(self, endpoint: str, params: Mapping[str, str | int]) -> bytes:
        url = f"{self.base_url}/{endpoint}"
        try:
            response = self._get_with_retries(url, {"OC": self._oc, **params})
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(
                f"{url} did not answer within {self.timeout:g} s ({type(exc).__name__}); "
                "try again later or raise KMED_LAWGO__TIMEOUT"
            ) from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(
                f"cannot connect to {url} ({exc or type(exc).__name__}); "
                "check the network and KMED_LAWGO__BASE_URL"
            ) from exc
        except _RetryStatus as exc:
            response = exc.response
        if response.status_code != 200:
            raise ApiUnavailable(
                f"{url} answered HTTP {response.status_code} {response.reason_phrase}; "
                "check KMED_LAWGO__BASE_URL or try again later"
            )
        data = response.content
        if _looks_like_html(data):
            raise ApiUnavailable(
                f"{endpoint} returned an HTML page instead of XML ({_html_message(data)}); "
                "check that KMED_LAWGO__OC is your open.law.go.kr id and that the 법령 API is "
                "approved for it (open.law.go.kr → OPEN API 신청)"
            )
        return data


@dataclass
class LawOutcome:
    """What happened to one title; `kmed laws sync` prints one line per outcome."""

    title: str
    status: Literal["fetched", "up_to_date", "failed"]
    version: LawVersion | None = None
    path: Path | None = None
    previous_mst: str | None = None
    fetched_at: str = ""
    error: str = ""


@dataclass
class SyncResult:
    outcomes: list[LawOutcome] = field(default_factory=list)

    @property
    def fetched(self) -> list[LawOutcome]:
        return [o for o in self.outcomes if o.status == "fetched"]

    @property
    def up_to_date(self) -> list[LawOutcome]:
        return [o for o in self.outcomes if o.status == "up_to_date"]

    @property
    def failed(self) -> list[LawOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def sync_laws(titles: Sequence[str], *, client: LawGoClient, store_dir: Path, state_path: Path) -> SyncResult:
    """Download the current version of every title whose MST the state does not hold yet.

    A failing law is reported and the others go on, except when the API itself is unavailable:
    then the remaining laws are reported with that reason rather than each waiting for a timeout.
    The state file is only read here; `mark_synced` records versions once they are ingested.
    """
    state = read_state(state_path)
    result = SyncResult()
    blocked: ApiUnavailable | None = None
    for title in titles:
        if blocked is not None:
            result.outcomes.append(LawOutcome(title, "failed", error=f"not tried: {blocked}"))
            continue
        known = state.get(title, {}).get("mst")
        try:
            version = client.current(title)
            if version.mst == known:
                result.outcomes.append(LawOutcome(title, "up_to_date", version, previous_mst=known))
                continue
            path = store_dir / _folder_name(title) / f"{version.mst}.xml"
            write_atomic(path, client.fetch(version))
        except ApiUnavailable as exc:
            blocked = exc
            result.outcomes.append(LawOutcome(title, "failed", error=str(exc)))
            continue
        except LawSyncError as exc:
            result.outcomes.append(LawOutcome(title, "failed", error=str(exc)))
            continue
        except OSError as exc:
            error = f"{title}: cannot write under {store_dir} ({exc.strerror}); check the data folder"
            result.outcomes.append(LawOutcome(title, "failed", error=error))
            continue
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        result.outcomes.append(LawOutcome(title, "fetched", version, path, known, fetched_at))
    return result


def mark_synced(state_path: Path, outcomes: Iterable[LawOutcome]) -> None:
    """Record fetched versions as current; call it only for laws whose file was ingested."""
    state = read_state(state_path)
    for o in outcomes:
        if o.status == "fetched" and o.version is not None:
            state[o.title] = {
                "mst": o.version.mst,
                "promulgated": o.version.promulgated,
                "effective": o.version.effective,
                "fetched_at": o.fetched_at,
            }
    text = json.dumps(state, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    write_atomic(state_path, text.encode())


def read_state(state_path: Path) -> dict[str, dict[str, str]]:
    """title → {mst, promulgated, effective, fetched_at}; empty when nothing was synced yet."""
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LawSyncError(
            f"{state_path}: unreadable sync state ({exc}); delete it to fetch every law again"
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise LawSyncError(
            f"{state_path}: not a sync state (title → version); delete it to fetch every law again"
        )
    return state


def load_law_list(path: Path) -> list[str]:
    """Titles from the law list: one per line, '#' comments and blank lines skipped, duplicates once."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise LawSyncError(
            f"{path}: cannot read the law list ({exc.strerror}); create it (one title per line) "
            "or name laws with --law"
        ) from exc
    titles: list[str] = []
    for line in lines:
        title = " ".join(line.split("\t", 1)[0].split())
        if title and not title.startswith("#") and title not in titles:
            titles.append(title)
    return titles


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and os.replace, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version(row: ET.Element) -> LawVersion:
    def text(tag: str) -> str:
        return " ".join((row.findtext(tag) or "").split())

    return LawVersion(
        title=text("법령명한글"),
        mst=text("법령일련번호"),
        law_id=text("법령ID"),
        promulgated=text("공포일자"),
        effective=text("시행일자"),
        kind=text("법령구분명"),
        status=text("현행연혁코드"),
    )


def _parse(data: bytes, endpoint: str) -> ET.Element:
    try:
        return SafeET.fromstring(data)  # type: ignore[no-any-return]
    except ET.ParseError as exc:
        raise LawSyncError(f"{endpoint} returned malformed XML ({exc}); try again later") from exc
    except DefusedXmlException as exc:  # entity expansion, external entities, a DTD
        raise LawSyncError(
            f"{endpoint} returned XML with {type(exc).__name__} ({exc}); law.go.kr sends none: "
            "check KMED_LAWGO__BASE_URL"
        ) from exc


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _html_message(data: bytes) -> str:
    """The page's own words: law.go.kr says '미신청된 목록/본문에 대한 접근입니다' for an unknown OC."""
    text = data.decode("utf-8", errors="replace")
    for pattern in (r"<h2[^>]*>(.*?)</h2>", r"<title[^>]*>(.*?)</title>"):
        match = re.search(pattern, text, flags=re.IGNORECASE | re.DOTALL)
        words = " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""
        if words:
            return f"'{words[:120]}'"
    return "no message"


def _same_title(a: str, b: str) -> bool:
    return _normal(a) == _normal(b)


def _normal(title: str) -> str:
    return " ".join(unicodedata.normalize("NFC", title).split())


def _folder_name(title: str) -> str:
    return _normal(title).replace("/", "_").replace("\\", "_").lstrip(".") or "_"


def _int(value: str | None) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return 0
