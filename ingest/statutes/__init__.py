"""Statute parsers: legalize-kr Markdown and law.go.kr XML/JSON to `retrieval.models.Clause`s.

Each format is read into one intermediate (`structure.RawLaw`) and `structure.build_law` applies
the clause rules once. Cross-references are extracted while building; `resolve_references`
points them at clause ids once the whole index is known.
"""

from __future__ import annotations

from pathlib import Path

from retrieval.references import clause_index, extract_references, resolve_references

from ..errors import IngestError, ParseError, UnsupportedFormat
from .detect import DetectedFormat, detect_format, sniff_format
from .lawjson import parse_lawjson
from .lawxml import parse_lawxml
from .markdown import parse_markdown
from .structure import ParsedLaw, RawLaw, build_law

__all__ = [
    "DetectedFormat",
    "ParsedLaw",
    "clause_index",
    "detect_format",
    "extract_references",
    "parse_statute",
    "resolve_references",
]


def parse_statute(path: Path | str) -> ParsedLaw:
    """Read one statute file, whatever its format, into main-body and 부칙 clauses.

    Raises `ParseError` for malformed content and `UnsupportedFormat` for files that are not
    one statute (a PDF, a law.go.kr history list); both say what to do about it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror}); check the path") from exc
    fmt = sniff_format(data[:512])
    raw: RawLaw
    if fmt == "lawxml":
        raw = parse_lawxml(path, data)
    elif fmt in ("markdown", "lawjson"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8"
            ) from exc
        raw = parse_markdown(path, text) if fmt == "markdown" else parse_lawjson(path, text)
    else:
        hint = "PDF guidelines go through the guideline reader" if fmt == "pdf" else "is it a statute?"
        raise UnsupportedFormat(
            f"{path}: {fmt} content, not legalize-kr Markdown or law.go.kr lawService.do XML/JSON; {hint}"
        )
    return build_law(raw)
