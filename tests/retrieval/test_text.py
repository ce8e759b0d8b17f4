"""Korean tokenization: statute references, quantities and codes survive Kiwi as single terms."""

from __future__ import annotations

import pytest

from retrieval.text import KoreanTokenizer, char_bigrams, extract_special

VARIANTS = ("morph", "morph_compound", "bigram", "morph_bigram")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("제22조의2제1항", ["제22조의2", "제22조의2제1항"]),
        ("22조 2항", ["제22조", "제22조제2항"]),
        ("제 22 조", ["제22조"]),
        ("제 22 조 의 2 제 3 항 제 4 호의 2", ["제22조의2", "제22조의2제3항", "제22조의2제3항제4호의2"]),
        ("의료법 제19조에 따라", ["제19조"]),
    ],
)
def test_statute_references_become_normalised_terms(
    tokenizer: KoreanTokenizer, text: str, expected: list[str]
) -> None:
    analysis = tokenizer.analyse(text)
    assert list(analysis.special) == expected
    # Kiwi never sees the reference: no 제/22/조/의 fragments among the morphemes
    assert not {"제", "22", "조", "의", "2", "1"} & set(analysis.morphemes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("진료기록부는 10년간 보존", "10년"),
        ("72시간 이내에 신고", "72시간"),
        ("혈압 130/80 mmHg 이상", "130/80mmHg"),
        ("0.5 mg/kg 투여", "0.5mg/kg"),
        ("체온 37.5°C", "37.5℃"),
        ("50퍼센트", "50%"),
        ("1,000원", "1000원"),
        ("3개월마다", "3개월"),
    ],
)
def test_quantities_are_one_term(tokenizer: KoreanTokenizer, text: str, expected: str) -> None:
    analysis = tokenizer.analyse(text)
    assert expected in analysis.special
    unit = expected.lstrip("0123456789./")
    for variant in VARIANTS:
        terms = analysis.terms(variant)  # type: ignore[arg-type]
        assert terms.count(expected) == 1, (variant, terms)
        # the number is never a term of its own; a Korean unit is, once, so '몇 시간' meets '72시간'
        assert [t for t in terms if t != expected and any(ch.isdigit() for ch in t)] == []
        assert terms.count(unit) == (1 if "가" <= unit[0] <= "힣" else 0), (variant, terms)


def test_bare_paragraph_reference_is_dropped(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("제1항에 따른 신고")
    assert analysis.special == ()
    for variant in VARIANTS:
        terms = analysis.terms(variant)  # type: ignore[arg-type]
        assert not any("1" in t or t.startswith("제") for t in terms), (variant, terms)
    assert "신고" in analysis.morphemes


def test_extract_special_blanks_the_spans_it_takes() -> None:
    terms, rest = extract_special("제15조제1항에 따라 10년 보존")
    assert terms == ["제15조", "제15조제1항", "10년", "년"]
    assert len(rest) == len("제15조제1항에 따라 10년 보존")
    assert "15" not in rest and "10" not in rest
    assert "따라" in rest and "보존" in rest


@pytest.mark.parametrize(
    ("text", "code"), [("SGLT2 억제제", "sglt2"), ("COVID-19 백신", "covid19"), ("HbA1c 측정", "hba1c")]
)
def test_latin_codes_are_one_lower_cased_term(tokenizer: KoreanTokenizer, text: str, code: str) -> None:
    analysis = tokenizer.analyse(text)
    assert code in analysis.special
    for variant in VARIANTS:
        terms = analysis.terms(variant)  # type: ignore[arg-type]
        assert terms.count(code) == 1, (variant, terms)
        assert not {"sglt", "covid", "hba", "19", "2"} & set(terms)


def test_morphemes_are_content_words(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("간호사는 환자에게 진료기록부를 10년간 보존하여야 한다")
    # content words in order, however the user dictionary cuts the nouns (진료+기록부 or 진료기록부)
    assert "".join(analysis.morphemes) == "간호사환자진료기록부보존"
    # no particles (는, 에게, 를), endings (어야, ㄴ다) or light verbs (하다)
    assert not {"는", "에게", "를", "어야", "다", "하다", "한다", "간"} & set(analysis.morphemes)


def test_verbs_are_lemmatised_with_da(tokenizer: KoreanTokenizer) -> None:
    assert "따르다" in tokenizer.analyse("이 법에 따라").morphemes


def test_particle_after_a_reference_is_not_a_term(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("22조 2항을 보면")
    assert "을" not in analysis.morphemes
    assert "을" not in analysis.terms("bigram")


def test_compounds_are_rejoined(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("병원식당에서 밥을 먹는다")
    assert analysis.compounds == ("병원식당",)  # runs of 2+ nouns only
    assert {"병원", "식당"} <= set(analysis.morphemes)
    assert "병원식당" in analysis.terms("morph_compound")
    assert "병원식당" not in analysis.terms("morph")


def test_morph_compound_counts_a_lone_noun_once(tokenizer: KoreanTokenizer) -> None:
    terms = tokenizer.analyse("진료기록부를 보존한다").terms("morph_compound")
    assert terms.count("보존") == 1


def test_each_variant_returns_its_kind_of_terms(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("의료법 제22조에 따라 처방전을 대리수령할 수 있다")
    special = ["제22조"]

    morph = analysis.terms("morph")
    assert morph[:1] == special
    assert "".join(morph[1:]) == "의료법따르다처방전대리수령"  # lemmas, no particles or endings

    compound = analysis.terms("morph_compound")
    assert compound[: len(morph)] == morph
    assert compound[len(morph) :] == ["대리수령"]

    bigram = analysis.terms("bigram")
    assert bigram[:1] == special
    assert {"의료", "료법", "처방", "방전", "전을", "대리", "리수", "수령"} <= set(bigram)
    assert all(len(t) <= 2 for t in bigram[1:])
    assert "따르다" not in bigram  # raw written words, no lemmas

    morph_bigram = analysis.terms("morph_bigram")
    assert morph_bigram[: len(morph)] == morph
    extra = morph_bigram[len(morph) :]
    assert extra and all(t.startswith("~") and len(t) == 3 for t in extra)
    assert {"~의료", "~료법", "~대리", "~리수", "~수령"} <= set(extra)
    assert "~전을" not in extra  # bigrams of compounds, not of written words with particles


def test_special_terms_lead_every_variant(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("제15조 진료기록부 10년")
    for variant in VARIANTS:
        assert analysis.terms(variant)[:2] == ["제15조", "10년"], variant  # type: ignore[arg-type]


def test_analyse_many_equals_analyse_per_text(tokenizer: KoreanTokenizer) -> None:
    texts = [
        "진료기록부 보존 기간",
        "제11조의2제2항 처방전 대리수령",
        "SGLT2 억제제 0.5 mg/kg",
        "",
        "의약품 복약지도",
    ]
    assert list(tokenizer.analyse_many(texts)) == [tokenizer.analyse(t) for t in texts]


def test_empty_text_has_no_terms(tokenizer: KoreanTokenizer) -> None:
    analysis = tokenizer.analyse("   ")
    assert all(analysis.terms(v) == [] for v in VARIANTS)  # type: ignore[arg-type]


def test_char_bigrams() -> None:
    assert char_bigrams("진료기록부") == ["진료", "료기", "기록", "록부"]
    assert char_bigrams("법") == ["법"]
    assert char_bigrams("") == []
