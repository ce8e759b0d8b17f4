"""The rerank stage through each backend's real code path: a LightGBM model trained here, a tiny
randomly initialised cross-encoder built and saved by the test, a loopback /rerank server in the
TEI and Cohere dialects, and relevance grades from a scripted OpenAI-compatible server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import ConfigurationError
from retrieval.generators import build_chat_model
from retrieval.models import Clause, Hit, Reference, Signals
from retrieval.rerank import NoReranker, RerankFailed, build_reranker, ordered
from retrieval.rerank.cross_encoder import CrossEncoderReranker
from retrieval.rerank.features import FEATURES, GROUPS, candidate_features
from retrieval.rerank.http import HttpReranker, parse_scores
from retrieval.rerank.learned import LearnedModel, LearnedReranker
from retrieval.rerank.llm import LLMReranker
from retrieval.rerank.train import Group, fit, ranked
from retrieval.settings import LLMSettings, RerankSettings
from tests.fakes import FakeOpenAI, reply_json

LAW, RULE = "시험법", "시험법 시행규칙"


def clause(
    n: int, text: str, *, law: str = LAW, title: str = "", paragraph: str | None = None, **extra: Any
) -> Clause:
    level = "시행규칙" if law.endswith("시행규칙") else "법률"
    article = f"제{n}조"
    return Clause(
        clause_id=f"s-{level}-a{n}" + (f"-p{paragraph.strip('제항')}" if paragraph else ""),
        doc_id=f"law-{level}",
        law=law,
        act=LAW,
        level=level,
        article=article,
        article_title=title,
        paragraph=paragraph,
        text=text,
        label=f"{law} {article}{paragraph or ''}",
        **extra,
    )


def hit(c: Clause, rank: int, **legs: float) -> Hit:
    return Hit(
        clause=c,
        score=1 / rank,
        rank=rank,
        signals=Signals(fused=1 / (20 + rank), fused_rank=rank, legs=legs),
    )


@pytest.fixture
def hits() -> list[Hit]:
    """A sibling-항 case: the words of the question are in 제1항, the period it asks for in 제2항,
    and the rule that carries out the Act's delegation holds the form."""
    act1 = clause(5, "의료기관은 처방전 대리수령 신청서를 받아야 한다.", title="대리수령", paragraph="제1항")
    act2 = clause(5, "신청서는 1년간 보관하여야 한다.", title="대리수령", paragraph="제2항")
    act3 = clause(6, "신청의 절차는 보건복지부령으로 정한다.", title="절차", paragraph="제1항")
    rule = clause(
        3,
        "법 제6조제1항에 따른 신청은 별지 서식의 신청서를 제출하여야 한다.",
        law=RULE,
        title="신청 절차",
        references=[
            Reference(
                raw="법 제6조제1항", law=LAW, article="제6조", paragraph="제1항", target_id=act3.clause_id
            )
        ],
    )
    return [
        hit(act1, 1, dense=0.91, sparse=9.0, dense_article=0.9, sparse_article=8.0, sparse_morph=4.0),
        hit(act2, 2, dense=0.88, sparse=4.0, dense_article=0.9, sparse_article=8.0, sparse_morph=2.0),
        hit(act3, 3, dense=0.86, sparse=2.0, dense_article=0.85, sparse_article=2.0),
        hit(rule, 4, dense=0.85, sparse=3.0, dense_article=0.84, sparse_article=5.0, sparse_morph=1.0),
    ]


def test_features_read_the_question_against_each_candidate(hits: list[Hit]) -> None:
    rows = candidate_features("처방전 대리수령 신청서는 몇 년 보관해야 하나요?", hits)
    assert set(rows[0]) == set(FEATURES) == {f for names in GROUPS.values() for f in names}
    first, second, delegating, rule = rows
    assert (
        second["quantity_match"] == 1.0 and first["quantity_match"] == 0.0 and first["quantity_miss"] == 1.0
    )
    assert first["dense_rank"] == 1 and second["dense_gap"] == pytest.approx(-0.03, abs=1e-6)
    assert first["siblings"] == second["siblings"] == 1.0 and second["article_best_rank"] == 1.0
    assert delegating["delegates"] == 1.0 and rule["implements"] == pytest.approx(1 / 3)
    assert delegating["cited_by_candidates"] == 1.0 and rule["is_rule"] == 1.0
    assert rule["sparse_morph_score"] == 1.0 and delegating["sparse_morph_rank"] == 5  # unscored: last
    procedure = candidate_features("신청서는 어떤 서식으로 제출하나요?", hits)[3]
    assert procedure["procedure_x_rule"] == 1.0


