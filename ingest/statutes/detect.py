"""Which statute format a file holds, judged by its first bytes rather than its name.

law.go.kr downloads are often saved without a meaningful extension (lawService.do, 285311),
and an HTML error page saved as .xml must not reach the XML reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

DetectedFormat = Literal["markdown", "lawxml", "lawjson", "pdf", "unknown"]
_SNIFF_BYTES = 512


def sniff_format(head: bytes) -> DetectedFormat:
    """Format of a file from its first bytes."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    lower = text[:15].lower()
    if text.startswith(b"%PDF-"):
        return "pdf"
    if lower.startswith((b"<!doctype html", b"<html")):
        return "unknown"
    if text.startswith(b"<"):
        return "lawxml"
    if text.startswith((b"{", b"[")):
        return "lawjson"
    if text.startswith((b"---", b"# ")):
        return "markdown"
    return "unknown"


def detect_format(path: Path | str) -> DetectedFormat:
    """markdown / lawxml / lawjson / pdf / unknown, by sniffing the first bytes of `path`."""
    with Path(path).open("rb") as handle:
        return sniff_format(handle.read(_SNIFF_BYTES))
