"""BM25 sparse vectors: stable term ids, BM25 term-frequency weights, weight-1 queries, lay-term expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.settings import SparseVariant, TextSettings
from retrieval.sparse import SparseEncoder, SparseVector, load_synonyms, term_index
from retrieval.text import KoreanTokenizer

K1, B, AVG = 1.2, 0.75, 120.0


@pytest.fixture(scope="module")
def morph(tokenizer: KoreanTokenizer) -> SparseEncoder:
    """Plain morphemes and no thesaurus, so each word below is exactly one term."""
    settings = TextSettings(sparse_variant="morph", bm25_k1=K1, bm25_b=B, bm25_avg_len=AVG, synonyms=None)
    return SparseEncoder(tokenizer, settings, synonyms={})


def weight_of(vector: SparseVector, term: str) -> float:
    return dict(zip(vector.indices, vector.values, strict=True))[term_index(term)]


def bm25_tf(tf: int, length: int) -> float:
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG))


def test_term_index_is_stable_and_31_bit() -> None:
    # blake2b, not hash(): the same id in every process, so old indexes stay searchable
    assert term_index("진료기록부") == 1374711639
    assert term_index("제22조의2") == 135865117
    indices = {term_index(t) for t in ["진료", "기록부", "~진료", "sglt2", "10년", "제1조", ""]}
    assert len(indices) == 7
    assert all(0 <= i < 2**31 for i in indices)


def test_document_vectors_have_unique_indices(encoder: SparseEncoder) -> None:
    text = "진료기록부 진료기록부를 보존한다. 진료기록부의 보존 기간은 10년, 처방전은 10년이 아니다."
    (vector,) = encoder.encode_documents([text])
    assert len(vector.indices) == len(set(vector.indices)) == len(vector.values)
    assert set(vector.indices) == {term_index(t) for t in encoder.terms(encoder.tokenizer.analyse(text))}
    assert all(v > 0 for v in vector.values)


def test_document_weight_is_bm25_term_frequency(morph: SparseEncoder) -> None:
    assert morph.terms(morph.tokenizer.analyse("혈압 당뇨")) == ["혈압", "당뇨"]
    (vector,) = morph.encode_documents(["혈압 당뇨"])
    assert weight_of(vector, "혈압") == pytest.approx(bm25_tf(1, 2))


def test_term_frequency_saturates(morph: SparseEncoder) -> None:
    once, twice = morph.encode_documents(["혈압 당뇨", "혈압 혈압"])  # same length, tf 1 and 2
    w1, w2 = weight_of(once, "혈압"), weight_of(twice, "혈압")
    assert w1 < w2 < 2 * w1
    assert w2 == pytest.approx(bm25_tf(2, 2))


def test_longer_document_weighs_a_term_less(morph: SparseEncoder) -> None:
    short, long = morph.encode_documents(["혈압 당뇨", "혈압 당뇨 투약 검사 처방 수술"])
    assert weight_of(long, "혈압") < weight_of(short, "혈압")
    assert weight_of(long, "혈압") == pytest.approx(bm25_tf(1, 6))


def test_query_terms_weigh_one(morph: SparseEncoder) -> None:
    vector = morph.encode_query("혈압 혈압 당뇨")
    assert sorted(vector.indices) == sorted({term_index("혈압"), term_index("당뇨")})
    assert vector.values == [1.0, 1.0]


@pytest.mark.parametrize("variant", ["morph", "morph_compound", "bigram", "morph_bigram"])
def test_query_and_document_share_terms(tokenizer: KoreanTokenizer, variant: SparseVariant) -> None:
    encoder = SparseEncoder(tokenizer, TextSettings(sparse_variant=variant), synonyms={})
    text = "처방전을 대리수령하려면 제11조의2제2항에 따라 신분증을 제시한다"
    (document,) = encoder.encode_documents([text])
    assert set(encoder.encode_query(text).indices) == set(document.indices)


def test_lay_terms_expand_at_the_expansion_weight(tokenizer: KoreanTokenizer) -> None:
    settings = TextSettings(sparse_variant="morph", synonyms=None)
    encoder = SparseEncoder(tokenizer, settings, synonyms={"차트": ["진료기록부"]}, expansion_weight=0.3)
    vector = encoder.encode_query("차트 보관 기간")
    weights = dict(zip(vector.indices, vector.values, strict=True))
    question_terms = encoder.terms(tokenizer.analyse("차트 보관 기간"))
    legal_terms = encoder.terms(tokenizer.analyse("진료기록부"))  # 진료+기록부, or one word with a dictionary
    assert question_terms == ["차트", "보관", "기간"]
    assert legal_terms and not set(legal_terms) & set(question_terms)
    assert weights == {term_index(t): 1.0 for t in question_terms} | {term_index(t): 0.3 for t in legal_terms}
    assert list(encoder.expansions("차트 보관 기간")) == ["진료기록부"]


def test_expansion_never_lowers_a_question_term(tokenizer: KoreanTokenizer) -> None:
    settings = TextSettings(sparse_variant="morph", synonyms=None)
    encoder = SparseEncoder(tokenizer, settings, synonyms={"차트": ["진료 기록"]})
    vector = encoder.encode_query("차트와 진료 내용")
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[term_index("진료")] == 1.0  # asked for directly, not only by expansion
    assert weights[term_index("기록")] == 0.5


def test_no_expansion_without_the_lay_term(tokenizer: KoreanTokenizer) -> None:
    settings = TextSettings(sparse_variant="morph", synonyms=None)
    encoder = SparseEncoder(tokenizer, settings, synonyms={"차트": ["진료기록부"]})
    assert list(encoder.expansions("보관 기간")) == []
    assert encoder.encode_query("보관 기간").values == [1.0, 1.0]


def test_load_synonyms_reads_tabs_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "lay_terms.tsv"
    path.write_text(
        "# lay<TAB>legal...\n"
        "\n"
        "차트\t진료기록부\t의무기록\n"
        "약 설명\t복약지도  # 약사법 제24조\n"
        "차트\t진료기록\n"
        "외톨이\n"
        "   # indented comment\n",
        encoding="utf-8",
    )
    assert load_synonyms(path) == {"차트": ["진료기록부", "의무기록", "진료기록"], "약 설명": ["복약지도"]}


def test_load_synonyms_without_a_file(tmp_path: Path) -> None:
    assert load_synonyms(None) == {}
    assert load_synonyms(tmp_path / "missing.tsv") == {}


def test_encoder_reads_the_thesaurus_from_settings(tokenizer: KoreanTokenizer, tmp_path: Path) -> None:
    path = tmp_path / "lay.tsv"
    path.write_text("대신 받아\t대리수령\n", encoding="utf-8")
    encoder = SparseEncoder(tokenizer, TextSettings(sparse_variant="morph", synonyms=path))
    assert list(encoder.expansions("처방전을 대신 받아 가려면")) == ["대리수령"]


def test_in_context_vectors_keep_paragraphs_of_one_article_apart(encoder: SparseEncoder) -> None:
    paragraphs = ["진료기록부를 작성하여야 한다.", "진료기록부를 10년간 보존하여야 한다."]
    article = "\n".join(paragraphs)
    own, in_context, _ = encoder.encode_in_context(paragraphs, [article, article])
    assert own == encoder.encode_documents(paragraphs)
    first, second = (dict(zip(v.indices, v.values, strict=True)) for v in in_context)
    assert first != second  # same article, different own words
    keep = term_index("보존")
    assert keep in first and keep in second  # the article's words reach every paragraph
    assert second[keep] > first[keep]  # but count more where the paragraph itself says them
