"""The `kmed` commands, run in-process through typer's runner against real engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kmed.cli import app

DATA = Path(__file__).resolve().parent.parent / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data"
    bad = path.parent / "broken.xml"
    bad.write_text('<?xml version="1.0"?><법령><기본정보>', encoding="utf-8")
    result = runner.invoke(
        app, ["ingest", str(DATA / "statute_sample.md"), str(bad), "--data-dir", str(path)]
    )
    assert result.exit_code == 1, result.output  # one file failed, the other went in
    assert "broken.xml" in result.output and "malformed XML" in result.output
    assert "1 ok, 1 failed" in result.output
    return path


def test_reingest_unchanged_writes_nothing(data_dir: Path) -> None:
    result = runner.invoke(app, ["ingest", str(DATA / "statute_sample.md"), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output and "0 embedded" in result.output


def test_search_json(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["search", "기록 보관 기간", "--k", "2", "--json", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and hits[0]["clause"]["label"].startswith("시험보건법 시행규칙 제2조의2")


def test_search_rejects_bad_input(data_dir: Path) -> None:
    assert runner.invoke(app, ["search", " ", "--data-dir", str(data_dir)]).exit_code == 2
    assert runner.invoke(app, ["search", "기록", "--mode", "x", "--data-dir", str(data_dir)]).exit_code == 2
    assert (
        runner.invoke(app, ["search", "기록", "--as-of", "yesterday", "--data-dir", str(data_dir)]).exit_code
        == 2
    )


def test_search_without_index_says_to_ingest(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "기록", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 3 and "kmed ingest" in result.output


def test_eval_json_shape(data_dir: Path) -> None:
    qa = DATA / "statute_sample_qa.jsonl"
    result = runner.invoke(
        app, ["eval", str(qa), "--k", "5", "--modes", "hybrid,sparse", "--json", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"n_answerable", "modes", "misses", "by_type", "rerankers"}
    assert body["n_answerable"] == 2
    assert set(body["modes"]) == {"hybrid", "sparse"}
    assert body["rerankers"] == {"hybrid": "learned", "sparse": "none"}  # the configured default
    assert set(body["modes"]["hybrid"]) == {"hit@1", "hit@5", "hit@10", "mrr@10"}
    assert body["modes"]["hybrid"]["hit@5"] == 1.0 and body["misses"] == []


def test_eval_compares_rerankers_in_one_run(data_dir: Path) -> None:
    qa = DATA / "statute_sample_qa.jsonl"
    args = [
        "eval",
        str(qa),
        "--modes",
        "hybrid,dense",
        "--rerank",
        "none,learned",
        "--data-dir",
        str(data_dir),
    ]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body["modes"]) == {"hybrid+none", "hybrid+learned", "dense"}
    assert body["rerankers"]["hybrid+learned"] == "learned" and body["rerankers"]["dense"] == "none"
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "learned" in table.stdout and "none" in table.stdout
    bad = runner.invoke(app, ["eval", str(qa), "--rerank", "bm42", "--data-dir", str(data_dir)])
    assert bad.exit_code == 2 and "--rerank takes" in bad.output


def test_eval_table(data_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(DATA / "statute_sample_qa.jsonl"), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "hit@5" in result.output and "hybrid" in result.output


def test_ingest_with_nothing_to_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "no supported files" in result.output


def test_eval_answers_adds_the_answer_metrics(data_dir: Path) -> None:
    qa = DATA / "statute_sample_qa.jsonl"
    result = runner.invoke(
        app, ["eval", str(qa), "--modes", "hybrid", "--answers", "--json", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)["answer"]
    assert {"cited_sentence_rate", "citation_precision", "abstain_rate", "false_abstain_rate"} <= set(answer)
    assert answer["cited_sentence_rate"] == 1.0


def test_ask_prints_a_cited_answer_or_abstains(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["ask", "처방전 대리수령 신청서는 몇 년 보관하나요?", "--json", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["generator"] == "extractive"
    assert body["abstained"] or all(s["citations"] for s in body["sentences"])
    refused = runner.invoke(app, ["ask", "식품위생법상 조리원 건강진단 횟수는?", "--data-dir", str(data_dir)])
    assert (
        refused.exit_code == 0
        and "근거를 찾지 못했습니다" in refused.output
        and "식품위생법" in refused.output
    )
    bad = runner.invoke(app, ["ask", "기록", "--as-of", "someday", "--data-dir", str(data_dir)])
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_show_prints_the_named_clause_and_says_when_it_does_not_exist(data_dir: Path) -> None:
    result = runner.invoke(app, ["show", "시험보건법 시행규칙 제2조의2제3항", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "시험보건법 시행규칙 제2조의2제3항" in result.stdout and "1년간 보관" in result.stdout
    named = runner.invoke(
        app, ["show", "시험보건법 시행규칙 제2조제1호의2", "--json", "--data-dir", str(data_dir)]
    )
    (found,) = json.loads(named.stdout)
    assert found["item"] == "제1호의2" and found["clauses"][0]["article"] == "제2조"
    missing = runner.invoke(app, ["show", "시험보건법 시행규칙 제999조", "--data-dir", str(data_dir)])
    assert missing.exit_code == 2 and "시험보건법 시행규칙에는 제999조가 없습니다" in missing.output
    nothing = runner.invoke(app, ["show", "기록 보관", "--data-dir", str(data_dir)])
    assert nothing.exit_code == 2 and "의료법 제22조제2항" in nothing.output


def test_rerank_train_writes_models_that_load_and_serve(data_dir: Path, tmp_path: Path) -> None:
    from retrieval.answerability import AnswerabilityModel
    from retrieval.rerank.learned import LearnedModel

    qa = DATA / "statute_sample_train.jsonl"
    out = tmp_path / "models" / "reranker.json"
    args = ["rerank", "train", str(qa), "--out", str(out), "--json", "--data-dir", str(data_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["validation"]["learned"]["hit@5"] == 1.0 and 0 <= report["threshold"] <= 1
    ranker, gate = LearnedModel.load(out), AnswerabilityModel.load(out.with_name("answerability.json"))
    assert ranker.trained["questions"] == 10 and gate.trained["questions"] == 12
    again = tmp_path / "again" / "reranker.json"
    assert runner.invoke(app, [*args[:3], "--out", str(again), "--data-dir", str(data_dir)]).exit_code == 0
    assert LearnedModel.load(again).booster.model_to_string() == ranker.booster.model_to_string()
    env = {"KMED_RERANK__LEARNED_MODEL": str(out)}
    found = runner.invoke(app, ["search", "기록 보관 기간", "--json", "--data-dir", str(data_dir)], env=env)
    assert found.exit_code == 0 and json.loads(found.stdout)
    too_few = tmp_path / "few.jsonl"
    too_few.write_text("\n".join(qa.read_text(encoding="utf-8").splitlines()[:4]), encoding="utf-8")
    refused = runner.invoke(app, ["rerank", "train", str(too_few), "--data-dir", str(data_dir)])
    assert refused.exit_code == 2 and "at least 10 answerable" in refused.output


def test_ingest_bar_shows_clauses_per_second_and_time_left() -> None:
    """The columns `kmed ingest` draws, rendered by rich to a terminal-like console."""
    import io
    import re
    import time

    from rich.console import Console
    from rich.progress import Progress

    from kmed.console import ingest_columns

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    with Progress(*ingest_columns(), console=console, auto_refresh=False) as progress:
        task = progress.add_task("all files", total=100)
        for _ in range(4):
            time.sleep(0.05)
            progress.update(task, advance=10)
        progress.refresh()
    shown = screen.getvalue()
    assert re.search(r"40/100 +[\d,.]+ clauses/s 0:00:0\d", shown), shown
