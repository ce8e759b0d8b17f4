"""Guideline PDFs: a generated guideline the tests know line by line, and the real PDFs spot-checked
against what their pages show."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.errors import ParseError
from ingest.guidelines import GuidelineMeta, parse_guideline, read_sidecar
from ingest.guidelines.layout import join_lines, numbering
from ingest.guidelines.pdf import ocr_available, text_quality
from ingest.pipeline import discover
from retrieval.models import Clause
from retrieval.settings import PdfSettings
from retrieval.text import KoreanTokenizer
from tests.data.guideline_pdf import TITLE, make_guideline_pdf

GUIDELINES = "corpora/guidelines/pdf"
needs_ocr = pytest.mark.skipif(
    not ocr_available(), reason="Tesseract with Korean data is not installed (scripts/setup installs it)"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, tokenizer: KoreanTokenizer) -> list[Clause]:
    path = make_guideline_pdf(tmp_path_factory.mktemp("gl") / "fever.pdf")
    return parse_guideline(path, settings=PdfSettings(ocr="off"), spacer=tokenizer.space).chunks


def _find(chunks: list[Clause], words: str) -> Clause:
    return next(c for c in chunks if words in c.text)


def test_metadata_come_from_the_cover_and_the_file(generated: list[Clause]) -> None:
    first = generated[0]
    assert first.law == TITLE and first.doc_type == "guideline" and first.level == "지침"
    assert first.version == "2024" and first.doc_id == "g-fever"
    assert [c.clause_id for c in generated] == [f"g-fever-c{n:04d}" for n in range(1, len(generated) + 1)]


def test_sections_pages_and_labels(generated: list[Clause]) -> None:
    purpose = _find(generated, "일관성을 높이기")
    assert purpose.headings == ["Ⅰ. 서론", "1. 목적"]
    assert (purpose.page_start, purpose.page_end) == (2, 2)
    assert purpose.label == f"{TITLE}(2024) §Ⅰ.1, p.2"
    assert purpose.boxes and all(b.page == 2 and b.x0 < b.x1 and b.y0 < b.y1 for b in purpose.boxes)


def test_running_header_and_page_numbers_are_gone(generated: list[Clause]) -> None:
    text = "\n".join(c.text for c in generated)
    assert "가상 문서" not in text and "- 3 -" not in text


def test_korean_wrap_is_joined_and_spaced_by_kiwi(generated: list[Clause]) -> None:
    assert "진료 현장의 일관성" in _find(generated, "일관성").text  # the line broke after 진료
    assert "별도의 지침을 따른다." in _find(generated, "신생아는").text


def test_recommendation_with_grade(generated: list[Clause]) -> None:
    rec = _find(generated, "아세트아미노펜 또는 이부프로펜을 투여한다")
    assert rec.kind == "recommendation"
    assert rec.recommendation is not None
    assert (rec.recommendation.number, rec.recommendation.strength, rec.recommendation.evidence) == (
        "1",
        "A",
        "II",
    )
    assert rec.headings[-1] == "권고 1"


def test_table_rows_name_their_columns(generated: list[Clause]) -> None:
    table = _find(generated, "표 1. 연령별 해열제 용량")
    assert table.kind == "table" and table.page_start == 3
    assert "약제: 아세트아미노펜 | 1회 용량: 10–15 mg/kg | 투여 간격: 4–6시간" in table.text
    assert "불편감을 줄이는" not in table.text  # the sentence after the table is body text again
    assert _find(generated, "불편감을 줄이는").kind == "text"


def test_two_columns_read_left_then_right(generated: list[Clause]) -> None:
    text = _find(generated, "탈수 징후").text
    assert text.index("소변") < text.index("왼쪽 단 설명 문장 5") < text.index("열성 경련")


def test_sidecar_and_options_override_what_the_pdf_says(tmp_path: Path) -> None:
    path = make_guideline_pdf(tmp_path / "fever.pdf")
    path.with_suffix(".yaml").write_text(
        "doc_id: hanbit-fever\ntitle: 소아 발열 지침\nissuer: 한빛소아과학회\neffective: 2024-03-01\n",
        encoding="utf-8",
    )
    meta = GuidelineMeta(version="2024 개정판")
    parsed = parse_guideline(path, settings=PdfSettings(ocr="off"), meta=meta)
    assert (parsed.doc_id, parsed.title, parsed.issuer, parsed.version) == (
        "hanbit-fever",
        "소아 발열 지침",
        "한빛소아과학회",
        "2024 개정판",
    )
    assert str(parsed.effective) == "2024-03-01"
    assert parsed.chunks[0].label.startswith("소아 발열 지침(2024 개정판) §")


def test_a_folder_ingests_the_pdf_not_its_sidecar(tmp_path: Path) -> None:
    path = make_guideline_pdf(tmp_path / "fever.pdf")
    path.with_suffix(".json").write_text('{"title": "소아 발열 지침"}', encoding="utf-8")
    (tmp_path / "other.json").write_text("{}", encoding="utf-8")
    assert discover([tmp_path]) == [path, tmp_path / "other.json"]


def test_broken_sidecar_is_a_clear_error(tmp_path: Path) -> None:
    path = make_guideline_pdf(tmp_path / "fever.pdf")
    path.with_suffix(".json").write_text('{"title": "x", "colour": "red"}', encoding="utf-8")
    with pytest.raises(ParseError, match="fever.json: cannot read the metadata sidecar"):
        read_sidecar(path)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Ⅱ. 해열제 사용", ("roman", "Ⅱ")),
        ("3.2 지역사회획득 폐렴", ("d2", "3.2")),
        ("가. 임상 증상", ("ko", "가.")),
        ("(1) 외래", ("pdp", "(1)")),
        ("제3조(사전승인 심사)", ("article", "제3조")),
        ("권고 4 항생제", ("recommendation", "권고 4")),
        ("주) 연락처", None),  # 주 is no Korean enumerator
        ("2020. Accessed March 2", None),  # a year is no section number
    ],
)
def test_korean_numbering(line: str, expected: tuple[str, str] | None) -> None:
    assert numbering(line) == expected


def test_join_lines() -> None:
    assert join_lines("급성 ", "기관지염") == "급성 기관지염"
    assert join_lines("기관지", "염") == "기관지염"  # no spacer: no space invented
    assert join_lines("treat-", "ment of") == "treatment of"
    assert join_lines("Grade", "A") == "Grade A"


def test_text_quality_tells_garbled_from_korean() -> None:
    assert text_quality("급성 기관지염의 원인은 대부분 바이러스이다 (Grade A).") > 0.95
    assert text_quality("ᰩ\x03\x03᥉ ᗧㅛểⅣㅟᛣ\x03㝻㚃ㄧ\x03ㄿ⊳") < 0.3


@needs_ocr
def test_scanned_page_is_read_by_ocr(tmp_path: Path, tokenizer: KoreanTokenizer) -> None:
    path = make_guideline_pdf(tmp_path / "scan.pdf", scanned_page=True)
    parsed = parse_guideline(path, settings=PdfSettings(), spacer=tokenizer.space)
    assert parsed.ocr_pages == 1 and "OCR used for 1 of 5 pages" in parsed.warnings[0]
    scanned = [c for c in parsed.chunks if c.page_start == 5]
    assert (
        scanned
        and all(c.ocr for c in scanned)
        and not any(c.ocr for c in parsed.chunks if (c.page_end or 0) < 5)
    )
    assert "다시 진찰한다" in scanned[0].text


def test_scanned_page_without_ocr_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = make_guideline_pdf(tmp_path / "scan.pdf", scanned_page=True)
    parsed = parse_guideline(path, settings=PdfSettings(ocr="off"))
    assert parsed.ocr_pages == 0 and parsed.chunks
    assert "pages 5 skipped" in parsed.warnings[0] and "tesseract-ocr-kor" in parsed.warnings[0]


# --- the real guideline PDFs -------------------------------------------------------------------


def _real(shared: Path, name: str, tokenizer: KoreanTokenizer) -> list[Clause]:
    return parse_guideline(
        shared / GUIDELINES / f"{name}.pdf", settings=PdfSettings(ocr="off"), spacer=tokenizer.space
    ).chunks


def test_antibiotics_guideline_pages_and_sections(shared: Path, tokenizer: KoreanTokenizer) -> None:
    chunks = _real(shared, "소아청소년_하기도감염_항생제사용지침_2017", tokenizer)
    assert chunks[0].law == "소아 청소년 하기도 감염의 항생제 사용지침" and chunks[0].version == "2017"
    # physical page 47 (printed 45): 【표 5】 under Ⅲ 지역사회획득 폐렴 > 가. 임상 증상과 징후
    table = _find(chunks, "나이에 따른 빈호흡의 정의")
    assert (table.kind, table.page_start, table.page_end) == ("table", 47, 47)
    assert table.headings[-1] == "가. 임상 증상과 징후" and table.headings[0].startswith(
        "Ⅲ 지역사회획득 폐렴"
    )
    assert "2–12개월: ≥50/분" in table.text and table.label.endswith("§Ⅲ.가, p.47")
    # physical page 19: the graded recommendation on treating acute bronchitis (p.14 summarises it)
    rec = next(c for c in chunks if "마크로라이드계 항균제로 치료한다" in c.text and c.page_start == 19)
    assert rec.kind == "recommendation"
    assert rec.recommendation is not None and (rec.recommendation.strength, rec.recommendation.evidence) == (
        "A",
        "I",
    )
    assert rec.headings == ["Ⅰ 급성 기관지염(Acute bronchitis)"]
    assert "사용지침" not in {c.text.strip() for c in chunks}  # the running header


def test_food_allergy_guideline_page_26(shared: Path, tokenizer: KoreanTokenizer) -> None:
    chunks = _real(shared, "즉시형_식품알레르기_치료지침_대한소아알레르기호흡기학회", tokenizer)
    rec = _find(chunks, "무증상이 확인된 견과류는 지속적으로 섭취할 것을 권고한다")
    assert rec.page_start == 26 and rec.kind == "recommendation"
    assert rec.headings[-1] == "6) 호두알레르기와 견과류" and rec.headings[0] == "Ⅴ 본 문"
    assert rec.recommendation is not None and rec.recommendation.strength == "Ⅰ"


def test_covid_guideline_page_26(shared: Path, tokenizer: KoreanTokenizer) -> None:
    chunks = _real(shared, "코로나19_대응지침_신생아영아소아청소년_2020-03-20", tokenizer)
    answer = _find(chunks, "밀접 접촉자로 격리된 산모의 경우 모유를 유축하여")
    assert answer.page_start == 26 and answer.headings[-1].startswith("Q7.")
    assert "냉동고에 보관" in answer.text
    assert chunks[0].version == "2020"


def test_hira_notice_articles(shared: Path, tokenizer: KoreanTokenizer) -> None:
    chunks = _real(shared, "심평원공고_2019-37_ICD_CRT_사전승인_절차및방법", tokenizer)
    assert chunks[0].level == "공고" and chunks[0].law == "건강보험심사평가원 공고 제2019-37호"
    article = _find(chunks, "사전승인 심사는 매월")
    assert article.headings[-1] == "제4조(사전승인 심사 운영)" and article.page_start == 2
    # the edition is in the title already, so the label does not repeat it
    assert article.label == "건강보험심사평가원 공고 제2019-37호 §제4조, pp.2–3"


def _first_pages(shared: Path, tmp_path: Path, pages: int) -> Path:
    broken = pymupdf.open(shared / GUIDELINES / "대한부정맥학회_심방세동_치료_가이드라인_2018.pdf")
    part = pymupdf.open()
    part.insert_pdf(broken, from_page=2, to_page=2 + pages - 1)
    path = tmp_path / "af.pdf"
    part.save(path)
    return path


def test_broken_text_layer_is_refused_without_ocr(shared: Path, tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no usable text layer .* OCR is off"):
        parse_guideline(_first_pages(shared, tmp_path, 2), settings=PdfSettings(ocr="off"))


@needs_ocr
def test_broken_text_layer_is_read_by_ocr(shared: Path, tmp_path: Path, tokenizer: KoreanTokenizer) -> None:
    parsed = parse_guideline(
        _first_pages(shared, tmp_path, 1), settings=PdfSettings(), spacer=tokenizer.space
    )
    assert parsed.ocr_pages == 1
    text = " ".join(c.text for c in parsed.chunks)
    assert text_quality(text) > 0.9 and "심방세동" in text
