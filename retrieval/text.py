"""Korean tokenization for sparse retrieval, shared by documents and queries.

Kiwi splits the things a clinician searches for most exactly: ``제22조의2제1항`` becomes
제/22/조/의/2/…, ``10년`` becomes 10/년. So statute references and quantities are taken
out first with regular expressions and kept as single normalised terms; the rest goes
through Kiwi (with the medical user dictionary) and a content part-of-speech filter.

Four term variants are produced from one analysis (see `Analysis.terms`):
``morph`` content morphemes; ``morph_compound`` plus noun compounds re-joined as Kiwi found
them written together; ``bigram`` character bigrams of the written words; ``morph_bigram``
morphemes plus character bigrams of the re-joined compounds (partial compound matches
without the particle noise of raw-word bigrams).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiwipiepy import Kiwi

from retrieval.settings import SparseVariant

# a particle written right after a reference or quantity goes with it ('22조 2항을', '10년간')
_PARTICLE = "(?:에서|에게|까지|부터|마다|으로|에는|에도|간|에|을|를|의|은|는|이|가|과|와|로|도|만)?"
# 제22조의2제1항제3호, 22조, 제 22 조 의 2 → 제22조의2, 제22조의2제1항, 제22조의2제1항제3호
_STATUTE_REF = re.compile(
    r"(?:제\s*)?(\d+)\s*조(?:\s*의\s*(\d+))?(?:\s*(?:제\s*)?(\d+)\s*항)?"
    r"(?:\s*(?:제\s*)?(\d+)\s*호(?:\s*의\s*(\d+))?)?" + _PARTICLE
)
_UNITS = (
    "mmHg|mg/dL|mg/kg|mcg|μg|mg|mL|ml|kg|g|L|cm|mm|IU|℃|°C|%|퍼센트"
    "|세|개월|년|월|일|주|시간|분|초|회|명|병상|배|종|개|층|원"
)
# 10년, 72시간, 130/80 mmHg, 0.5 mg/kg, 3개월
_QUANTITY = re.compile(rf"(\d+(?:[.,]\d+)?(?:\s*/\s*\d+(?:[.,]\d+)?)?)\s*({_UNITS}){_PARTICLE}")
# 제1항, 제3호의2 without an article: meaningless out of context, so dropped
_BARE_NUMBERED = re.compile(r"제\s*\d+\s*(?:항|호|목)(?:\s*의\s*\d+)?" + _PARTICLE)
# SGLT2, COVID-19, HbA1c: Latin codes with digits stay one lower-cased term
_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+(?:-?\d+[A-Za-z0-9]*)+(?![A-Za-z0-9])")
_CONTENT_TAGS = {"NNG", "NNP", "NR", "SL", "SH", "XR", "VV", "VA", "VV-R", "VA-R", "VV-I", "VA-I", "MAG"}
_NOUN_TAGS = {"NNG", "NNP", "XR", "SL", "SH"}
_STOP = frozenset(
    [
        "것",
        "그리고",
        "그러나",
        "또한",
        "수",
        "등",
        "때",
        "경우",
        "및",
        "또는",
        "이",
        "그",
        "간",
        "항",
        "호",
        "목",
        "호의",
        "각",
        "다음",
        "하나",
        "해당",
        "하다",
        "되다",
        "있다",
        "없다",
        "않다",
        "같다",
    ]
)
_HANGUL = re.compile(r"[가-힣]")
_HANGUL_WORD = re.compile(r"[가-힣A-Za-z0-9]+")


@dataclass(frozen=True)
class Analysis:
    """One text's terms, computed once and cut into whichever variant is asked for."""

    special: tuple[str, ...]  # statute references and quantities, normalised
    morphemes: tuple[str, ...]  # content morphemes (verbs as lemma + 다)
    compounds: tuple[str, ...]  # noun runs written together, re-joined (only runs of 2+)
    runs: tuple[str, ...]  # every written noun run, single nouns included
    words: tuple[str, ...]  # written words with the special spans removed

    def terms(self, variant: SparseVariant) -> list[str]:
        terms = list(self.special)
        if variant == "bigram":
            return terms + [b for w in self.words for b in char_bigrams(w)]
        terms += self.morphemes
        if variant == "morph_compound":
            terms += self.compounds
        elif variant == "morph_bigram":
            terms += [f"~{b}" for c in self.runs if _HANGUL.search(c) for b in char_bigrams(c)]
        return terms


