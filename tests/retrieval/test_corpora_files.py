"""Checks on the data files the project ships in corpora/.

The user dictionary is loaded into a real Kiwi, because what matters is how Kiwi tokenizes with it,
not just that the file parses. The sample statutes and their questions are checked against each
other so a renumbered article cannot leave a dangling gold citation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import yaml
from kiwipiepy import Kiwi

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
USER_DICT = CORPORA / "userdict" / "medical.tsv"
LAY_TERMS = CORPORA / "synonyms" / "lay_terms.tsv"
SAMPLES = CORPORA / "samples"
SAMPLE_DOCS = sorted(SAMPLES.glob("*.md"))
QUESTIONS = SAMPLES / "questions.jsonl"

FICTION_NOTE = "이 문서는 시연용으로 작성한 가상의 병원 내규이며 실제 기관·법령과 관계없습니다."
KNOWN_PREFIX = "# 기본사전:"
ARTICLE_HEADING = re.compile(r"^##### (제\d+조(?:의\d+)?)(?: \((.+)\))?$", re.MULTILINE)


def _data_rows(path: Path) -> list[list[str]]:
    """Non-comment, non-blank lines of a TSV file, split on tabs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _forms(kiwi: Kiwi, text: str) -> list[str]:
    """Token forms with the spaces of multi-word dictionary entries removed."""
    return [token.form.replace(" ", "") for token in kiwi.tokenize(text)]


@pytest.fixture(scope="module")
def kiwi() -> Kiwi:
    kiwi = Kiwi()
    kiwi.load_user_dictionary(str(USER_DICT))
    return kiwi


# --- user dictionary -------------------------------------------------------------------------


def test_user_dictionary_rows_are_well_formed() -> None:
    rows = _data_rows(USER_DICT)
    assert all(len(row) == 3 for row in rows), [row for row in rows if len(row) != 3]
    assert {row[1] for row in rows} <= {"NNG", "NNP", "SL"}
    for _, _, score in rows:
        float(score)
    duplicates = [form for form, n in Counter(row[0] for row in rows).items() if n > 1]
    assert duplicates == []


def test_user_dictionary_loads_every_row_into_kiwi() -> None:
    added = Kiwi().load_user_dictionary(str(USER_DICT))
    assert added >= 350
    assert added == len(_data_rows(USER_DICT)), "Kiwi skipped rows: a form/tag pair it already has?"


# A sentence and the terms that must come out of Kiwi as single tokens.
KEY_TERMS: dict[str, tuple[str, list[str]]] = {
    "records": ("진료기록부를 전자의무기록으로 작성한다", ["진료기록부", "전자의무기록"]),
    "emergency": ("권역응급의료센터에서 심폐소생술을 시행했다", ["권역응급의료센터", "심폐소생술"]),
    "hiv-claims": ("후천성면역결핍증 환자의 요양급여비용을 청구한다", ["후천성면역결핍증", "요양급여비용"]),
    "neonatal": (
        "신생아호흡곤란증후군으로 신생아중환자실에 입원했다",
        ["신생아호흡곤란증후군", "신생아중환자실"],
    ),
    "professions": ("간호조무사와 의료기사의 보수교육", ["간호조무사", "의료기사", "보수교육"]),
    "sanctions": ("면허취소와 자격정지의 기준", ["면허취소", "자격정지"]),
    "drugs": ("향정신성의약품과 전문의약품의 조제기록부", ["향정신성의약품", "전문의약품", "조제기록부"]),
    "spaced-entries": ("알레르기비염과 아토피피부염", ["알레르기비염", "아토피피부염"]),
    "abbreviations": ("SGLT2 억제제와 COVID-19 예방접종", ["SGLT2", "COVID-19", "예방접종"]),
    # Known words are deliberately not registered; re-registering 폐렴 would split this one.
    "known-not-registered": ("흡인성폐렴과 폐렴", ["흡인성폐렴", "폐렴"]),
    # NNG entries leave the following word alone (NNP turned 응시일부터 into one odd token).
    "next-word-intact": ("간호조무사 국가시험 응시일부터", ["국가시험", "응시"]),
}


@pytest.mark.parametrize(("sentence", "whole"), list(KEY_TERMS.values()), ids=list(KEY_TERMS))
def test_key_terms_stay_whole(kiwi: Kiwi, sentence: str, whole: list[str]) -> None:
    forms = _forms(kiwi, sentence)
    for term in whole:
        assert term in forms, forms


def test_every_listed_term_stays_whole(kiwi: Kiwi) -> None:
    """Registered entries and the terms listed as already known must each come out as one token."""
    lines = USER_DICT.read_text(encoding="utf-8").splitlines()
    known = [w for line in lines if line.startswith(KNOWN_PREFIX) for w in line[len(KNOWN_PREFIX) :].split()]
    terms = [row[0].replace(" ", "") for row in _data_rows(USER_DICT)] + known
    split = [term for term in terms if term not in _forms(kiwi, f"{term}에 대한 규정")]
    assert split == []


# --- lay-term thesaurus ----------------------------------------------------------------------


