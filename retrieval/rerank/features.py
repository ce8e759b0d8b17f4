"""Features of a question and each first-stage candidate, for the learned reranker.

One function computes them for training and for serving, so the two cannot drift; the model
file lists the names it was trained on and the searcher refuses a file whose list differs
(`FEATURES`, `FEATURE_SET`). No Kiwi call happens here: Kiwi's morphemes reach the reranker as
the `sparse_morph` BM25 leg that Qdrant scores, and the text features use character bigrams,
so reranking 40 candidates costs a few milliseconds.

The groups (ablated in docs/rerank.md):
- fusion: fused score and rank;
- legs: each leg's exact score, its distance to the best candidate's, its rank among candidates
  (dense and bigram BM25, on the unit and on its article);
- morph: the same for BM25 over Kiwi morphemes;
- overlap: the question's bigrams in the article title, the header, the text;
- level: the candidate's level against the question's cues (절차, 서식, 제출, 기간 → 시행규칙;
  기준, 요건 → 시행령; 벌칙, 과태료; 정의);
- quantity: the question asks 몇 년 / 며칠 / 얼마 / 몇 명 / 몇 시간 and the clause states one;
- kind: definition, purpose, penalty, delegating (…령으로 정한다) articles; guideline chunk kind;
- modality: "해도 되나요" against clauses that permit or forbid, "해야 하나요" against duties;
- position: the 항's number, items, siblings of the same article among the candidates, and each
  leg's ranking of the 항 among its siblings;
- votes: how many of the top 10 come from the candidate's Act, level and article;
- links: the rule that implements a delegating candidate, references between candidates;
- named: the question names this clause, its article, its law, its level.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.index.schema import DENSE, DENSE_ARTICLE, SPARSE, SPARSE_ARTICLE, SPARSE_MORPH
from retrieval.models import Clause, Hit, article_key

FEATURE_SET = "kmed-rerank-features-1"
LEGS = (DENSE, DENSE_ARTICLE, SPARSE, SPARSE_ARTICLE)
MISSING = math.nan

_WORD = re.compile(r"[가-힣A-Za-z0-9]+")
_CUES = {
    "procedure": re.compile(
        r"절차|서식|양식|신청|제출|서류|방법|신고|등록|발급|접수|기간|기한|언제까지|며칠|이내|보고|통보|어떻게\s*해"
    ),
    "criteria": re.compile(r"기준|요건|범위|자격|대상|조건|인원|시설|장비|면적|해당하는|어떤\s*경우"),
    "penalty": re.compile(r"벌칙|과태료|처벌|벌금|징역|처분|정지|취소|제재|위반|걸리면|불이익|과징금"),
    "definition": re.compile(
        r"정의|뜻|의미|이란|란\s*무엇|무엇(?:인가|이에요|이야)|뭐(?:야|예요|에요)|말하나요"
    ),
    "clinical": re.compile(
        r"투여|용량|mg|치료|진단|증상|환아|소아|영아|신생아|항생제|검사|발열|기침|폐렴|알레르기|아나필락시스"
        r"|에피네프린|코로나|확진|격리|PCR|입원|퇴원|처방"
    ),
}
# what a question asks to be counted, and the clause text that states it
_ASKS = {
    "years": (re.compile(r"몇\s*년|몇년|년\s*동안|연\s*몇|보존\s*기간|보관\s*기간"), re.compile(r"\d+\s*년")),
    "months": (re.compile(r"몇\s*개월|몇\s*달"), re.compile(r"\d+\s*(?:개월|월)")),
    "days": (re.compile(r"며칠|몇\s*일|몇일|일\s*이내|언제까지|기한"), re.compile(r"\d+\s*일")),
    "hours": (re.compile(r"몇\s*시간|시간\s*이내|즉시"), re.compile(r"\d+\s*시간|지체\s*없이|즉시")),
    "persons": (re.compile(r"몇\s*명|인원|명\s*이상"), re.compile(r"\d+\s*명|\d+\s*인")),
    "money": (
        re.compile(r"얼마|금액|비용|수수료|과태료|벌금|원\s*이하|만\s*원"),
        re.compile(r"\d[\d,]*\s*(?:만\s*)?원|분의\s*\d+"),
    ),
    "times": (re.compile(r"몇\s*번|몇\s*회|횟수"), re.compile(r"\d+\s*회|\d+\s*번")),
    "dose": (
        re.compile(r"용량|몇\s*mg|mg|투여량|얼마나\s*(?:투여|줘|먹)"),
        re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|μg|g|mL|IU)"),
    ),
}
_ANY_QUANTITY = re.compile(r"몇|얼마|며칠|언제까지|기간|기한")
# "해도 되나요?" asks what is allowed or forbidden; "해야 하나요?" what is required
_ASKS_PERMISSION = re.compile(
    r"(?:해도|어도|아도|면)\s*(?:되|돼)|할\s*수\s*있|가능한가|가능해|금지|안\s*되|못\s*하"
)
_ASKS_DUTY = re.compile(r"해야\s*(?:하|돼|되)|야\s*(?:하나|합니까|해요|돼)|의무|꼭|반드시|필수")
_STATES_PERMISSION = re.compile(r"할\s*수\s*있다|아니\s*된다|못한다|금지|없다\.")
_STATES_DUTY = re.compile(r"하여야\s*한다|해야\s*한다|여야\s*한다|의무")
_HAS_NUMBER = re.compile(r"\d")
_DELEGATES = re.compile(
    r"(?:대통령령|총리령|부령|보건복지부령|시행규칙)(?:으로|에서)\s*정(?:한다|하는|하여|할)"
)
_TITLE_KIND = {
    "definition": re.compile(r"정의"),
    "purpose": re.compile(r"목적"),
    "penalty": re.compile(r"벌칙|과태료|양벌|벌금|과징금|행정처분"),
}
_RULE_LEVELS = ("시행규칙", "보건복지부령", "총리령", "부령")
_DECREE_LEVELS = ("시행령", "대통령령")
_PARA_NUMBER = re.compile(r"\d+")


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if len(word) == 1:
            grams.add(word)
        grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return grams


def _share(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(whole) if whole else 0.0


def _found_in(grams: set[str], lowered: str) -> float:
    """Share of the bigrams that occur in the lower-cased text (substring tests, no bigram set)."""
    return sum(1 for g in grams if g in lowered) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class QuestionFacts:
    """What the features need from the question, computed once per question."""

    bigrams: set[str]
    cues: dict[str, bool]
    asks: dict[str, bool]
    asks_quantity: bool
    asks_permission: bool
    asks_duty: bool
    chars: int

    @classmethod
    def of(cls, question: str) -> QuestionFacts:
        return cls(
            bigrams=_bigrams(question),
            cues={name: bool(p.search(question)) for name, p in _CUES.items()},
            asks={name: bool(q.search(question)) for name, (q, _) in _ASKS.items()},
            asks_quantity=bool(_ANY_QUANTITY.search(question)),
            asks_permission=bool(_ASKS_PERMISSION.search(question)),
            asks_duty=bool(_ASKS_DUTY.search(question)),
            chars=len(question),
        )


def _level_flags(clause: Clause) -> dict[str, float]:
    rule = clause.level in _RULE_LEVELS
    decree = clause.level in _DECREE_LEVELS
    guideline = clause.doc_type == "guideline"
    law = clause.level == "법률"
    return {
        "is_law": float(law),
        "is_decree": float(decree),
        "is_rule": float(rule),
        "is_guideline": float(guideline),
        "is_other_level": float(not (law or decree or rule or guideline)),
    }


def _paragraph_number(clause: Clause) -> float:
    found = _PARA_NUMBER.search(clause.paragraph or "")
    return float(found.group()) if found else 0.0


@dataclass(frozen=True)
class ClauseFacts:
    """What the features need from a clause alone, whatever the question: computed once per
    clause version and kept by the reranker (`FactsCache`)."""

    key: str  # its article (`article_key`)
    levels: dict[str, float]
    title_kinds: dict[str, bool]
    title_bigrams: set[str]
    title: str  # lower-cased, for substring tests
    header: str
    text: str
    delegates: bool
    has_number: bool
    states: dict[str, bool]  # per kind of quantity a question may ask for
    permission: bool
    duty: bool
    paragraph: float
    items: float
    chars: float

    @classmethod
    def of(cls, c: Clause) -> ClauseFacts:
        return cls(
            key=article_key(c),
            levels=_level_flags(c),
            title_kinds={name: bool(p.search(c.article_title)) for name, p in _TITLE_KIND.items()},
            title_bigrams=_bigrams(c.article_title),
            title=c.article_title.lower(),
            header=f"{c.law} {c.article_title} {' '.join(c.headings[-1:])}".lower(),
            text=c.text.lower(),
            delegates=bool(_DELEGATES.search(c.text)),
            has_number=bool(_HAS_NUMBER.search(c.text)),
            states={name: bool(stated.search(c.text)) for name, (_, stated) in _ASKS.items()},
            permission=bool(_STATES_PERMISSION.search(c.text)),
            duty=bool(_STATES_DUTY.search(c.text)),
            paragraph=_paragraph_number(c),
            items=float(len(c.items)),
            chars=float(len(c.text)),
        )


class FactsCache:
    """Clause facts by clause version, bounded: a service sees the same clauses again and again."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._facts: dict[tuple[str, str], ClauseFacts] = {}

    def get(self, clause: Clause) -> ClauseFacts:
        key = (clause.clause_id, clause.version_key)
        found = self._facts.get(key)
        if found is None:
            if len(self._facts) >= self.size:
                self._facts.clear()
            found = self._facts[key] = ClauseFacts.of(clause)
        return found


