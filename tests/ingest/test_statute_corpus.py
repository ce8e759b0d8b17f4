"""The statute parsers on the real corpora in ../shared (KMED_SHARED_DIR); skipped without them."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.errors import UnsupportedFormat
from ingest.statutes import ParsedLaw, clause_index, parse_statute, resolve_references
from retrieval.models import Clause

pytestmark = pytest.mark.corpus

MARKUP = re.compile(r"<개정|<신설|\[본조신설|\[전문개정|\[제목개정|\*\*|\\\.|</?img")


@pytest.fixture(scope="module")
def corpora(shared: Path) -> Path:
    return shared / "corpora"


@pytest.fixture(scope="module")
def statutes(corpora: Path) -> dict[str, ParsedLaw]:
    """Every current Markdown statute, keyed by its path under statutes/."""
    files = sorted((corpora / "statutes").glob("*/*.md"))
    assert len(files) == 102
    return {f"{f.parent.name}/{f.name}": parse_statute(f) for f in files}


def by_label(law: ParsedLaw) -> dict[str, Clause]:
    return {c.label: c for c in law.clauses}


def check_law(law: ParsedLaw) -> None:
    """What must hold for any parsed law: unique ids, no markup or notes left in the text."""
    clauses = [*law.clauses, *law.supplementary]
    duplicates = [k for k, n in Counter(c.clause_id for c in clauses).items() if n > 1]
    assert duplicates == [], law.title
    assert [c.label for c in clauses if MARKUP.search(c.text)] == []
    assert all(c.text.strip() for c in clauses)
    assert all(c.law == law.title and c.act == law.act and c.level == law.level for c in clauses)


def test_every_markdown_statute_parses(statutes: dict[str, ParsedLaw], corpora: Path) -> None:
    for law in statutes.values():
        check_law(law)
    for path in sorted((corpora / "statutes_history").glob("*/*.md")):
        history = parse_statute(path)
        check_law(history)
        assert history.title == "의료법" and history.format == "markdown"
    numbered = sum(law.counts["paragraphs"] for law in statutes.values())
    clauses = sum(len(law.clauses) for law in statutes.values())
    assert 12_000 <= numbered <= 12_600  # numbered 항 (12,396 '**①**' lines, 133 of them 삭제)
    assert 13_500 <= clauses <= 14_200  # plus one clause per 조 without 항
    levels = {law.level for law in statutes.values()}
    assert levels == {"법률", "시행령", "시행규칙", "대통령령", "총리령", "보건복지부령"}


def test_spot_checks(statutes: dict[str, ParsedLaw]) -> None:
    rule = by_label(statutes["의료법/시행규칙.md"])
    assert "1년간 보관" in rule["의료법 시행규칙 제11조의2제2항"].text
    act = statutes["의료법/법률.md"]
    records = [c for c in act.clauses if c.article == "제22조"]
    assert [c.paragraph for c in records] == ["제1항", "제2항", "제3항", "제4항"]
    assert records[0].headings == ["제2장 의료인", "제2절 권리와 의무"]
    duties = by_label(act)["의료법 제2조제2항"]
    assert [i.number for i in duties.items] == ["제1호", "제2호", "제3호", "제4호", "제5호"]
    assert "\n1. 의사는 의료와 보건지도를 임무로 한다." in duties.text
    decree = statutes["감염병의예방및관리에관한법률/시행규칙.md"]
    assert (decree.act, decree.level) == ("감염병의 예방 및 관리에 관한 법률", "시행규칙")


def test_eval_gold_citations_exist_with_their_evidence(statutes: dict[str, ParsedLaw], shared: Path) -> None:
    """Every statute gold entry of the dev set names exactly one clause, whose text holds the evidence."""
    clauses = [c for law in statutes.values() for c in law.clauses]
    for line in (shared / "eval" / "dev.jsonl").read_text("utf-8").splitlines():
        question = json.loads(line)
        if question["type"] != "statute":
            continue
        matched = []
        for gold in question["gold"]:
            cited = (gold["law"], gold["level"], gold["article"])
            hits = [
                c
                for c in clauses
                if (c.act, c.level, c.article) == cited and gold.get("paragraph") in (None, c.paragraph)
            ]
            assert len(hits) == 1, (question["id"], gold)
            matched += hits
        text = " ".join(" ".join(c.text.split()) for c in matched)
        for excerpt in question["evidence"].split(" / "):
            assert " ".join(excerpt.split()) in text, (question["id"], excerpt)


def test_references_resolve_across_the_corpus(statutes: dict[str, ParsedLaw]) -> None:
    clauses = [c for law in statutes.values() for c in law.clauses]
    resolved = resolve_references(clauses, clause_index(clauses))
    titles = {law.title for law in statutes.values()}
    inside = [r for c in resolved for r in c.references if r.law in titles]
    assert sum(r.target_id is not None for r in inside) / len(inside) > 0.99
    proxy = next(c for c in resolved if c.label == "의료법 시행규칙 제11조의2제1항")
    act_ref = next(r for r in proxy.references if r.law == "의료법")
    assert (act_ref.article, act_ref.paragraph) == ("제17조의2", "제2항")
    assert act_ref.target_id == "s-001788-a17-2-p2"


def test_law_xml_parses_and_matches_markdown_of_the_same_version(
    corpora: Path, statutes: dict[str, ParsedLaw]
) -> None:
    cache = corpora / "lawxml" / "legalize-kr-cache"
    parsed = {}
    for path in sorted(cache.iterdir()):
        if path.name.startswith("history_"):
            with pytest.raises(UnsupportedFormat, match="not one law"):
                parse_statute(path)
            continue
        parsed[path.stem] = law = parse_statute(path)
        check_law(law)
        assert law.format == "lawxml" and law.mst == path.stem
    assert len(parsed) == 6
    pairs = {
        "285311": "의료관계행정처분규칙/보건복지부령.md",
        "285051": "전공의의수련환경개선및지위향상을위한법률/시행령.md",
    }
    for mst, name in pairs.items():
        xml, markdown = parsed[mst], statutes[name]
        assert (xml.mst, xml.promulgated, xml.effective) == (mst, markdown.promulgated, markdown.effective)
        assert markdown.mst == mst
        assert units(xml.clauses) == units(markdown.clauses)
        assert units(xml.supplementary) == units(markdown.supplementary)


def units(clauses: list[Clause]) -> list[tuple[str, str, str]]:
    return [(c.clause_id, c.label, c.text) for c in clauses]


def test_law_json_parses_and_agrees_with_markdown(corpora: Path, statutes: dict[str, ParsedLaw]) -> None:
    """The JSON files are older versions of the Markdown Acts.

    A clause whose text is unchanged keeps its id and label, unless an amendment renumbered
    it (약사법 is six years apart); the one file of the same version is identical.
    """
    files = sorted((corpora / "lawxml" / "lawgo-json").glob("*.json"))
    assert len(files) == 13
    for path in files:
        law = parse_statute(path)
        check_law(law)
        markdown = statutes[f"{path.stem}/법률.md"]
        assert (law.title, law.level, law.law_id) == (markdown.title, "법률", markdown.law_id)
        texts = Counter(c.text for c in markdown.clauses)
        ours = {c.text: (c.clause_id, c.label) for c in markdown.clauses if texts[c.text] == 1}
        same = [c for c in law.clauses if c.text in ours]
        agree = [c for c in same if (c.clause_id, c.label) == ours[c.text]]
        assert len(same) > 0.8 * len(law.clauses), path.name
        assert len(agree) > 0.9 * len(same), path.name
        if law.promulgated == markdown.promulgated:  # 환자안전법
            assert units(law.clauses) == units(markdown.clauses)
            assert units(law.supplementary) == units(markdown.supplementary)