def _groups(hits: list[Hit], n: int = 30) -> list[Group]:
    """Questions whose gold is the candidate that states the asked-for period (never the first)."""
    from retrieval.evaluation import QAItem

    groups = []
    for i in range(n):
        order = hits[1:] + hits[:1] if i % 2 else hits
        labels = [int("보관" in h.clause.text) for h in order]
        ranked_hits = [h.model_copy(update={"rank": r}) for r, h in enumerate(order, start=1)]
        item = QAItem(f"q{i}", "statute", "신청서는 몇 년 보관하나요?", [{}])
        groups.append(Group(item, ranked_hits, labels, f"신청서는 몇 년 보관하나요? {i}"))
    return groups


def test_learned_model_trains_saves_loads_and_moves_the_gold_up(tmp_path: Path, hits: list[Hit]) -> None:
    groups = _groups(hits)
    model = fit(groups[:24], groups[24:], params={"min_data_in_leaf": 2})
    path = tmp_path / "reranker.json"
    model.save(path)
    loaded = LearnedReranker.load(path)
    order = loaded.rerank("신청서는 몇 년 보관하나요?", hits)
    assert order[0].clause.text == "신청서는 1년간 보관하여야 한다."
    assert [h.rank for h in order] == [1, 2, 3, 4]
    assert ranked(loaded.model, groups[0])[0] == 1
    assert json.loads(path.read_text(encoding="utf-8"))["features"] == list(FEATURES)


def test_a_model_file_that_does_not_match_is_refused(tmp_path: Path, hits: list[Hit]) -> None:
    path = tmp_path / "reranker.json"
    fit(_groups(hits), [], params={"min_data_in_leaf": 2}, rounds=5).save(path)
    body = json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(ConfigurationError, match="no learned-reranker model"):
        LearnedModel.load(tmp_path / "missing.json")
    for change, message in [
        ({"feature_set": "kmed-rerank-features-0"}, "Retrain it"),
        ({"features": [*body["features"][:-1], "a_feature_from_the_future"]}, "a_feature_from_the_future"),
        ({"format": "something-else"}, "not a kmed learned-reranker"),
        ({"features": body["features"][:-1]}, "inputs for"),
    ]:
        (tmp_path / "bad.json").write_text(json.dumps({**body, **change}), encoding="utf-8")
        with pytest.raises(ConfigurationError, match=message):
            LearnedModel.load(tmp_path / "bad.json")
    with pytest.raises(ConfigurationError, match="no learned-reranker model"):
        build_reranker(RerankSettings(backend="learned", learned_model=tmp_path / "missing.json"))


def test_ordered_sets_scores_and_ranks_and_keeps_ties_in_fused_order(hits: list[Hit]) -> None:
    order = ordered(hits, [0.1, 0.5, 0.5, 0.0])
    assert [h.clause.clause_id for h in order] == [hits[i].clause.clause_id for i in (1, 2, 0, 3)]
    assert [h.score for h in order] == [0.5, 0.5, 0.1, 0.0] and [h.rank for h in order] == [1, 2, 3, 4]
    assert NoReranker().rerank("q", hits) == hits


# --- cross-encoder ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised BERT cross-encoder with a character vocabulary, saved locally."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("cross-encoder")
    chars = sorted(
        set(
            "처방전대리수령신청서는몇년보관해야하나요의료기관은받아을를한다절차보건복지부령으로정법에따른별지식제출"
        )
    )
    (folder / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]), encoding="utf-8"
    )
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(chars) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        num_labels=1,
    )
    torch.manual_seed(7)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_cross_encoder_loads_a_local_folder_and_orders_by_its_scores(
    tiny_cross_encoder: Path, hits: list[Hit], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import CrossEncoder

    from retrieval.models import passage_text

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reranker = build_reranker(
        RerankSettings(backend="cross-encoder", model=str(tiny_cross_encoder), max_length=64)
    )
    assert isinstance(reranker, CrossEncoderReranker) and reranker.name.startswith("cross-encoder:")
    question = "처방전 대리수령 신청서는 몇 년 보관해야 하나요?"
    order = reranker.rerank(question, hits)
    expected = CrossEncoder(str(tiny_cross_encoder), max_length=64).predict(
        [(question, passage_text(h.clause)) for h in hits]
    )
    by_score = sorted(range(len(hits)), key=lambda i: (-float(expected[i]), i))
    assert [h.clause.clause_id for h in order] == [hits[i].clause.clause_id for i in by_score]
    assert [round(h.score, 5) for h in order] == sorted((round(float(s), 5) for s in expected), reverse=True)


def test_cross_encoder_that_cannot_be_found_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigurationError, match="cannot load the cross-encoder"):
        build_reranker(RerankSettings(backend="cross-encoder", model=str(tmp_path / "no-such-model")))


# --- http ---------------------------------------------------------------------------------------