def candidate_features(
    question: str, hits: Sequence[Hit], cache: FactsCache | None = None
) -> list[dict[str, float]]:
    """One feature dict per candidate, in the order given (the first-stage order)."""
    facts = QuestionFacts.of(question)
    known = [(cache.get(h.clause) if cache else ClauseFacts.of(h.clause)) for h in hits]
    n = len(hits)
    legs = [(h.signals.legs if h.signals else {}) for h in hits]
    leg_names = (*LEGS, SPARSE_MORPH)
    best = {name: max((x[name] for x in legs if name in x), default=MISSING) for name in leg_names}
    ranks: dict[str, dict[int, int]] = {}
    for name in leg_names:
        scored = sorted((i for i in range(n) if name in legs[i]), key=lambda i: -legs[i][name])
        ranks[name] = {i: r for r, i in enumerate(scored, start=1)}
    top_fused = max((h.signals.fused for h in hits if h.signals), default=0.0) or 1.0
    ids = {h.clause.clause_id: i for i, h in enumerate(hits)}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(known):
        groups[f.key].append(i)
    top = hits[:10]
    top_acts = [h.clause.act for h in top]
    top_levels = [h.clause.level for h in top]
    top_articles = [f.key for f in known[:10]]
    in_article: dict[str, dict[int, int]] = {}  # leg -> candidate -> rank among its siblings
    for name in leg_names:
        in_article[name] = {}
        for members in groups.values():
            scored = sorted((i for i in members if name in legs[i]), key=lambda i: -legs[i][name])
            in_article[name].update({i: r for r, i in enumerate(scored, start=1)})
    cited_by: dict[int, int] = defaultdict(int)
    implements: dict[int, float] = defaultdict(float)
    for i, h in enumerate(hits):
        for ref in h.clause.references:
            j = ids.get(ref.target_id or "")
            if j is None or j == i:
                continue
            cited_by[j] += 1
            if known[j].delegates:  # i is the rule that carries out candidate j's delegation
                implements[i] = max(implements[i], 1.0 / (j + 1))
    asked = [name for name, on in facts.asks.items() if on]
    row_states = [any(f.states[a] for a in asked) for f in known]
    cues = {name: float(on) for name, on in facts.cues.items()}
    rows = []
    for i, hit in enumerate(hits):
        c, sig, f = hit.clause, hit.signals, known[i]
        row: dict[str, float] = {
            "fused": (sig.fused / top_fused) if sig else 0.0,
            "fused_rank": float(sig.fused_rank if sig else i + 1),
            "fused_rank_inv": 1.0 / (sig.fused_rank if sig else i + 1),
        }
        for name in leg_names:
            value = legs[i].get(name)
            row[f"{name}_score"] = value if value is not None else MISSING
            row[f"{name}_gap"] = (value - best[name]) if value is not None else MISSING
            row[f"{name}_rank"] = float(ranks[name].get(i, n + 1))
        row["title_in_question"] = _share(facts.bigrams, f.title_bigrams)
        row["question_in_title"] = _found_in(facts.bigrams, f.title)
        row["question_in_header"] = _found_in(facts.bigrams, f.header)
        row["question_in_text"] = _found_in(facts.bigrams, f.text)
        row.update(f.levels)
        row["cue_procedure"] = cues["procedure"]
        row["cue_criteria"] = cues["criteria"]
        row["cue_penalty"] = cues["penalty"]
        row["cue_definition"] = cues["definition"]
        row["cue_clinical"] = cues["clinical"]
        row["procedure_x_rule"] = cues["procedure"] * f.levels["is_rule"]
        row["procedure_x_law"] = cues["procedure"] * f.levels["is_law"]
        row["criteria_x_decree"] = cues["criteria"] * f.levels["is_decree"]
        row["clinical_x_guideline"] = cues["clinical"] * f.levels["is_guideline"]
        row["is_definition"] = float(f.title_kinds["definition"])
        row["is_purpose"] = float(f.title_kinds["purpose"])
        row["is_penalty"] = float(f.title_kinds["penalty"])
        row["penalty_match"] = cues["penalty"] * row["is_penalty"]
        row["definition_match"] = cues["definition"] * row["is_definition"]
        row["delegates"] = float(f.delegates)
        row["is_recommendation"] = float(c.kind == "recommendation")
        row["is_table"] = float(c.kind in ("table", "figure"))
        row["asks_quantity"] = float(facts.asks_quantity)
        row["quantity_match"] = float(row_states[i]) if asked else MISSING
        row["quantity_miss"] = float(bool(asked) and not row_states[i])
        row["has_number"] = float(f.has_number)
        row["asks_x_number"] = row["asks_quantity"] * row["has_number"]
        row["paragraph"] = f.paragraph
        row["items"] = f.items
        row["text_chars"] = f.chars
        siblings = groups[f.key]
        row["dense_rank_in_article"] = float(in_article[DENSE].get(i, len(siblings) + 1))
        row["sparse_rank_in_article"] = float(in_article[SPARSE].get(i, len(siblings) + 1))
        row["morph_rank_in_article"] = float(in_article[SPARSE_MORPH].get(i, len(siblings) + 1))
        row["act_share_top10"] = top_acts.count(c.act) / len(top)
        row["level_share_top10"] = top_levels.count(c.level) / len(top)
        row["article_share_top10"] = top_articles.count(f.key) / len(top)
        sibling_states = [j for j in siblings if j != i and row_states[j]]
        row["quantity_unique"] = float(bool(asked) and row_states[i] and not sibling_states)
        row["asks_permission"] = float(facts.asks_permission)
        row["asks_duty"] = float(facts.asks_duty)
        row["permission_match"] = float(facts.asks_permission and f.permission)
        row["duty_match"] = float(facts.asks_duty and f.duty)
        row["siblings"] = float(len(siblings) - 1)
        row["article_best_rank"] = float(min(siblings) + 1)
        row["is_article_best"] = float(min(siblings) == i)
        row["implements"] = implements.get(i, 0.0)
        row["cited_by_candidates"] = float(cited_by.get(i, 0))
        row["cites"] = float(len(c.references))
        row["named"] = sig.named if sig else 0.0
        row["named_law"] = float(sig.named_law) if sig else 0.0
        row["named_level"] = float(sig.named_level) if sig else 0.0
        row["question_chars"] = float(facts.chars)
        row["candidates"] = float(n)
        rows.append(row)
    return rows


