"""`kmed laws sync` in-process against the loopback law.go.kr fake, ingesting into a real index.

The laws are the two smallest real lawService.do files (41 and 4 clauses); the embedding cache
is shared by the module, so a re-ingested version costs no embedding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from kmed.laws_cli import STATE_FILE, laws_app
from tests.ingest.test_lawsync import (
    LEASE,
    OC,
    RESIDENT,
    FakeLawGo,
    closed_port,
    legalize_cache,
    new_version,
    real_fake,
    serve,
)

runner = CliRunner()
kmed = typer.Typer()  # registered as kmed/cli.py registers it
kmed.add_typer(laws_app, name="laws")


def flat(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture
def lawgo(shared: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLawGo]:
    with serve(real_fake(shared)) as fake:
        monkeypatch.setenv("KMED_LAWGO__OC", OC)
        monkeypatch.setenv("KMED_LAWGO__BASE_URL", fake.base_url)
        monkeypatch.setenv("KMED_CACHE_DIR", str(cache_dir))
        yield fake


def sync(data_dir: Path, *titles: str) -> Result:
    args = [
        "laws",
        "sync",
        *(arg for title in titles for arg in ("--law", title)),
        "--data-dir",
        str(data_dir),
    ]
    return runner.invoke(kmed, args)


def test_sync_ingests_new_versions_once(lawgo: FakeLawGo, shared: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = sync(data, RESIDENT, "없는법", LEASE)
    text = flat(first)
    assert first.exit_code == 1, first.output  # one law failed; the others went in
    assert f"↓ {RESIDENT}: new version fetched (MST 285051, 공포 2026-03-30, 시행 2026-03-30)" in text
    assert f"↓ {LEASE}: new version fetched (MST 20194, 공포 1984-09-01, 시행 1984-09-01)" in text
    assert "✗ 없는법: failed: no law with exactly this title on law.go.kr;" in text
    assert "2 new, 0 up to date, 1 failed of 3 laws" in text
    assert "2 ok, 0 failed" in text and "recorded 2 laws as synced" in text
    assert (data / "laws" / RESIDENT / "285051.xml").is_file()
    state = json.loads((data / STATE_FILE).read_text(encoding="utf-8"))
    assert {title: entry["mst"] for title, entry in state.items()} == {RESIDENT: "285051", LEASE: "20194"}

    fetches = len(lawgo.fetches())
    second = sync(data, RESIDENT, LEASE)
    assert second.exit_code == 0, second.output
    assert f"✓ {RESIDENT}: up to date (MST 285051, 공포 2026-03-30, 시행 2026-03-30)" in flat(second)
    assert "0 new, 2 up to date, 0 failed" in flat(second) and "ingested into" not in second.output
    assert len(lawgo.fetches()) == fetches

    original = (legalize_cache(shared) / "285051.xml").read_bytes()
    lawgo.add(new_version(original, "20260901", "20270101"), "299999")
    third = sync(data, RESIDENT, LEASE)
    text = flat(third)
    assert third.exit_code == 0, third.output
    dates = "공포 2026-09-01, 시행 2027-01-01"
    assert f"↓ {RESIDENT}: new version fetched (MST 299999, {dates}, replaces MST 285051)" in text
    assert f"✓ {LEASE}: up to date" in text
    assert "1 ok, 0 failed" in text and "299999.xml" in text
    state = json.loads((data / STATE_FILE).read_text(encoding="utf-8"))
    assert state[RESIDENT]["mst"] == "299999" and state[RESIDENT]["effective"] == "20270101"


def test_a_version_that_failed_ingestion_is_fetched_again(
    lawgo: FakeLawGo, shared: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    good = (legalize_cache(shared) / "20194.xml").read_bytes()
    broken = good.replace('<법종구분 법종구분코드="A0007">대통령령</법종구분>'.encode(), b"")
    assert broken != good
    lawgo.versions[LEASE] = [("20194", broken)]  # law.go.kr serves a text the reader refuses
    first = sync(data, LEASE)
    assert first.exit_code == 1, first.output
    assert "0 ok, 1 failed" in flat(first) and "fetched and ingested again next time" in flat(first)
    assert not (data / STATE_FILE).exists()

    lawgo.versions[LEASE] = [("20194", good)]
    second = sync(data, LEASE)
    assert second.exit_code == 0, second.output
    assert f"↓ {LEASE}: new version fetched (MST 20194" in flat(second) and "1 ok, 0 failed" in flat(second)
    assert json.loads((data / STATE_FILE).read_text(encoding="utf-8"))[LEASE]["mst"] == "20194"


def test_missing_oc_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KMED_LAWGO__OC", raising=False)
    result = sync(tmp_path / "data", LEASE)
    assert result.exit_code == 4
    assert "error: no law.go.kr Open API id: set KMED_LAWGO__OC to your open.law.go.kr id" in flat(result)


def test_refused_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMED_LAWGO__OC", OC)
    monkeypatch.setenv("KMED_LAWGO__BASE_URL", f"http://127.0.0.1:{closed_port()}/DRF")
    result = sync(tmp_path / "data", RESIDENT, LEASE)
    text = flat(result)
    assert result.exit_code == 1, result.output
    assert f"✗ {RESIDENT}: failed: cannot connect to http://127.0.0.1:" in text
    assert "check the network and KMED_LAWGO__BASE_URL" in text
    assert f"✗ {LEASE}: failed: not tried: cannot connect" in text
    assert "ingested into" not in text and not (tmp_path / "data" / STATE_FILE).exists()


def test_html_error_page_for_a_wrong_key_using_the_law_list(
    lawgo: FakeLawGo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = tmp_path / "laws.tsv"
    listing.write_text(f"# test list\n{LEASE}\n{RESIDENT}\n", encoding="utf-8")
    monkeypatch.setenv("KMED_LAWGO__LAWS", str(listing))
    monkeypatch.setenv("KMED_LAWGO__OC", "not-" + OC)
    result = runner.invoke(kmed, ["laws", "sync", "--data-dir", str(tmp_path / "data")])
    text = flat(result)
    assert result.exit_code == 1, result.output
    assert f"✗ {LEASE}: failed: lawSearch.do returned an HTML page instead of XML" in text
    assert "'미신청된 목록/본문에 대한 접근입니다.'" in text and "check that KMED_LAWGO__OC" in text
    assert f"✗ {RESIDENT}: failed: not tried:" in text
    assert "0 new, 0 up to date, 2 failed of 2 laws" in text


def test_missing_law_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMED_LAWGO__LAWS", str(tmp_path / "none.tsv"))
    result = runner.invoke(kmed, ["laws", "sync", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "cannot read the law list" in flat(result) and "--law" in flat(result)