class RerankServer:
    """A loopback rerank server: TEI ({query, texts} → [{index, score}]) on /tei/rerank, Cohere
    style ({model, query, documents} → {results: [{index, relevance_score}]}) on /v1/rerank.
    It scores a document by the characters it shares with the query."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], str | None]] = []
        self.fail = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, self.headers.get("Authorization")))
                if server.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                texts = body.get("texts") or body.get("documents") or []
                scores = [len(set(body["query"]) & set(t)) / (1 + len(set(t))) for t in texts]
                if self.path.startswith("/tei"):
                    payload: Any = sorted(
                        ({"index": i, "score": s} for i, s in enumerate(scores)), key=lambda r: -r["score"]
                    )
                else:
                    rows = [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]
                    payload = {
                        "results": sorted(rows, key=lambda r: -r["relevance_score"])[: body.get("top_n")]
                    }
                reply_json(self, payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rerank_server() -> Iterator[RerankServer]:
    server = RerankServer()
    yield server
    server.close()


@pytest.mark.parametrize("protocol", ["tei", "cohere"])
def test_http_reranker_speaks_both_dialects(
    rerank_server: RerankServer, hits: list[Hit], protocol: str
) -> None:
    path = "/tei/rerank" if protocol == "tei" else "/v1/rerank"
    settings = RerankSettings(
        backend="http",
        url=rerank_server.url + path,
        protocol=protocol,
        model="bge-reranker-v2-m3",
        api_key="k-1",
    )
    reranker = build_reranker(settings)
    assert isinstance(reranker, HttpReranker)
    question = "신청서 보관"
    order = reranker.rerank(question, hits)
    sent_path, body, auth = rerank_server.requests[-1]
    assert sent_path == path and auth == "Bearer k-1"
    if protocol == "tei":
        assert set(body) == {"query", "texts", "truncate"} and len(body["texts"]) == 4
    else:
        assert body["model"] == "bge-reranker-v2-m3" and len(body["documents"]) == 4 and body["top_n"] == 4
    scores = [h.score for h in order]
    assert scores == sorted(scores, reverse=True) and len(order) == 4


def test_http_reranker_failure_is_a_rerank_failure(rerank_server: RerankServer, hits: list[Hit]) -> None:
    rerank_server.fail = True
    reranker = HttpReranker(RerankSettings(backend="http", url=rerank_server.url + "/v1/rerank", timeout=2))
    with pytest.raises(RerankFailed, match="failed"):
        reranker.rerank("신청서", hits)
    with pytest.raises(ConfigurationError, match="KMED_RERANK__URL"):
        build_reranker(RerankSettings(backend="http"))


def test_rerank_responses_are_read_leniently_but_not_blindly() -> None:
    assert parse_scores([{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}], 3) == [0.1, 0.9, -0.9]
    assert parse_scores({"results": [{"index": 0, "relevance_score": 2}]}, 2) == [2.0, 1.0]
    assert parse_scores({"data": [{"index": 0, "relevance_score": 0.5}]}, 1) == [0.5]
    for bad in (
        {"error": "overloaded"},
        [{"score": 1}],
        [{"index": 9, "score": 1}],
        [{"index": 0, "score": "high"}],
    ):
        with pytest.raises(ValueError):
            parse_scores(bad, 2)


# --- llm ----------------------------------------------------------------------------------------


@pytest.fixture
def chat() -> Iterator[tuple[Any, FakeOpenAI]]:
    fake = FakeOpenAI()
    model = build_chat_model(LLMSettings(provider="openai-like", model="judge", base_url=fake.url, timeout=5))
    yield model, fake
    fake.close()


def test_llm_reranker_orders_by_the_grades_it_reads(chat: tuple[Any, FakeOpenAI], hits: list[Hit]) -> None:
    model, fake = chat
    fake.replies.append("1: 1\n2: 3\n3: 0\n4: 2")
    reranker = LLMReranker(model, depth=4)
    order = reranker.rerank("신청서는 몇 년 보관하나요?", hits)
    assert [h.clause.clause_id for h in order] == [hits[i].clause.clause_id for i in (1, 3, 0, 2)]
    messages = fake.requests[-1]["messages"]
    assert messages[0]["content"].startswith("당신은") and '<candidate n="2"' in messages[1]["content"]
    assert reranker.name == "llm:openai-like:judge"


def test_llm_reranker_keeps_candidates_past_its_depth_after_the_judged(
    chat: tuple[Any, FakeOpenAI], hits: list[Hit]
) -> None:
    model, fake = chat
    fake.replies.append("[1]: 0\n[2]: 2")
    order = LLMReranker(model, depth=2).rerank("q", hits)
    assert [h.clause.clause_id for h in order] == [hits[i].clause.clause_id for i in (1, 0, 2, 3)]


def test_llm_reranker_without_grades_fails_and_needs_a_model(
    chat: tuple[Any, FakeOpenAI], hits: list[Hit]
) -> None:
    model, fake = chat
    fake.replies.append("모두 관련 있어 보입니다.")
    with pytest.raises(RerankFailed, match="no relevance grade"):
        LLMReranker(model).rerank("q", hits)
    with pytest.raises(ConfigurationError, match="KMED_LLM__PROVIDER"):
        build_reranker(RerankSettings(backend="llm"))
