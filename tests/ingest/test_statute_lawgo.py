"""law.go.kr XML and JSON: same statute, same clauses as the Markdown reader gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.errors import ParseError, UnsupportedFormat
from ingest.statutes import ParsedLaw, parse_statute

DATA = Path(__file__).resolve().parents[1] / "data"


def comparable(law: ParsedLaw) -> list[tuple[object, ...]]:
    return [
        (c.clause_id, c.label, c.text, c.headings, c.article_title, c.items, c.references, c.supplementary)
        for c in [*law.clauses, *law.supplementary]
    ]


@pytest.mark.parametrize("suffix", ["json", "xml"])
def test_same_clauses_as_markdown(suffix: str) -> None:
    markdown = parse_statute(DATA / "statute_sample.md")
    other = parse_statute(DATA / f"statute_sample.{suffix}")
    assert other.format == ("lawjson" if suffix == "json" else "lawxml")
    assert (other.title, other.act, other.level, other.law_id) == (
        markdown.title,
        markdown.act,
        markdown.level,
        markdown.law_id,
    )
    assert (other.promulgated, other.effective, other.counts) == (
        markdown.promulgated,
        markdown.effective,
        markdown.counts,
    )
    assert comparable(other) == comparable(markdown)


def test_article_reference_material_goes_to_notes() -> None:
    law = parse_statute(DATA / "statute_sample.json")
    records = {c.label: c for c in law.clauses}
    assert records["시험보건법 시행규칙 제2조의2제1항"].notes == [
        "<개정 2022. 3. 4.>",
        "[본조신설 2020. 1. 10.]",
    ]
    assert records["시험보건법 시행규칙 제4조"].notes == ["[제목개정 2022. 3. 4.]"]


def test_xml_takes_the_mst_from_a_numeric_file_name(tmp_path: Path) -> None:
    path = tmp_path / "900001.xml"
    shutil.copy(DATA / "statute_sample.xml", path)
    law = parse_statute(path)
    assert law.mst == "900001"
    assert {c.mst for c in law.clauses} == {"900001"}


def test_history_list_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "history_시험법.json"
    entries = [{"법령일련번호": "1", "법령명한글": "시험법"}, {"법령일련번호": "2", "법령명한글": "시험법"}]
    path.write_text(json.dumps(entries, ensure_ascii=False), "utf-8")
    with pytest.raises(UnsupportedFormat, match="a list of 2 entries"):
        parse_statute(path)


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        ('{"LawSearch": {"law": []}}', UnsupportedFormat, "search result"),
        ('{"법령목록": []}', ParseError, "no top-level '법령'"),
        ('{"법령": {"조문": {}}}', ParseError, "no '기본정보'"),
        ('{"법령": {"기본정보": {"법령명_한글": "시험법"}}}', ParseError, "lacks 법령명_한글 or 법종구분"),
        ('{"법령": ', ParseError, "not valid JSON"),
        ('{"법령": []}', ParseError, "no '기본정보'"),
    ],
)
def test_malformed_json(tmp_path: Path, payload: str, error: type[Exception], message: str) -> None:
    path = tmp_path / "law.json"
    path.write_text(payload, "utf-8")
    with pytest.raises(error, match=message):
        parse_statute(path)


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        ("<?xml version='1.0'?><법령><기본정보>", ParseError, "malformed XML"),
        ("<LawSearch><law><법령명>시험법</법령명></law></LawSearch>", UnsupportedFormat, "root element"),
        ("<법령><조문/></법령>", ParseError, "no '기본정보'"),
        (  # a billion laughs: never expanded
            '<?xml version="1.0"?><!DOCTYPE 법령 [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><법령><기본정보>&c;</기본정보></법령>',
            ParseError,
            "declares entities or a DTD",
        ),
        (  # an external entity: the file is not read
            '<?xml version="1.0"?><!DOCTYPE 법령 [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<법령><기본정보>&x;</기본정보></법령>",
            ParseError,
            "declares entities or a DTD",
        ),
    ],
)
def test_malformed_xml(tmp_path: Path, payload: str, error: type[Exception], message: str) -> None:
    path = tmp_path / "law.xml"
    path.write_text(payload, "utf-8")
    with pytest.raises(error, match=message):
        parse_statute(path)


def test_unreadable_item_number_is_reported(tmp_path: Path) -> None:
    payload = json.loads((DATA / "statute_sample.json").read_text("utf-8"))
    definitions = payload["법령"]["조문"]["조문단위"][3]
    definitions["항"]["호"][0] = {"호번호": "", "호내용": "보건기관이란 기관을 말한다."}
    path = tmp_path / "law.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), "utf-8")
    with pytest.raises(ParseError, match="제2조 has a 호 without a readable number"):
        parse_statute(path)
