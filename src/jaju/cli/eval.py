"""`jaju eval`: an assistant (or two, side by side) on a JSONL set, or a multiple-choice
benchmark (KMMLU, HAE-RAE, KoBEST files), through the same Gateway every client uses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings
from jaju.errors import JajuError

T = TypeVar("T")
LOCAL_TENANT = "local"


def with_gateway(settings: Any, tenant: str,
                 job: Callable[[Callable[[dict[str, Any]], Awaitable[dict[str, Any]]], Any],
                               Awaitable[T]]) -> T:
    """Build the app state, start it, run `job(chat, state)` with the Gateway's chat as
    `tenant`, close it."""
    from jaju.caller import Caller
    from jaju.state import AppState

    state = AppState.build(settings)
    caller = Caller(tenant, label=f"cli:eval:{tenant}")

    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        result = await state.gateway.chat(caller, body)
        assert isinstance(result, dict)
        return result

    async def main() -> T:
        await state.start()
        try:
            return await job(chat, state)
        finally:
            await state.aclose()

    try:
        return asyncio.run(main())
    except JajuError as e:
        fail(str(e))


def run_set(settings: Any, models: list[str], path: Path, tenant: str,
            html: Path | None, title: str = "") -> list[Any]:
    """Run a JSONL set on each model; print the table; write the HTML report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from jaju.packs import evaluation

    try:
        cases = evaluation.load_cases(path)
    except JajuError as e:
        fail(str(e))

    notes: list[str] = []

    async def job(chat: Any, state: Any) -> list[Any]:
        for model in models:
            if model not in state.models:
                fail(f"모델이 없습니다 / no model {model!r} (have: {', '.join(state.models)})")
        notes.extend(cannot_call_tools(state, models, cases))
        reports = []
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), console=err, transient=True) as progress:
            for model in models:
                task = progress.add_task(model, total=len(cases))

                def advance(_result: Any, task: Any = task) -> None:
                    progress.advance(task)

                reports.append(await evaluation.run(chat, model, cases, title=model,
                                                    on_case=advance))
        return reports

    reports = with_gateway(settings, tenant, job)
    Console().print(evaluation.table(reports))
    for note in notes:
        err.print(note, highlight=False)
    if html is not None:
        html.write_text(evaluation.html_report(reports, title or f"jaju eval: {path.name}"),
                        encoding="utf-8")
        err.print(f"report: {html}", highlight=False)
    return reports


def cannot_call_tools(state: Any, models: list[str], cases: list[Any]) -> list[str]:
    """Notes for the models whose backend cannot call tools, when the set has tool cases:
    their "tool calls" figure is 0 because of the backend, not the assistant."""
    if not any(case.tool for case in cases):
        return []
    notes = []
    for model in models:
        assistant = state.models.get(model)
        if assistant is not None and not assistant.backend.capabilities.tools:
            notes.append(
                f"참고: '{model}'의 백엔드 '{assistant.backend.name}'은(는) 도구를 호출할 수 없어 "
                "tool calls가 0입니다(tool results는 도구 결과 값이 인용문에 우연히 있는지만 봅니다). "
                "생성 모델 백엔드(llamacpp, openai)를 연결하면 측정됩니다 / note: the backend "
                f"'{assistant.backend.name}' of '{model}' cannot call tools, so its tool calls "
                "are 0 by construction (tool results only shows whether the expected values "
                "happen to be in its quotes); serve the assistant from a generative backend "
                "(llamacpp or openai) to measure them (docs/packs.md)")
    return notes


def eval_(
    eval_set: Annotated[Path | None, typer.Option(
        "--set", help="JSONL set: question, gold, optional tool and answer_phrases.")] = None,
    assistant: Annotated[str | None, typer.Option(help="Assistant (model id) to evaluate.")] = None,
    compare: Annotated[tuple[str, str] | None, typer.Option(
        help="Two assistants side by side: --compare A B.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report with charts.")] = None,
    mc: Annotated[Path | None, typer.Option(
        help="A multiple-choice benchmark file (CSV, TSV, JSON or JSONL).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="kmmlu, haerae or kobest.")] = "kmmlu",
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant to ask as.")] = LOCAL_TENANT,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Evaluate an assistant: retrieval (R@1, R@5, MRR), title-only citations, tool calls,
    answer phrases and latency on a JSONL set; or accuracy on a multiple-choice benchmark."""
    models = list(compare) if compare else ([assistant] if assistant else [])
    if not models:
        fail("--assistant 또는 --compare가 필요합니다 / name --assistant A or --compare A B")
    settings = load_settings(config, home)
    if mc is not None:
        run_mc(settings, models, mc, fmt, tenant, limit)
        return
    if eval_set is None:
        fail("--set FILE.jsonl 또는 --mc FILE이 필요합니다 / give --set or --mc")
    run_set(settings, models, eval_set, tenant, html)


def run_mc(settings: Any, models: list[str], path: Path, fmt: str, tenant: str,
           limit: int | None) -> None:
    from rich.table import Table

    from jaju.packs import evaluation

    try:
        items = evaluation.load_mc(path, fmt)[:limit]
    except JajuError as e:
        fail(str(e))

    async def job(chat: Any, state: Any) -> list[Any]:
        reports = []
        for model in models:
            if model not in state.models:
                fail(f"모델이 없습니다 / no model {model!r}")
            backend = state.models[model].backend.name
            conf = state.settings.backends.get(backend)
            constrained = getattr(conf, "type", "") == "llamacpp"
            reports.append(await evaluation.run_mc(chat, model, items, constrained=constrained))
        return reports

    reports = with_gateway(settings, tenant, job)
    table = Table(title=f"{path.name} ({fmt})")
    for column in ("model", "mode", "items", "accuracy", "valid", "latency (s)"):
        table.add_column(column)
    for r in reports:
        m = r.metrics()
        table.add_row(r.model, "constrained" if r.constrained else "prompt", str(int(m["items"])),
                      f"{m['accuracy']:.3f}", f"{m['valid']:.3f}", f"{m['latency_mean']:.2f}")
    Console().print(table)