GROUPS: dict[str, tuple[str, ...]] = {
    "fusion": ("fused", "fused_rank", "fused_rank_inv"),
    "legs": tuple(f"{leg}_{part}" for leg in LEGS for part in ("score", "gap", "rank")),
    "morph": tuple(f"{SPARSE_MORPH}_{part}" for part in ("score", "gap", "rank")),
    "overlap": ("title_in_question", "question_in_title", "question_in_header", "question_in_text"),
    "level": (
        "is_law",
        "is_decree",
        "is_rule",
        "is_guideline",
        "is_other_level",
        "cue_procedure",
        "cue_criteria",
        "cue_penalty",
        "cue_definition",
        "cue_clinical",
        "procedure_x_rule",
        "procedure_x_law",
        "criteria_x_decree",
        "clinical_x_guideline",
    ),
    "quantity": (
        "asks_quantity",
        "quantity_match",
        "quantity_miss",
        "quantity_unique",
        "has_number",
        "asks_x_number",
    ),
    "modality": ("asks_permission", "asks_duty", "permission_match", "duty_match"),
    "kind": (
        "is_definition",
        "is_purpose",
        "is_penalty",
        "penalty_match",
        "definition_match",
        "delegates",
        "is_recommendation",
        "is_table",
    ),
    "position": (
        "paragraph",
        "items",
        "text_chars",
        "siblings",
        "article_best_rank",
        "is_article_best",
        "dense_rank_in_article",
        "sparse_rank_in_article",
        "morph_rank_in_article",
    ),
    "votes": ("act_share_top10", "level_share_top10", "article_share_top10"),
    "links": ("implements", "cited_by_candidates", "cites"),
    "named": ("named", "named_law", "named_level"),
    "question": ("question_chars", "candidates"),
}
FEATURES: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)


def feature_matrix(
    question: str, hits: Sequence[Hit], names: Sequence[str] = FEATURES, cache: FactsCache | None = None
) -> list[list[float]]:
    """Rows in `names` order, as the model expects them."""
    return [[row[name] for name in names] for row in candidate_features(question, hits, cache)]
