"""Redaction of Korean personal identifiers, on real formats and on near misses that must stay."""

from __future__ import annotations

import pytest

from retrieval.redact import redact, without_placeholders
from retrieval.settings import AnswerSettings

PATIENT = AnswerSettings().patient_number_patterns

REDACTED = [
    ("주민번호 900101-1234567 환자", "주민번호 [주민등록번호] 환자", "주민등록번호"),
    ("9001011234567 환자의 기록", "[주민등록번호] 환자의 기록", "주민등록번호"),
    (
        "2020년 10월 이후 번호 021015-3456789",
        "2020년 10월 이후 번호 [주민등록번호]",
        "주민등록번호",
    ),  # no checksum
    ("외국인등록번호 851231-5123456", "외국인등록번호 [주민등록번호]", "주민등록번호"),
    ("외국인 850101 6123456", "외국인 [주민등록번호]", "주민등록번호"),
    ("휴대폰 010-1234-5678로", "휴대폰 [전화번호]로", "전화번호"),
    ("01012345678 연락", "[전화번호] 연락", "전화번호"),
    ("병원 02-3410-1234", "병원 [전화번호]", "전화번호"),
    ("(031) 123-4567 외래", "[전화번호] 외래", "전화번호"),
    ("053.123.4567", "[전화번호]", "전화번호"),
    ("메일 dr.kim@hanbit-hospital.kr 로", "메일 [이메일] 로", "이메일"),
    ("등록번호 12345678 환자", "[환자번호] 환자", "환자번호"),
    ("환자번호: A1234567의 검사", "[환자번호]의 검사", "환자번호"),
    # international, full-width and typographic forms of the same identifiers
    ("연락처 +82-10-1234-5678 입니다", "연락처 [전화번호] 입니다", "전화번호"),
    ("+82 10 1234 5678", "[전화번호]", "전화번호"),
    ("+821012345678로", "[전화번호]로", "전화번호"),
    ("0082-2-3410-1234", "[전화번호]", "전화번호"),
    ("+82 (0)2 3410 1234 병원", "[전화번호] 병원", "전화번호"),
    ("휴대폰 ０１０－１２３４－５６７８로", "휴대폰 [전화번호]로", "전화번호"),
    ("010–1234–5678", "[전화번호]", "전화번호"),
    ("주민 ９００１０１－１２３４５６７", "주민 [주민등록번호]", "주민등록번호"),
    ("메일 ｋｉｍ＠ｈｏｓｐ．ｋｒ", "메일 [이메일]", "이메일"),
    ("환자번호 H-2024-000123 기록", "[환자번호] 기록", "환자번호"),
    ("H-2024-000123 환자의 검사", "[환자번호] 환자의 검사", "환자번호"),
]

KEPT = [
    "2024-03-01부터 시행",
    "2024.3.1. 개정",
    "의료법 제22조제2항",
    "법률 제13658호",
    "보건복지부 고시 제2019-28호",
    "38.5℃ 이상 발열이 3일 이상",
    "아세트아미노펜 10–15 mg/kg",
    "12345-678 문서번호",
    "1588-1234",  # a company line, no person
    "991332-1234567",  # not a birth date (month 13)
    "900101-9234567",  # 9 is no valid 7th digit
    "COVID-19 확진자",
    "82세 환자에게 10-15 mg",
    "아세트아미노펜 １０ mg/kg",  # full-width digits, but no identifier
    "ICD-10 코드 J18",
]


@pytest.mark.parametrize(("text", "expected", "kind"), REDACTED)
def test_identifiers_are_replaced(text: str, expected: str, kind: str) -> None:
    result = redact(text, PATIENT)
    assert result.text == expected
    assert result.found == {kind: 1}


@pytest.mark.parametrize("text", KEPT)
def test_near_misses_stay(text: str) -> None:
    result = redact(text, PATIENT)
    assert result.text == text and not result.found


def test_placeholders_are_not_searched() -> None:
    asked = redact("진료기록부는 몇 년 보관하나요? (보호자 연락처 010-2345-6789, 900101-1234567)").text
    assert without_placeholders(asked) == "진료기록부는 몇 년 보관하나요? (보호자 연락처)"
    assert (
        without_placeholders(redact("환자 010-2345-6789, H-2024-000123 문의", [r"H-\d{4}-\d{6}"]).text)
        == "환자 문의"
    )
    assert without_placeholders("제22조제2항 [1]") == "제22조제2항 [1]"  # only redaction's own marks
