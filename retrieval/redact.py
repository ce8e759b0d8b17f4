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
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass
class Redaction:
    text: str
    found: Counter[str] = field(default_factory=Counter)  # kind → how many were replaced


def redact(text: str, patient_patterns: Sequence[str] = ()) -> Redaction:
    """The text with identifiers replaced by [주민등록번호], [전화번호], [이메일], [환자번호]."""
    found: Counter[str] = Counter()

    def sub(pattern: re.Pattern[str], label: str, value: str) -> str:
        replaced, n = pattern.subn(f"[{label}]", value)
        if n:
            found[label] += n
        return replaced

    out = sub(_EMAIL, "이메일", text)
    out = sub(_RRN, "주민등록번호", out)  # before phones: a 13-digit RRN holds phone-like runs
    out = sub(_MOBILE, "전화번호", out)
    out = sub(_LANDLINE, "전화번호", out)
    for pattern in patient_patterns:
        out = sub(re.compile(pattern), "환자번호", out)
    return Redaction(out, found)