def test_lay_terms_parse() -> None:
    rows = _data_rows(LAY_TERMS)
    assert len(rows) >= 120
    assert [row for row in rows if len(row) < 2] == []
    assert [row for row in rows if any(cell != cell.strip() or not cell for cell in row)] == []
    duplicates = [lay for lay, n in Counter(row[0] for row in rows).items() if n > 1]
    assert duplicates == []
    assert [row for row in rows if row[0] in row[1:]] == [], "a row only repeats its own lay term"


# --- sample statutes -------------------------------------------------------------------------


def _split_front_matter(path: Path) -> tuple[dict[str, object], str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


def _articles(body: str) -> dict[str, str]:
    """Article label → its text (up to the next article, chapter or 부칙 heading)."""
    main = body.split("\n## 부칙", 1)[0]
    matches = list(ARTICLE_HEADING.finditer(main))
    ends = [m.start() for m in matches[1:]] + [len(main)]
    return {m.group(1): main[m.end() : end] for m, end in zip(matches, ends, strict=True)}


def test_there_are_two_sample_documents() -> None:
    assert [p.name for p in SAMPLE_DOCS] == [
        "한빛대학교병원_감염관리규정.md",
        "한빛대학교병원_진료기록관리규정.md",
    ]


@pytest.mark.parametrize("path", SAMPLE_DOCS, ids=lambda p: p.stem)
def test_sample_front_matter_says_it_is_fictional(path: Path) -> None:
    meta, body = _split_front_matter(path)
    for key in ("제목", "법령MST", "법령ID", "법령구분", "공포일자", "시행일자", "상태", "출처", "비고"):
        assert key in meta, key
    assert meta["법령구분"] == "내규"
    assert str(meta["법령ID"]).startswith("SAMPLE-")
    assert meta["비고"] == FICTION_NOTE
    lines = [line for line in body.splitlines() if line.strip()]
    assert lines[0] == f"# {meta['제목']}"
    assert lines[1] == FICTION_NOTE


@pytest.mark.parametrize("path", SAMPLE_DOCS, ids=lambda p: p.stem)
def test_sample_uses_statute_markdown_syntax(path: Path) -> None:
    _, body = _split_front_matter(path)
    assert re.search(r"^## 제1장 \S", body, re.MULTILINE)
    assert re.search(r"^\*\*①\*\* \S", body, re.MULTILINE)
    assert re.search(r"^  1\\\. \S", body, re.MULTILINE)
    assert re.search(r"^    가\\\. \S", body, re.MULTILINE)
    assert re.search(r"<(개정|신설) \d{4}\.\d{1,2}\.\d{1,2}", body)
    assert re.search(r"^\*\*.\*\* 삭제 <\d{4}\.\d{1,2}\.\d{1,2}>$", body, re.MULTILINE)
    assert re.search(r"^## 부칙$", body, re.MULTILINE)
    assert re.search(r"^부칙 <제[\d-]+호,\d{4}\.\d{1,2}\.\d{1,2}>$", body, re.MULTILINE)
    labels = list(_articles(body))
    assert any("의" in label for label in labels), "expected a 제N조의2 article"
    numbers = [tuple(int(n) for n in re.findall(r"\d+", label)) for label in labels]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


# --- sample questions ------------------------------------------------------------------------


def _questions() -> list[dict[str, Any]]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _documents_by_title() -> dict[str, dict[str, str]]:
    docs = {}
    for path in SAMPLE_DOCS:
        meta, body = _split_front_matter(path)
        docs[str(meta["제목"])] = _articles(body)
    return docs


def test_questions_have_the_eval_format() -> None:
    questions = _questions()
    assert len({q["id"] for q in questions}) == len(questions)
    assert Counter(q["type"] for q in questions) == {"statute": 10, "guideline": 2, "unanswerable": 2}
    for q in questions:
        assert set(q) == {"id", "type", "question", "gold", "answer", "evidence"}
        if q["type"] == "unanswerable":
            assert q["gold"] == [] and q["answer"] == "근거 없음"


def _plain(text: str) -> str:
    """Article text as the eval README quotes it: markers and the backslash in '1\\.' dropped."""
    return re.sub(r"\*\*.\*\* |\\", "", text)


def test_question_gold_citations_exist_in_the_samples() -> None:
    docs = _documents_by_title()
    for q in _questions():
        for gold in q["gold"]:
            if "doc" in gold:  # a guideline page: the evidence is printed on it
                with pymupdf.open(SAMPLES / f"{gold['doc']}.pdf") as pdf:
                    page = " ".join(pdf[gold["page"] - 1].get_text().split())
                assert q["evidence"] in page, q["id"]
                continue
            assert gold["level"] == "내규"
            articles = docs[gold["law"]]
            assert gold["article"] in articles, (q["id"], gold)
            text = articles[gold["article"]]
            if "paragraph" in gold:
                number = int(gold["paragraph"].removeprefix("제").removesuffix("항"))
                marker = f"**{chr(0x2460 + number - 1)}**"
                assert marker in text, (q["id"], gold)
                paragraph = text.split(marker, 1)[1].split("\n**", 1)[0]
                assert q["evidence"] in _plain(paragraph), q["id"]
