"""`kmed rerank train`: train the learned reranker and the answerability model on your questions.

The QA set is in the eval format (shared/eval/README.md); items with `"fold": "val"` are held
out for early stopping and reported, the others train (without folds, every fifth item is
held out). It needs an index holding the documents the questions cite. The two model files are
what `KMED_RERANK__LEARNED_MODEL` and `KMED_ANSWER__ANSWERABILITY_MODEL` point at; the shipped
ones were trained on `corpora/train/questions.jsonl` over the real statutes and guidelines.

kmed/cli.py is imported inside the command, not at the top: it registers this sub-app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from retrieval.errors import KmedError

rerank_app = typer.Typer(
    help="The learned reranker: train it (and the answerability model on top) on a QA set.",
    no_args_is_help=True,
    add_completion=False,
)


@rerank_app.callback()
def rerank() -> None:
    """Rerank stage commands."""


@rerank_app.command("train")
def train(
    qa_file: Annotated[Path, typer.Argument(help="QA set in JSON Lines (eval format; optional `fold`).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Reranker model file to write (default: KMED_RERANK__LEARNED_MODEL)."),
    ] = None,
    answerability_out: Annotated[
        Path | None,
        typer.Option(
            "--answerability-out",
            help="Answerability model file (default: beside --out as answerability.json, or "
            "KMED_ANSWER__ANSWERABILITY_MODEL).",
        ),
    ] = None,
    max_false_abstain: Annotated[
        float,
        typer.Option(
            "--max-false-abstain",
            min=0.0,
            max=0.5,
            help="Share of answerable training questions the chosen threshold may refuse (cross-validated).",
        ),
    ] = 0.04,
    as_json: Annotated[bool, typer.Option("--json", help="Print the training report as JSON.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Index folder (default: KMED_DATA_DIR or ./data).")
    ] = None,
) -> None:
    """Train on QA_FILE over the index: LambdaRank over first-stage candidates, then a logistic
    answerability model on out-of-fold rerankings with its threshold. Prints validation figures."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kmed.console import err, fail, settings_for
    from kmed.console import out as console
    from retrieval.evaluation import load_qa
    from retrieval.rerank import NoReranker
    from retrieval.runtime import build_searcher
    from retrieval.training import collect_all, train_models

    if not qa_file.is_file():
        err.print(f"error: {qa_file}: no such file")
        raise typer.Exit(2)
    settings = settings_for(data_dir)
    ranker_path = out or settings.rerank.learned_model
    answer_path = answerability_out or (
        ranker_path.with_name("answerability.json") if out else settings.answer.answerability_model
    )
    if answer_path is None:
        err.print("error: give --answerability-out (KMED_ANSWER__ANSWERABILITY_MODEL is empty)")
        raise typer.Exit(2)
    try:
        items = load_qa(qa_file)
        train_items = [i for i in items if i.fold != "val"]
        if sum(1 for i in train_items if i.gold) < 10 or sum(1 for i in train_items if not i.gold) < 2:
            err.print(
                "error: training needs at least 10 answerable and 2 unanswerable questions outside "
                'the "val" fold'
            )
            raise typer.Exit(2)
        searcher = build_searcher(settings, reranker=NoReranker())
        try:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task("first-stage candidates", total=len(items))
                groups = collect_all(
                    searcher,
                    items,
                    depth=settings.rerank.candidates,
                    on_item=lambda n: progress.update(task, completed=n),
                )
            with err.status("training"):
                trained = train_models(
                    groups, searcher.encoder.tokenizer, max_false_abstain=max_false_abstain, log=err.print
                )
        finally:
            searcher.index.close()
    except KmedError as exc:
        raise fail(exc) from exc
    except ValueError as exc:  # no question with a gold clause among its candidates
        err.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    trained.ranker.save(ranker_path)
    trained.answerability.save(answer_path)
    report = {**trained.report, "reranker_model": str(ranker_path), "answerability_model": str(answer_path)}
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    val = report["validation"]
    console.print(f"wrote {ranker_path} ({report['ranker_trees']} trees) and {answer_path}")
    fused, learned = val["fused"], val["learned"]
    console.print(
        f"validation fold: hit@1 {fused['hit@1']:.2f} → {learned['hit@1']:.2f}, "
        f"hit@5 {fused['hit@5']:.2f} → {learned['hit@5']:.2f} (fused → learned)"
    )
    console.print(
        f"answerability threshold {report['threshold']:.3f}: validation abstains on "
        f"{val['abstain_rate']:.2f} of unanswerable, {val['false_abstain_rate']:.2f} of answerable"
    )
