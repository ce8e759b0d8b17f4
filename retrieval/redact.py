"""Korean personal identifiers out of questions, before anything logs them or sends them to a model.

Redacted: 주민등록번호 and 외국인등록번호 (with or without the hyphen; numbers issued since October
2020 have no valid checksum, so only the birth date and the 7th digit are checked), mobile and
landline phone numbers, e-mail addresses, and the hospital's patient/record numbers (patterns from
settings). Dates, statute numbers (제22조제2항, 법률 제13658호), doses and times stay: the
patterns are anchored on what identifiers look like, not on any long run of digits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

_RRN = re.compile(r"(?<![\d-])(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\s?-?\s?([1-8])\d{6}(?![\d-])")
_MOBILE = re.compile(r"(?<![\d-])01[016789][-.\s]?\d{3,4}[-.\s]?\d{4}(?![\d-])")
_LANDLINE = re.compile(
    r"(?<![\d-])(?:\(0(?:2|[3-6][1-5]|70)\)|0(?:2|[3-6][1-5]|70))[-.\s)]?\d{3,4}[-.\s]?\d{4}(?![\d-])"
)
# +82 10-1234-5678, +82 (0)2 3410 1234, 0082-10-…, 82-10-…: the country code drops the trunk 0
_INTERNATIONAL = re.compile(
    r"(?<![\d+])(?:\+\s?82|0082|82(?=[-.\s]0?1[016789]))[-.\s]*(?:\(0\)|0)?[-.\s]?"
    r"(?:1[016789]|2|[3-6][1-5]|70)[-.\s]?\d{3,4}[-.\s]?\d{4}(?![\d-])"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Full-width forms (０１０－１２３４, ＠) and the dashes a word processor puts in numbers are read as
# ASCII for matching; one character maps to one, so the spans found apply to the original text.
_FOLD = str.maketrans(
    {**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " "}
    | {dash: "-" for dash in "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63"}
)


@dataclass
class Redaction:
    text: str
    found: Counter[str] = field(default_factory=Counter)  # kind → how many were replaced


def redact(text: str, patient_patterns: Sequence[str] = ()) -> Redaction:
    """The text with identifiers replaced by [주민등록번호], [전화번호], [이메일], [환자번호]."""
    found: Counter[str] = Counter()
    out, folded = text, text.translate(_FOLD)

    def sub(pattern: re.Pattern[str], label: str) -> None:
        nonlocal out, folded
        spans = [m.span() for m in pattern.finditer(folded)]
        if not spans:
            return
        found[label] += len(spans)
        pieces, folded_pieces, at = [], [], 0
        for start, end in spans:
            pieces += [out[at:start], f"[{label}]"]
            folded_pieces += [folded[at:start], f"[{label}]"]
            at = end
        out = "".join([*pieces, out[at:]])
        folded = "".join([*folded_pieces, folded[at:]])

    sub(_EMAIL, "이메일")
    sub(_RRN, "주민등록번호")  # before phones: a 13-digit RRN holds phone-like runs
    sub(_INTERNATIONAL, "전화번호")
    sub(_MOBILE, "전화번호")
    sub(_LANDLINE, "전화번호")
    for pattern in patient_patterns:
        sub(re.compile(pattern), "환자번호")
    return Redaction(out, found)


_PLACEHOLDER = re.compile(r"\[(?:이메일|주민등록번호|전화번호|환자번호)\]")
_LEFT_OVER = re.compile(r"\(\s*[,·/]?\s*\)|(?<=\s)[,·/](?=\s)")


def without_placeholders(text: str) -> str:
    """What to search of a redacted text: the placeholders say nothing about the question, and
    their words (전화번호, 환자번호) would match clauses about phone numbers and patient numbers."""
    stripped = _PLACEHOLDER.sub(" ", text)
    stripped = _LEFT_OVER.sub(" ", re.sub(r"\s*,\s*(?=[,)])", "", stripped))
    return " ".join(stripped.split())
