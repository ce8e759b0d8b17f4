"""Format detection by content, and what parse_statute does with files it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import IngestError, ParseError, UnsupportedFormat
from ingest.statutes import detect_format, parse_statute

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("statute_sample.md", "markdown"), ("statute_sample.xml", "lawxml"), ("statute_sample.json", "lawjson")],
)
def test_samples(name: str, expected: str) -> None:
    assert detect_format(DATA / name) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "pdf"),
        (b"\xef\xbb\xbf  <?xml version='1.0'?><\xeb\xb2\x95\xeb\xa0\xb9/>", "lawxml"),
        (b"<!DOCTYPE html><html><body>error</body></html>", "unknown"),
        (b'\n[{"a": 1}]', "lawjson"),
        (b"---\n\xec\xa0\x9c\xeb\xaa\xa9: x\n---\n", "markdown"),
        (b"plain words", "unknown"),
        (b"", "unknown"),
    ],
)
def test_sniffs_content_not_extension(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "download.md"  # the extension says Markdown; the bytes decide
    path.write_bytes(content)
    assert detect_format(path) == expected


def test_pdf_is_unsupported_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "guideline.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(UnsupportedFormat, match="guideline reader"):
        parse_statute(path)


def test_json_named_xml_is_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "law.xml"
    path.write_bytes((DATA / "statute_sample.json").read_bytes())
    assert parse_statute(path).format == "lawjson"


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read"):
        parse_statute(tmp_path / "absent.md")


def test_non_utf8_text_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "law.md"
    path.write_bytes("---\n제목: 시험법\n---\n".encode("cp949"))
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_statute(path)