def char_bigrams(word: str) -> list[str]:
    if len(word) < 2:
        return [word] if word else []
    return [word[i : i + 2] for i in range(len(word) - 1)]


def _statute_terms(match: re.Match[str]) -> list[str]:
    art, branch, para, item, item_branch = match.group(1, 2, 3, 4, 5)
    article = f"제{art}조" + (f"의{branch}" if branch else "")
    out = [article]
    if para:
        out.append(f"{article}제{para}항")
    if item:
        out.append(f"{out[-1]}제{item}호" + (f"의{item_branch}" if item_branch else ""))
    return out


def extract_special(text: str) -> tuple[list[str], str]:
    """Statute references and quantities as single terms, and the text with those spans blanked."""
    terms: list[str] = []
    chars = list(text)

    def blank(m: re.Match[str]) -> None:
        for i in range(m.start(), m.end()):
            chars[i] = " "

    for m in _STATUTE_REF.finditer(text):
        terms.extend(_statute_terms(m))
        blank(m)
    for m in _BARE_NUMBERED.finditer("".join(chars)):
        blank(m)
    for m in _CODE.finditer("".join(chars)):
        terms.append(m.group(0).lower().replace("-", ""))
        blank(m)
    rest = "".join(chars)
    for m in _QUANTITY.finditer(rest):
        number = m.group(1).replace(" ", "").replace(",", "")
        unit = m.group(2).replace("퍼센트", "%").replace("°C", "℃").replace("ml", "mL")
        terms.append(number + unit)
        if _HANGUL.match(unit):
            terms.append(unit)  # so '몇 시간' and '얼마나 (몇 년)' meet '8시간' and '10년'
        blank(m)
    return terms, "".join(chars)


class KoreanTokenizer:
    """Kiwi with the medical user dictionaries; thread-safe for reads, load once per process."""

    def __init__(self, user_dictionaries: Sequence[Path] = (), *, num_workers: int = -1) -> None:
        self._kiwi = Kiwi(num_workers=num_workers)
        self._batch = num_workers != 0  # Kiwi analyses lists only with worker threads
        self.dictionary_entries = 0
        for path in user_dictionaries:
            if path.exists():
                self.dictionary_entries += self._kiwi.load_user_dictionary(str(path))

    def space(self, text: str) -> str:
        """The text with the spaces Kiwi finds missing added (none removed)."""
        return str(self._kiwi.space(text, reset_whitespace=False))

    def analyse(self, text: str) -> Analysis:
        return next(self.analyse_many([text]))

    def analyse_many(self, texts: Sequence[str]) -> Iterator[Analysis]:
        prepared = [extract_special(t) for t in texts]
        rests = [rest for _, rest in prepared]
        tokenized = self._kiwi.tokenize(rests) if self._batch else map(self._kiwi.tokenize, rests)
        for (special, rest), tokens in zip(prepared, tokenized, strict=True):
            yield _analysis(special, rest, tokens)


def _analysis(special: list[str], rest: str, tokens: Sequence[object]) -> Analysis:
    morphemes: list[str] = []
    compounds: list[str] = []
    runs: list[str] = []
    run: list[str] = []
    run_end = -1

    def close_run() -> None:
        joined = "".join(run)
        if joined and joined not in _STOP:
            runs.append(joined)
            if len(run) >= 2:
                compounds.append(joined)
        run.clear()

    for tok in tokens:
        form, tag, start, length = tok.form, tok.tag, tok.start, tok.len  # type: ignore[attr-defined]
        form = form.replace(" ", "")  # multi-word dictionary entries ('알레르기 비염') come back spaced
        if tag in _NOUN_TAGS:
            if run and start != run_end:
                close_run()
            run.append(form)
            run_end = start + length
        else:
            close_run()
        if tag not in _CONTENT_TAGS:
            continue
        term = form + "다" if tag.startswith(("VV", "VA")) else form
        if term in _STOP or (tag == "MAG" and len(form) < 2):
            continue
        morphemes.append(term.lower() if tag == "SL" else term)
    close_run()
    words = tuple(w for w in _HANGUL_WORD.findall(rest) if not w.isdigit() and w not in _STOP)
    return Analysis(tuple(special), tuple(morphemes), tuple(compounds), tuple(runs), words)
