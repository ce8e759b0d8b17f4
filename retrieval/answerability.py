"""Can the sources answer this question? Rules that nothing overrides, then a learned decision.

Rules, checked first (`refusal`, `value_kinds`):
1. a question about a foreign jurisdiction (미국에서는, 일본 의사법, FDA 기준, HIPAA) is refused,
   with that reason: Korean statutes and guidelines cannot answer it;
2. a question that names a law the index does not hold (식품위생법상, 「근로기준법」) is refused;
3. a question that asks for a dose, a fee or a cut-off value is answered only from clauses that
   state a value of that kind (`states`): the answer pipeline keeps only those in the context,
   and refuses when none is left. A dose from a clause about something else is the worst answer.

Then `AnswerabilityModel`: a logistic regression over features of the question and the reranked
candidates (dense and BM25 scores of the best ones and their margins, how much of the question
the top clauses cover, whether an asked-for quantity is stated, whether the retrievers agree).
It is trained on a QA set's answerable and unanswerable questions (`kmed rerank train`), so its
output is a probability; below `threshold` the service abstains. The threshold shipped with the
model is chosen on the training folds (cross-validated), and `KMED_ANSWER__MIN_ANSWERABLE`
overrides it; `kmed eval --answers` prints the trade-off curve. The features use only the leg
scores, not a reranker's own score, so the model serves whichever reranker ordered the hits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrieval.errors import ConfigurationError
from retrieval.index.schema import DENSE, SPARSE, SPARSE_MORPH
from retrieval.lookup import LawNames
from retrieval.modelfile import read_model, write_model
from retrieval.models import Clause, Hit
from retrieval.text import KoreanTokenizer

ValueKind = Literal["dose", "fee", "cutoff"]
FORMAT = "kmed-answerability"

# a country as the jurisdiction ("미국에서는", "일본 의사법", "독일 기준"), not as a place something
# comes from ("미국에서 딴 면허로 국내에서…" is a question about Korean law)
_FOREIGN_PLACE = (
    r"미국|일본|중국|독일|영국|프랑스|캐나다|호주|뉴질랜드|싱가포르|대만|홍콩|베트남|태국|러시아"
    r"|이탈리아|스페인|네덜란드|스웨덴|스위스|유럽|EU|해외\s*(?:국가|나라)|다른\s*나라|외국"
)
_PARTICLE_AFTER = r"(?=$|[^가-힣]|상|에|의|은|는|이|가|을|를|으로|로|에서|도|만)"
_FOREIGN = re.compile(
    rf"(?P<place>{_FOREIGN_PLACE})(?!인)\s*(?:쪽\s*)?"
    r"(?:에서는|에선|은|는|의\s*(?:법|규정|기준|제도|가이드라인|지침|[가-힣]{1,8}법)"
    rf"|\s*(?:연방|주)?\s*(?:법|법령|법률|규정|기준|제도|가이드라인|지침){_PARTICLE_AFTER}"
    rf"|\s*[가-힣]{{1,8}}법{_PARTICLE_AFTER}"
    r"|\s*(?:병원|의료기관|보험|건강보험|의사|약사|간호사|정부|당국|연수의|수련의)들?\s*(?:은|는|에서는|의|에선))"
    r"|(?<![A-Za-z])(?P<law>HIPAA|GDPR|EMTALA)(?![A-Za-z])"
    r"|(?<![A-Za-z])(?P<body>FDA|EMA|PMDA|NICE|CDC|IDSA|ATS|AAP|ASCIA|DEA|CMS|NHS)(?![A-Za-z])\s*"
    r"(?:의\s*)?(?:기준|규정|가이드라인|지침|권고|법|에서는|에선|에\s*따르면|상)"
    r"|(?P<program>메디케어|메디케이드|오바마케어)"
)
# "2023년 개정 지침", "2022년 개정판": an edition the index may not hold
_EDITION = re.compile(r"((?:19|20)\d{2})\s*년?\s*(?:에\s*)?(?:개정|개정판|판|버전|최신판|업데이트)")
_NOT_A_LAW = re.compile(
    r"(방|요|용|기|수|어|문|비|편|적|위|불|합|해|치료|사용|처방|진단|검사|측정|계산|산정|투여|요양|호흡|식이)법$"
)
_NAMED_LAW = re.compile(
    r"「([^」]{2,40})」"
    r"|([가-힣]{2,30}법)(?:상|에서|에\s*따르면|에\s*따라|의\s*규정|\s*제\d+조|\s*기준|\s*보면|\s*위반)"
)
_ASKS: dict[ValueKind, re.Pattern[str]] = {
    "dose": re.compile(
        r"용량|투여량|몇\s*(?:mg|밀리|mL|ml|cc|알|정|캡슐|단위)|mg\s*/\s*kg|하루\s*몇\s*(?:번|회)"
        r"|얼마나\s*(?:투여|먹|줘|주|써|맞)|얼마씩"
    ),
    "fee": re.compile(
        r"수가|비용|금액|가격|요금|수수료|본인\s*부담\s*(?:금|액|률)|몇\s*원|만\s*원|보상금|지원금"
        r"|얼마(?:를|나|까지|씩)?\s*(?:내|받|들|줘|지급|청구|부과|나와|나오|드|물|줘야)"
        r"|(?:과태료|벌금|과징금|요양비)\s*(?:는|은|가|이)?\s*얼마"
    ),
    "cutoff": re.compile(
        r"기준치|수치|몇\s*(?:이상|이하|미만|초과)|컷\s*오프|cut-?off|몇\s*도|몇\s*점|몇\s*%|몇\s*퍼센트"
        r"|(?:이상|이하|미만|초과)이?면|정상\s*범위"
    ),
}
_STATES: dict[ValueKind, re.Pattern[str]] = {
    "dose": re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|μg|㎎|g|mL|ml|IU|단위|정|캡슐)\b|mg\s*/\s*kg"),
    "fee": re.compile(r"\d[\d,]*\s*(?:만|천|억)?\s*원|분의\s*\d+|\d+(?:\.\d+)?\s*(?:퍼센트|%)"),
    "cutoff": re.compile(
        r"\d+(?:\.\d+)?\s*(?:℃|°C|도|%|퍼센트|mmHg|점|회|mg/dL|kg|g|세|개월|시간|일)"
        r"|\d+\s*(?:이상|이하|미만|초과)|[<>≤≥]\s*\d"
    ),
}
_HANGUL_WORD = re.compile(r"[가-힣A-Za-z0-9]+")
_LATIN_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z][A-Za-z-]{2,}(?![A-Za-z])")
_NOT_DRUGS = {
    "mg",
    "mcg",
    "kg",
    "ml",
    "iu",
    "pcr",
    "ct",
    "mri",
    "icu",
    "nicu",
    "er",
    "dur",
    "emr",
    "ocs",
    "sat",
    "spo",
    "cap",
    "uri",
    "rsv",
    "covid",
    "mrsa",
    "mic",
    "iv",
    "im",
    "po",
    "prn",
    "bid",
    "tid",
    "qid",
    "dose",
    "day",
    "hr",
    "min",
    "per",
    "and",
    "the",
    "max",
    "ige",
    "hib",
    "pcv",
}
# the hospital's own rules: "우리 병원 … 정해져 있어요?", "원내 규정", "내규"
_INTERNAL = re.compile(
    r"(?:우리|저희)\s*(?:병원|의원|기관|약제부|병동|과)\S*\s*.*(?:정해져|규정|내규|방침|정책|마감|당직표|기준이)"
    r"|내규|원내\s*규정|자체\s*(?:규정|지침)|병원\s*방침"
)
_NUMBER_UNIT = re.compile(r"\d+(?:\.\d+)?\s*(?:년|개월|월|주|일|시간|분|명|원|회|%|mg|kg|세|병상|mcg|mL)")
_ASKS_QUANTITY = re.compile(r"몇|얼마|며칠|언제까지|기간|기한")
_QUANTITY = re.compile(r"\d+\s*(?:년|개월|월|일|시간|분|명|원|회|%|mg|세)")


def value_kinds(question: str) -> list[ValueKind]:
    """The kinds of value a question asks for (a dose, a fee, a cut-off), clinically the riskiest."""
    return [kind for kind, pattern in _ASKS.items() if pattern.search(question)]


def drug_names(question: str) -> set[str]:
    """Drug or product names written in Latin letters ('Jext', 'palivizumab'), lower-cased."""
    return {w.lower() for w in _LATIN_WORD.findall(question) if w.lower() not in _NOT_DRUGS}


def states(clause: Clause, kinds: Sequence[ValueKind], question: str = "") -> bool:
    """Does the clause state a value of one of these kinds? For a dose of a drug the question
    names in Latin letters, the clause must also name that drug: a dose of another drug is no
    answer."""
    if not any(_STATES[kind].search(clause.text) for kind in kinds):
        return False
    drugs = drug_names(question) if "dose" in kinds else set()
    return not drugs or any(d in clause.text.lower() for d in drugs)


def refusal(question: str, *, names: LawNames, indexed: set[str], editions: set[str] | None = None) -> str:
    """Why the question is out of scope whatever the retrieval says, or ''.

    `indexed` holds the bare titles (no spaces) of the Acts and rules the index holds;
    `editions` the years of the guideline editions it holds (a question about another edition
    is refused: an answer from the 2017 edition to a question about the 2023 one misleads).
    """
    edition = _EDITION.search(question)
    if edition and editions is not None and edition.group(1) not in editions:
        held = ", ".join(sorted(editions)) or "none"
        return f"the question is about the {edition.group(1)} edition; the guideline editions indexed: {held}"
    foreign = _FOREIGN.search(question)
    if foreign:
        what = next(g for g in foreign.group("place", "law", "body", "program") if g)
        return (
            f"the question is about {what}, a foreign jurisdiction; the sources are Korean law and guidelines"
        )
    for mention in names.mentions(question):
        if mention.title.replace(" ", "") not in indexed:
            return f"the question is about {mention.title}, which is not in the index"
    for bracketed, plain in _NAMED_LAW.findall(question):
        name = (bracketed or plain).replace(" ", "")
        if not bracketed and _NOT_A_LAW.search(name):
            continue
        title = names.title(name)
        known = title.replace(" ", "") in indexed if title else any(name in t for t in indexed)
        if not known:
            return f"the question is about {bracketed or plain}, which is not in the index"
    return ""


def _bigrams(text: str) -> set[str]:
    words = _HANGUL_WORD.findall(text.lower())
    return {w[i : i + 2] for w in words for i in range(max(len(w) - 1, 1))}


def _share(wanted: set[str], found: set[str]) -> float:
    return len(wanted & found) / len(wanted) if wanted else 0.0


FEATURES = (
    "dense_top",
    "dense_best5",
    "dense_margin",
    "dense_spread",
    "sparse_top",
    "sparse_best5",
    "sparse_per_term",
    "morph_best5",
    "morph_per_term",
    "cover_top1",
    "cover_top3",
    "cover_morph_top3",
    "asks_quantity",
    "quantity_stated",
    "asks_value",
    "value_stated",
    "agree",
    "top_dense_rank",
    "top_sparse_rank",
    "top_fused_rank",
    "named_clause",
    "top_guideline",
    "question_terms",
    "internal_cue",
    "uncovered_nouns",
    "numbers_missing",
)


def answer_features(question: str, hits: Sequence[Hit], tokenizer: KoreanTokenizer) -> dict[str, float]:
    """The question-level features of `AnswerabilityModel`, from the reranked candidates."""
    legs = [h.signals.legs if h.signals else {} for h in hits]

    def leg(i: int, name: str) -> float:
        return legs[i].get(name, math.nan) if i < len(legs) else math.nan

    def best(name: str, top: int) -> float:
        values = [leg(i, name) for i in range(min(top, len(hits)))]
        values = [v for v in values if not math.isnan(v)]
        return max(values) if values else math.nan

    def rank_of_top(name: str) -> float:
        if not hits or name not in legs[0]:
            return float(len(hits) + 1)
        return float(1 + sum(1 for x in legs if x.get(name, -math.inf) > legs[0][name]))

    dense_all = [x[DENSE] for x in legs if DENSE in x]
    analysis = tokenizer.analyse(question)
    q_bigrams = _bigrams(question)
    wanted = set(analysis.morphemes)
    nouns = {r for r in analysis.runs if len(r) >= 2}
    top3 = [h.clause for h in hits[:3]]
    morphs: set[str] = set()
    runs: set[str] = set()
    for found in tokenizer.analyse_many([c.text for c in top3]):
        morphs |= set(found.morphemes)
        runs |= set(found.runs) | set(found.morphemes)
    top_text = " ".join(c.text for c in top3).replace(" ", "")
    asked_numbers = {m.replace(" ", "") for m in _NUMBER_UNIT.findall(question)}
    kinds = value_kinds(question)
    asks_quantity = bool(_ASKS_QUANTITY.search(question))
    terms = max(len(q_bigrams), 1)
    dense_best5 = best(DENSE, 5)
    top_dense = rank_of_top(DENSE)
    top_sparse = rank_of_top(SPARSE)
    sig = hits[0].signals if hits else None
    return {
        "dense_top": leg(0, DENSE),
        "dense_best5": dense_best5,
        "dense_margin": (dense_best5 - sorted(dense_all)[-2]) if len(dense_all) > 1 else math.nan,
        "dense_spread": (dense_best5 - float(np.median(dense_all))) if dense_all else math.nan,
        "sparse_top": leg(0, SPARSE),
        "sparse_best5": best(SPARSE, 5),
        "sparse_per_term": best(SPARSE, 5) / terms,
        "morph_best5": best(SPARSE_MORPH, 5),
        "morph_per_term": best(SPARSE_MORPH, 5) / max(len(wanted), 1),
        "cover_top1": _share(q_bigrams, _bigrams(top3[0].text)) if top3 else 0.0,
        "cover_top3": _share(q_bigrams, set().union(*(_bigrams(c.text) for c in top3))) if top3 else 0.0,
        "cover_morph_top3": _share(wanted, morphs),
        "asks_quantity": float(asks_quantity),
        "quantity_stated": float(any(_QUANTITY.search(c.text) for c in top3)) if asks_quantity else 1.0,
        "asks_value": float(bool(kinds)),
        "value_stated": float(any(states(c, kinds, question) for c in top3)) if kinds else 1.0,
        "agree": float(top_dense <= 3 and top_sparse <= 3),
        "top_dense_rank": min(top_dense, 41.0),
        "top_sparse_rank": min(top_sparse, 41.0),
        "top_fused_rank": float(sig.fused_rank) if sig else 41.0,
        "named_clause": float(bool(sig and sig.named >= 1.0)),
        "top_guideline": float(bool(top3) and top3[0].doc_type == "guideline"),
        "question_terms": float(len(q_bigrams)),
        "internal_cue": float(bool(_INTERNAL.search(question))),
        "uncovered_nouns": float(len(nouns - runs)),
        "numbers_missing": float(sum(1 for n in asked_numbers if n not in top_text)),
    }


@dataclass
class AnswerabilityModel:
    """Standardised logistic regression: P(answerable) = σ(w · (x − mean) / scale + b)."""

    features: tuple[str, ...]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    trained: dict[str, Any] = field(default_factory=dict)

    def probability(self, values: Mapping[str, float]) -> float:
        x = np.array([values.get(f, math.nan) for f in self.features], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale)
        z = np.where(np.isnan(z), 0.0, z)  # a missing score counts as average
        return float(1.0 / (1.0 + math.exp(-(float(z @ np.array(self.coef)) + self.intercept))))

    def save(self, path: Path) -> None:
        write_model(path, {"format": FORMAT, **self.__dict__, "features": list(self.features)})

    @classmethod
    def load(cls, path: Path) -> AnswerabilityModel:
        body = read_model(
            path,
            format=FORMAT,
            what="answerability model",
            missing="set KMED_ANSWER__ANSWERABILITY_MODEL or train one with `kmed rerank train QA.jsonl`",
        )
        unknown = [f for f in body.get("features", []) if f not in FEATURES]
        if unknown or not body.get("features"):
            raise ConfigurationError(
                f"{path} expects features this version does not compute ({', '.join(unknown)}); retrain it"
            )
        fields = ("mean", "scale", "coef")
        if any(len(body.get(f, [])) != len(body["features"]) for f in fields):
            raise ConfigurationError(f"{path}: its weights do not match its feature list")
        return cls(
            features=tuple(body["features"]),
            mean=[float(v) for v in body["mean"]],
            scale=[float(v) for v in body["scale"]],
            coef=[float(v) for v in body["coef"]],
            intercept=float(body["intercept"]),
            threshold=float(body["threshold"]),
            trained=dict(body.get("trained") or {}),
        )


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    *,
    threshold: float,
    c: float = 1.0,
    features: Sequence[str] = FEATURES,
    trained: dict[str, Any] | None = None,
) -> AnswerabilityModel:
    """Logistic regression (scikit-learn) on standardised features; NaN counts as the mean."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r.get(f, math.nan) for f in features] for r in rows], dtype=np.float64)
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    scale = np.nanstd(x, axis=0)
    scale = np.where((scale == 0) | np.isnan(scale), 1.0, scale)
    z = np.where(np.isnan(x), 0.0, (x - mean) / scale)
    model = LogisticRegression(C=c, max_iter=2000).fit(z, np.asarray(labels))
    return AnswerabilityModel(
        features=tuple(features),
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=model.coef_[0].tolist(),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        trained=trained or {},
    )
