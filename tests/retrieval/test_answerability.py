"""No answer without evidence: the rules nothing overrides (foreign law, laws not indexed, a
dose/fee/cut-off that no clause states), on real clauses of the shipped samples and, when the
shared corpora are there, of real statutes; and the learned model's file and arithmetic."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from ingest.statutes import parse_statute
from retrieval.answer import Answerer, answer
from retrieval.answerability import FEATURES, AnswerabilityModel, fit, refusal, states, value_kinds
from retrieval.errors import ConfigurationError
from retrieval.lookup import LawNames, load_law_aliases
from retrieval.rerank import NoReranker
from retrieval.runtime import build_dense, build_encoder, build_searcher, open_for_writing
from retrieval.settings import CORPORA_DIR, Settings, load_settings

NAMES = LawNames(
    ["의료법", "약사법", "응급의료에 관한 법률"], load_law_aliases(CORPORA_DIR / "law_aliases.tsv")
)
INDEXED = {"의료법", "의료법시행규칙", "약사법", "응급의료에관한법률"}


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("미국에서는 진료기록을 몇 년 보관해야 하나요?", "미국"),
        ("일본 의사법상 면허 갱신 주기는?", "일본"),
        ("HIPAA 위반하면 벌금이 얼마예요?", "HIPAA"),
        ("IDSA 가이드라인에서는 소아 폐렴에 뭘 써요?", "IDSA"),
        ("식품위생법상 병원 급식소 위생교육은 몇 시간인가요?", "식품위생법"),
        ("근로기준법에 따르면 야간 근무 수당은?", "근로기준법"),
        ("「화장품법」 제3조에 따른 등록은?", "화장품법"),
    ],
)
def test_out_of_scope_questions_are_refused_with_the_reason(question: str, reason: str) -> None:
    assert reason in refusal(question, names=NAMES, indexed=INDEXED)


@pytest.mark.parametrize(
    "question",
    [
        "미국에서 딴 의사 면허로 국내에서 진료할 수 있나요?",  # a question about Korean law
        "외국인환자 유치 의료기관 등록은 어떻게 하나요?",
        "응급의료법상 응급실 당직의는 몇 명이어야 하나요?",  # an alias of an indexed law
        "의료법 시행규칙에 따른 진료기록 보존 기간은?",
        "일본뇌염 예방접종은 언제 하나요?",
        "아목시실린 치료법은 어떻게 되나요?",  # 치료법 is not a law
        "FDA 승인 약도 처방할 수 있나요?",
    ],
)
def test_questions_about_indexed_korean_law_are_not_refused(question: str) -> None:
    assert refusal(question, names=NAMES, indexed=INDEXED) == ""


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("아목시실린 용량은 몇 mg/kg이에요?", ["dose"]),
        ("해열제는 얼마씩 먹이나요?", ["dose"]),
        ("진료기록 사본 발급 수수료는 얼마예요?", ["fee"]),
        ("과태료는 얼마인가요?", ["fee"]),
        ("몇 도 이상이면 해열제를 주나요?", ["cutoff"]),
        ("진료기록부는 얼마나 보관하나요?", []),  # a period, not a fee
        ("처방전 대리수령 신청서는 어떻게 내요?", []),
    ],
)
def test_the_kinds_of_value_a_question_asks_for(question: str, kinds: list[str]) -> None:
    assert value_kinds(question) == kinds


def test_clauses_of_the_samples_state_values_of_their_kind() -> None:
    rules = parse_statute(CORPORA_DIR / "samples" / "한빛대학교병원_진료기록관리규정.md").clauses
    fee = next(c for c in rules if c.article == "제13조" and c.paragraph == "제1항")
    retention = next(c for c in rules if c.article == "제8조" and c.paragraph == "제1항")
    assert states(fee, ["fee"]) and not states(fee, ["dose"])
    assert not states(retention, ["fee"]) and not states(retention, ["dose"])


@pytest.mark.corpus
def test_real_statutes_state_fees_and_not_doses(shared: Path) -> None:
    law = parse_statute(shared / "corpora" / "statutes" / "의료법" / "법률.md").clauses
    fines = next(c for c in law if c.article == "제92조" and c.paragraph == "제1항")  # 과태료
    records = next(c for c in law if c.article == "제22조" and c.paragraph == "제1항")
    assert states(fines, ["fee"]) and not states(records, ["fee"]) and not states(records, ["dose"])


# --- the rules in the answer pipeline, on the shipped samples --------------------------------


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("answerability") / "data")
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    report = ingest_paths(
        [CORPORA_DIR / "samples"], index=index, embedder=embedder, encoder=build_encoder(settings)
    )
    index.close()
    assert not report.failed
    yield settings


@pytest.fixture(scope="module")
def rules_only(samples: Settings) -> Iterator[Answerer]:
    """Rules only: no answerability model, so that what abstains here is a rule."""
    searcher = build_searcher(samples, reranker=NoReranker())
    yield Answerer(searcher, samples.answer, None, None)
    searcher.index.close()


def test_a_fee_is_answered_from_the_clause_that_states_it(rules_only: Answerer) -> None:
    result = answer(rules_only, "진료기록 사본 발급 수수료는 얼마예요?")
    assert not result.abstained, result.reason
    assert all("원" in c.quote or "수수료" in c.quote for c in result.citations)
    assert all(c.article == "제13조" for c in result.citations)


def test_a_dose_no_retrieved_clause_states_is_refused(rules_only: Answerer) -> None:
    result = answer(rules_only, "손소독제는 한 번에 몇 mL씩 써야 하나요?")
    assert result.abstained and result.abstain_stage == "value"
    assert "dose" in result.reason and result.references  # 참고 still shows the nearest clauses


def test_a_dose_the_guideline_states_is_answered_from_it(rules_only: Answerer) -> None:
    result = answer(rules_only, "열나는 아이한테 아세트아미노펜 용량은 몇 mg/kg인가요?")
    assert not result.abstained, result.reason
    assert result.citations and all(c.doc_type == "guideline" for c in result.citations)
    assert "mg" in " ".join(c.quote for c in result.citations) or "mg" in result.answer


def test_a_foreign_jurisdiction_is_refused_with_the_reason(rules_only: Answerer) -> None:
    result = answer(rules_only, "미국에서는 진료기록부를 몇 년 보관해야 하나요?")
    assert result.abstained and result.abstain_stage == "rule" and "미국" in result.reason
    assert result.references and not result.citations


def test_a_missing_clause_is_an_abstention_that_says_so(rules_only: Answerer) -> None:
    result = answer(rules_only, "한빛대학교병원 진료기록관리규정 제99조에 따르면?")
    assert result.abstained and "제99조가 없습니다" in result.reason


# --- the learned model ------------------------------------------------------------------------


def test_the_model_is_a_calibrated_logistic_regression_that_round_trips(tmp_path: Path) -> None:
    rows = [{"dense_top": 0.9 + i / 100, "cover_top3": 0.8} for i in range(10)]
    rows += [{"dense_top": 0.8 + i / 100, "cover_top3": 0.2} for i in range(10)]
    model = fit(rows, [1] * 10 + [0] * 10, threshold=0.4, features=("dense_top", "cover_top3"))
    path = tmp_path / "answerability.json"
    model.save(path)
    loaded = AnswerabilityModel.load(path)
    assert loaded.threshold == 0.4 and loaded.features == ("dense_top", "cover_top3")
    high, low = loaded.probability(rows[0]), loaded.probability(rows[-1])
    assert high > 0.5 > low
    assert loaded.probability({"dense_top": math.nan}) == pytest.approx(loaded.probability({}))


def test_an_answerability_file_that_does_not_match_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no answerability model"):
        AnswerabilityModel.load(tmp_path / "missing.json")
    path = tmp_path / "bad.json"
    path.write_text('{"format": "kmed-answerability", "features": ["from_the_future"]}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="from_the_future"):
        AnswerabilityModel.load(path)


def test_the_shipped_model_reads_only_features_this_version_computes() -> None:
    model = AnswerabilityModel.load(CORPORA_DIR / "models" / "answerability.json")
    assert set(model.features) <= set(FEATURES) and 0 < model.threshold < 1
