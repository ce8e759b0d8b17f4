"""Guideline PDF ingestion speed: parse rate in pages per second, and where ingestion time goes.

    python benchmarks/guideline_ingest.py [--shared ../shared] [--ocr-pages 3] [--out bench-data/guidelines]

For every text-layer PDF in shared/corpora/guidelines/pdf it measures, in the same run:
- a baseline: PyMuPDF alone reading every page's text (`page.get_text("dict")`), and
- our parser (`parse_guideline`: lines, tables, headers/footers, headings, chunks, Kiwi spacing),
then ingests them all into a fresh index with the embedding cache off, and reports the share of
ingestion time spent outside embedding (parsing, Kiwi/BM25, Qdrant writes). With --ocr-pages N,
OCR is timed on the first N pages of the broken-font guideline. Machines here are shared: read
the ratios, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

from ingest.guidelines import parse_guideline
from ingest.guidelines.pdf import ocr_available
from ingest.pipeline import ingest_paths
from retrieval.runtime import build_dense, build_encoder, open_for_writing
from retrieval.settings import PdfSettings, load_settings
from retrieval.text import KoreanTokenizer

BROKEN = "대한부정맥학회_심방세동_치료_가이드라인_2018"


def _mupdf_only(path: Path) -> float:
    started = time.perf_counter()
    with pymupdf.open(path) as doc:
        for page in doc:
            page.get_text("dict")
    return time.perf_counter() - started


def _parse(path: Path, tokenizer: KoreanTokenizer) -> tuple[float, int, int]:
    started = time.perf_counter()
    parsed = parse_guideline(path, settings=PdfSettings(ocr="off"), spacer=tokenizer.space)
    return time.perf_counter() - started, parsed.pages, len(parsed.chunks)


def _ocr(path: Path, pages: int, tokenizer: KoreanTokenizer, folder: Path) -> dict[str, float]:
    part = pymupdf.open()
    with pymupdf.open(path) as doc:
        part.insert_pdf(doc, from_page=2, to_page=2 + pages - 1)
    sample = folder / "ocr-sample.pdf"
    part.save(sample)
    started = time.perf_counter()
    parsed = parse_guideline(sample, settings=PdfSettings(), spacer=tokenizer.space)
    seconds = time.perf_counter() - started
    return {"pages": parsed.ocr_pages, "seconds": seconds, "pages_per_s": parsed.ocr_pages / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=load_settings().shared_dir)
    parser.add_argument("--ocr-pages", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="Keep the index here (default: a temp dir).")
    args = parser.parse_args()
    folder = args.shared / "corpora" / "guidelines" / "pdf"
    pdfs = sorted(p for p in folder.glob("*.pdf") if p.stem != BROKEN)
    tokenizer = KoreanTokenizer(load_settings().text.user_dictionaries)
    _parse(pdfs[0], tokenizer)  # warm up: Kiwi's first spacing call and PyMuPDF's font caches
    rows = []
    for path in pdfs:
        baseline = _mupdf_only(path)
        seconds, pages, chunks = _parse(path, tokenizer)
        rows.append(
            {
                "file": path.stem,
                "pages": pages,
                "chunks": chunks,
                "mupdf_s": round(baseline, 3),
                "parse_s": round(seconds, 3),
                "pages_per_s": round(pages / seconds, 1),
                "vs_mupdf": round(seconds / baseline, 1),
            }
        )
    total_pages = sum(r["pages"] for r in rows)
    parse_total = sum(r["parse_s"] for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.out or Path(tmp) / "data"
        settings = load_settings(data_dir=data_dir, embedding={"cache": False})
        embedder = build_dense(settings)
        index = open_for_writing(settings, embedder)
        started = time.perf_counter()
        report = ingest_paths(pdfs, index=index, embedder=embedder, encoder=build_encoder(settings))
        index.close()
        ingest_s = time.perf_counter() - started
        broken = folder / f"{BROKEN}.pdf"
        ocr = _ocr(broken, args.ocr_pages, tokenizer, Path(tmp)) if ocr_available() else None
    result = {
        "files": rows,
        "pages": total_pages,
        "parse_pages_per_s": round(total_pages / parse_total, 1),
        "parse_vs_mupdf_text": round(parse_total / sum(r["mupdf_s"] for r in rows), 1),
        "ingest_s": round(ingest_s, 1),
        "embedding_s": round(report.embedding_seconds, 1),
        "chunks_embedded": report.embedded,
        "share_outside_embedding": round(1 - report.embedding_seconds / ingest_s, 3),
        "ocr": ocr,
    }
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
