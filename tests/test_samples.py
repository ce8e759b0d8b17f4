"""The shipped fictional sample corpus ingests cleanly and answers its own questions."""

from __future__ import annotations

import pymupdf

from ingest.pipeline import ingest_paths
from retrieval.evaluation import evaluate, load_qa
from retrieval.runtime import build_dense, build_encoder, build_searcher, open_for_writing
from retrieval.search import search
from retrieval.settings import CORPORA_DIR, Settings

SAMPLES = CORPORA_DIR / "samples"


def test_sample_corpus_answers_its_questions(settings: Settings) -> None:
    embedder = build_dense(settings)
    index = open_for_writing(settings, embedder)
    report = ingest_paths([SAMPLES], index=index, embedder=embedder, encoder=build_encoder(settings))
    index.close()
    assert not report.failed, [f.error for f in report.failed]
    assert {f.title for f in report.files} == {
        "한빛대학교병원 진료기록관리규정",
        "한빛대학교병원 감염관리규정",
        "한빛 소아 발열 관리 지침",
    }
    searcher = build_searcher(settings, embedder=embedder)
    items = load_qa(SAMPLES / "questions.jsonl")
    result = evaluate(items, lambda q, m: search(searcher, q, k=5, mode=m), ["hybrid"])  # type: ignore[arg-type]
    assert result.n_answerable == 12
    assert result.modes["hybrid"]["hit@5"] >= 0.9, result
    searcher.index.close()


def test_sample_documents_say_they_are_fictional() -> None:
    for path in SAMPLES.glob("*.md"):
        assert "가상의 병원 내규" in path.read_text(encoding="utf-8"), path
    for path in SAMPLES.glob("*.pdf"):
        assert "가상의 진료지침" in path.with_suffix(".yaml").read_text(encoding="utf-8"), path
        with pymupdf.open(path) as doc:
            assert "가상" in doc[0].get_text(), path
