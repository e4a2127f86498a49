"""The evaluation harness behind `jaju eval` and `jaju packs eval`.

It asks an assistant each question of a JSONL set through a `chat(body) -> dict` callable (the
CLI passes the Gateway's, so guards, tools and accounting run as for any client) and scores
the answer:

- **retrieval**, from the answer's `citations` in order: R@1 (the first cited article is a
  gold one), R@5, MRR@10 (rank = position among the distinct cited labels). A cited label is
  gold when it is one of the case's `gold` articles, or when one of its snippets contains one
  of the case's `gold_passages` (for documents that are not statutes: a notice, product terms);
- **title-only citations**: citations whose snippet is only an article's title line
  ("제62조 (유급휴가의 대체)"), which tell a reader nothing;
- **tool calls**, from the response's `tool_runs`: the expected tool ran with the expected
  arguments (a subset), and the expected result values appear in the answer;
- **answer phrases**: the expected phrases found in the answer text;
- **invented figures**: numbers in the answer (two digits or more, thousands separators
  ignored) found nowhere the answer may take them from: the question, the cited labels and
  snippets, the results of the tools that ran, the case's `allowed_figures`. An assistant
  that quotes a price, a rate or a deadline it did not read is caught here;
- **tone**, for cases with `"tone": "plain"` (a pupil's assistant): the answer's own words —
  quoted passages and numbered citation lines left out — in short sentences that end in 해요체
  or 반말, without statute diction (`tone_problems` says what fails);
- **refused as expected**, for cases with `"refuse": true`: a content guard refused the
  question (400 `content_blocked`; `"blocked": true` says a guard is expected to), or the
  answer carries one of the case's `answer_phrases` (how the assistant's refusal reads). A
  guard's refusal of such a case is not counted as an error;
- **latency** per question.

A set's line: `{"id", "question", "gold": ["근로기준법 제60조"], "gold_passages": [...]?,
"tool": {"name", "arguments", "result"}?, "answer_phrases": [...]?, "allowed_figures": [...]?,
"tone": "plain"?, "refuse": true?, "blocked": true?}`.

Multiple-choice benchmarks (KMMLU, HAE-RAE, KoBEST file formats) are read by `load_mc` and run
by `run_mc`: by constrained choice (`response_format` json_schema with an enum of the choice
letters, for llamacpp) or by prompt (the first choice letter in the reply).

This module imports neither the pipeline nor the app state: the caller hands in `chat`.
"""

from __future__ import annotations

import ast
import csv
import html
import json
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaju.errors import ConfigError, JajuError
from jaju.knowledge.answer import title_only

Chat = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]



# --- sets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    gold: tuple[str, ...] = ()
    tool: dict[str, Any] | None = None
    answer_phrases: tuple[str, ...] = ()
    gold_passages: tuple[str, ...] = ()
    allowed_figures: tuple[str, ...] = ()
    tone: str | None = None
    refuse: bool = False
    """The assistant should refuse (its `answer_phrases` say how a refusal reads)."""
    blocked: bool = False
    """A content guard should refuse it outright (400 `content_blocked`)."""


MAX_LINE = 1_000_000
"""Bytes in one line of a set: a case is a question and a few lists, never a megabyte."""
TEXT_LISTS = ("gold", "answer_phrases", "gold_passages")
TONES = ("plain",)


def _case(row: Any, number: int) -> Case:
    """One line's case; a ValueError says which field is wrong (Korean and English)."""
    if not isinstance(row, dict):
        raise ValueError(f"JSON 객체가 아닙니다 / not a JSON object but {type(row).__name__}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question'(문자열)이 없습니다 / field 'question' (a non-empty string) "
                         "is missing")
    for key in TEXT_LISTS:  # a bare string would be read as a list of its characters
        value = row.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            raise ValueError(f"'{key}'는 문자열 목록이어야 합니다 / field '{key}' must be a list of "
                             "strings")
    figures = row.get("allowed_figures")
    if figures is not None and not isinstance(figures, list):
        raise ValueError("'allowed_figures'는 목록이어야 합니다 / field 'allowed_figures' must be "
                         "a list")
    tool = row.get("tool")
    if tool is not None and not (isinstance(tool, dict) and isinstance(tool.get("name"), str)
                                 and isinstance(tool.get("arguments") or {}, dict)
                                 and isinstance(tool.get("result") or {}, dict)):
        raise ValueError("'tool'은 name(문자열)과 arguments·result(객체)를 가진 객체여야 합니다 / "
                         "field 'tool' must be an object with a string 'name' and object "
                         "'arguments' and 'result'")
    for key in ("refuse", "blocked"):
        if not isinstance(row.get(key, False), bool):
            raise ValueError(f"'{key}'는 true 또는 false여야 합니다 / field '{key}' must be true "
                             "or false")
    tone = row.get("tone")
    if tone is not None and tone not in TONES:
        raise ValueError(f"'tone'은 {', '.join(TONES)} 중 하나여야 합니다 / field 'tone' must be "
                         f"one of: {', '.join(TONES)}")
    return Case(id=str(row.get("id") or number), question=question, tone=tone,
                gold=tuple(row.get("gold") or ()), tool=tool,
                answer_phrases=tuple(row.get("answer_phrases") or ()),
                gold_passages=tuple(row.get("gold_passages") or ()),
                allowed_figures=tuple(str(f) for f in figures or ()),
                refuse=bool(row.get("refuse") or row.get("blocked")),
                blocked=bool(row.get("blocked")))


def load_cases(path: Path) -> list[Case]:
    """A JSONL evaluation set, read line by line; a bad line stops the load with an error
    that names the file and the line (nothing is run on half a set)."""
    cases = []
    number = 0
    try:
        with path.open("rb") as f:
            while raw := f.readline(MAX_LINE + 1):  # bounded: one huge line is not read whole
                number += 1
                if len(raw) > MAX_LINE:
                    raise ValueError(f"줄이 {MAX_LINE:,}바이트보다 깁니다 / longer than {MAX_LINE:,} "
                                     "bytes")
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                if line.strip():
                    cases.append(_case(json.loads(line), number))
    except OSError as e:
        raise ConfigError(f"평가 세트를 읽을 수 없습니다 / cannot read eval set {path}: {e}") from e
    except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError(f"{path}:{number}: 잘못된 줄 / bad line: {e}") from e
    return cases


# --- scoring --------------------------------------------------------------------------------------


def _norm(citation: str) -> str:
    return re.sub(r"\s+", "", citation)


def is_title_only(citation: dict[str, Any]) -> bool:
    """An article citation whose snippet is only the article's title line."""
    if not (citation.get("source") or {}).get("article"):
        return False
    return title_only(str(citation.get("snippet") or ""))


def cited_articles(citations: Sequence[dict[str, Any]]) -> list[str]:
    """Distinct cited labels, in citation order."""
    seen: list[str] = []
    for c in citations:
        key = _norm(str(c.get("label") or ""))
        if key and key not in seen:
            seen.append(key)
    return seen


def rank(citations: Sequence[dict[str, Any]], gold: Sequence[str], depth: int = 10,
         passages: Sequence[str] = ()) -> int | None:
    """The position of the first gold label among the distinct cited labels, or None."""
    wanted = {_norm(g) for g in gold}
    phrases = [_norm(p) for p in passages if _norm(p)]
    snippets: dict[str, str] = {}
    for c in citations:
        key = _norm(str(c.get("label") or ""))
        snippets[key] = snippets.get(key, "") + "\n" + _norm(str(c.get("snippet") or ""))
    for position, key in enumerate(cited_articles(citations)[:depth], 1):
        if key in wanted or any(p in snippets.get(key, "") for p in phrases):
            return position
    return None


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def figures(text: str) -> set[str]:
    """The numbers of two digits or more in `text`, thousands separators dropped ("12,000" and
    "12000" are one figure; "3.5" keeps its point)."""
    found = set()
    for match in NUMBER.findall(text):
        number = match.rstrip(",").replace(",", "")
        if len(number.replace(".", "")) >= 2:
            found.add(number)
    return found


def invented_figures(case: Case, answer: str, citations: Sequence[dict[str, Any]],
                     runs: Sequence[dict[str, Any]]) -> list[str]:
    """The figures of `answer` that appear in none of its allowed sources."""
    sources = [case.question, *case.allowed_figures]
    for c in citations:
        sources += [str(c.get("label") or ""), str(c.get("snippet") or "")]
    for run in runs:
        sources.append(json.dumps(run.get("result"), ensure_ascii=False))
        sources.append(json.dumps(run.get("arguments"), ensure_ascii=False))
    allowed: set[str] = set()
    for text in sources:
        allowed |= figures(text)
    return sorted(figures(answer) - allowed)


def _tool_matches(expected: dict[str, Any], runs: Sequence[dict[str, Any]]) -> bool:
    name = str(expected.get("name") or "")
    for run in runs:
        called = str(run.get("name") or "")
        if called != name and not called.endswith("." + name):
            continue
        arguments = run.get("arguments") or {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = {}
        if all(arguments.get(k) == v for k, v in (expected.get("arguments") or {}).items()):
            return True
    return False


def _result_in_answer(expected: dict[str, Any], answer: str) -> bool:
    compact = answer.replace(",", "")
    for value in (expected.get("result") or {}).values():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        if str(value) not in compact:
            return False
    return True


QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|「[^」]*」|『[^』]*』|‘[^’]*’")
CITATION_LINE = re.compile(r"^\s*(>|\[\d+\]\s*\S[^:]*:)")
"""A quoted line, or a numbered citation line ("[1] 근로기준법 제60조: …")."""
PLAIN_ENDING = re.compile(r"(요|야|어|아|지|해|돼|래|네|자|니|까|렴|게|거든|잖아|봐)[\s.!?~…)\]]*$")
STIFF_WORDS = ("의거", "소정의", "준용", "당해", "동법", "동조", "그러하지 아니하", "하여야 한다",
               "아니 된다", "자는 ", "에 관하여")
"""Statute diction a pupil should not have to read in the assistant's own words."""
PLAIN_SENTENCE_CHARS = 60
PLAIN_SHARE = 0.8


def own_sentences(answer: str) -> list[str]:
    """The sentences the assistant wrote itself: quoted passages and citation lines left out."""
    kept = [QUOTED.sub(" ", line) for line in answer.splitlines()
            if not CITATION_LINE.match(line)]
    sentences = re.split(r"(?<=[.!?])\s+|\n+", "\n".join(kept))
    return [s.strip() for s in sentences if len(re.findall(r"[가-힣]", s)) >= 2]


def tone_problems(answer: str, tone: str = "plain") -> list[str]:
    """Why `answer` is not in `tone`; empty when it is. "plain": most of its own sentences
    (PLAIN_SHARE) end in 해요체 or 반말, they average at most PLAIN_SENTENCE_CHARS characters,
    and none uses statute diction (STIFF_WORDS). A rough, explainable measure, the same for
    every backend; an answer with no words of its own (only quotes) is not plain."""
    sentences = own_sentences(answer)
    if not sentences:
        return ["no sentence of its own (only quotes)"]
    problems = []
    plain = sum(bool(PLAIN_ENDING.search(s)) for s in sentences)
    if plain < PLAIN_SHARE * len(sentences):
        stiff = next(s for s in sentences if not PLAIN_ENDING.search(s))
        problems.append(f"{len(sentences) - plain} of {len(sentences)} sentences are not "
                        f"해요체/반말 (e.g. '{stiff[-20:]}')")
    mean = sum(len(s) for s in sentences) / len(sentences)
    if mean > PLAIN_SENTENCE_CHARS:
        problems.append(f"sentences average {mean:.0f} characters (> {PLAIN_SENTENCE_CHARS})")
    words = sorted({w.strip() for w in STIFF_WORDS if any(w in s for s in sentences)})
    if words:
        problems.append("statute diction: " + ", ".join(words))
    return problems


@dataclass
class CaseResult:
    case: Case
    answer: str = ""
    citations: list[str] = field(default_factory=list)
    rank: int | None = None
    title_only: int = 0
    tool_called: bool | None = None
    tool_result: bool | None = None
    phrases_hit: int = 0
    invented: list[str] = field(default_factory=list)
    tone: list[str] | None = None
    """For a case with a `tone`: what is wrong with the answer's tone (empty: right)."""
    refused: bool | None = None
    """For a case to refuse: whether it was (blocked by a guard, or answered with one of
    its `answer_phrases`)."""
    seconds: float = 0.0
    error: str = ""


def score(case: Case, result: dict[str, Any], seconds: float) -> CaseResult:
    message = (result.get("choices") or [{}])[0].get("message") or {}
    answer = str(message.get("content") or "")
    citations = list(result.get("citations") or [])
    out = CaseResult(case, answer=answer, citations=[str(c.get("label")) for c in citations],
                     rank=rank(citations, case.gold, passages=case.gold_passages)
                     if case.gold or case.gold_passages else None,
                     title_only=sum(is_title_only(c) for c in citations), seconds=seconds)
    if case.tool:
        out.tool_called = _tool_matches(case.tool, result.get("tool_runs") or [])
        out.tool_result = _result_in_answer(case.tool, answer)
    out.phrases_hit = sum(p in answer for p in case.answer_phrases)
    out.invented = invented_figures(case, answer, citations, result.get("tool_runs") or [])
    if case.tone:
        out.tone = tone_problems(answer, case.tone)
    if case.refuse:
        out.refused = any(p in answer for p in case.answer_phrases)
    return out


@dataclass
class Report:
    model: str
    results: list[CaseResult]
    title: str = ""

    def metrics(self) -> dict[str, float | None]:
        rs = self.results
        retrieval = [r for r in rs if (r.case.gold or r.case.gold_passages) and not r.error]
        n = len(retrieval)
        cited = sum(len(r.citations) for r in rs)
        tools = [r for r in rs if r.tool_called is not None]
        toned = [r for r in rs if r.tone is not None]
        refusing = [r for r in rs if r.case.refuse and not r.error]
        phrases = sum(len(r.case.answer_phrases) for r in rs)
        seconds = sorted(r.seconds for r in rs if not r.error)

        def share(count: float, total: int) -> float | None:
            return count / total if total else None

        return {
            "questions": float(len(rs)),
            "errors": float(sum(bool(r.error) for r in rs)),
            "R@1": share(sum(r.rank == 1 for r in retrieval), n),
            "R@5": share(sum(r.rank is not None and r.rank <= 5 for r in retrieval), n),
            "MRR@10": share(sum(1 / r.rank for r in retrieval if r.rank), n),
            "title_only": share(sum(r.title_only for r in rs), cited),
            "answers_with_title_only": share(sum(r.title_only > 0 for r in rs), len(rs)),
            "tool_calls": share(sum(bool(r.tool_called) for r in tools), len(tools)),
            "tool_results": share(sum(bool(r.tool_result) for r in tools), len(tools)),
            "phrases": share(sum(r.phrases_hit for r in rs), phrases),
            "invented_figures": share(sum(bool(r.invented) for r in rs if not r.error),
                                      sum(not r.error for r in rs)),
            "tone": share(sum(not r.tone for r in toned), len(toned)),
            "refused": share(sum(bool(r.refused) for r in refusing), len(refusing)),
            "latency_p50": statistics.median(seconds) if seconds else None,
            "latency_p95": seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
            if seconds else None,
        }


async def run(chat: Chat, model: str, cases: Sequence[Case], *, title: str = "",
              on_case: Callable[[CaseResult], None] | None = None) -> Report:
    """Ask `model` every case, one at a time (latency is per question, not under load)."""
    results = []
    for case in cases:
        body = {"model": model, "messages": [{"role": "user", "content": case.question}]}
        started = time.perf_counter()
        try:
            result = await chat(body)
            out = score(case, result, time.perf_counter() - started)
        except JajuError as e:
            seconds = time.perf_counter() - started
            if case.refuse and getattr(e, "code", None) == "content_blocked":
                out = CaseResult(case, answer=str(e), refused=True, seconds=seconds)
                out.phrases_hit = sum(p in out.answer for p in case.answer_phrases)
            else:
                out = CaseResult(case, seconds=seconds, error=str(e))
        results.append(out)
        if on_case is not None:
            on_case(out)
    return Report(model, results, title)


# --- multiple choice (KMMLU, HAE-RAE, KoBEST) -----------------------------------------------------

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class McItem:
    id: str
    question: str
    choices: tuple[str, ...]
    answer: int
    """Index of the right choice."""


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".json"):
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            return list(data if isinstance(data, list) else data.get("data", []))
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{number}번째 줄 / line {number}: {e}") from e
        return rows
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    return list(csv.DictReader(text.splitlines(), dialect=dialect))


def _letter(value: Any) -> int:
    """"(A)", "A", "a", 1 → an index (1-based numbers)."""
    text = str(value).strip().strip("()").strip()
    if text.isdigit():
        return int(text) - 1
    if len(text) == 1 and text.upper() in LETTERS:
        return LETTERS.index(text.upper())
    raise ValueError(f"cannot read answer {value!r}")


def _kmmlu(row: dict[str, Any], n: int) -> McItem:
    """KMMLU CSV: question, A, B, C, D, answer (1–4), Category, Human Accuracy."""
    choices = tuple(str(row[k]) for k in "ABCD" if row.get(k) not in (None, ""))
    return McItem(str(row.get("id") or n), str(row["question"]), choices, _letter(row["answer"]))


def _haerae(row: dict[str, Any], n: int) -> McItem:
    """HAE-RAE Bench: query (the question, choices often inside it), options (a list or its
    Python/JSON text), answer ("(A)")."""
    options = row.get("options")
    if isinstance(options, str):
        try:
            options = ast.literal_eval(options)
        except (ValueError, SyntaxError):
            options = [o.strip() for o in options.split("\n") if o.strip()]
    choices = tuple(re.sub(r"^\(?[A-J]\)\s*", "", str(o)).strip() for o in options or ())
    return McItem(str(row.get("id") or n), str(row.get("query") or row.get("question")),
                  choices, _letter(row["answer"]))


def _kobest(row: dict[str, Any], n: int) -> McItem:
    """KoBEST (by the fields each task has): COPA (premise, question 원인/결과, alternative_1/2),
    HellaSwag (context, ending_1..4), BoolQ (paragraph, question), SentiNeg (sentence), WiC
    (word, context_1, context_2); `label` is the right choice's index."""
    label = int(row["label"])
    ident = str(row.get("id") or n)
    if "alternative_1" in row:
        ask = "원인은 무엇입니까?" if str(row.get("question")) == "원인" else "결과는 무엇입니까?"
        return McItem(ident, f"{row['premise']} {ask}",
                      (str(row["alternative_1"]), str(row["alternative_2"])), label)
    if "ending_1" in row:
        endings = tuple(str(row[f"ending_{i}"]) for i in range(1, 5) if row.get(f"ending_{i}"))
        return McItem(ident, f"다음 문장에 이어질 말로 알맞은 것은? {row['context']}", endings, label)
    if "paragraph" in row:
        return McItem(ident, f"{row['paragraph']}\n질문: {row['question']}", ("아니오", "예"),
                      label)
    if "word" in row:
        return McItem(ident, f"두 문장에서 '{row['word']}'의 뜻이 같습니까?\n1. {row['context_1']}"
                      f"\n2. {row['context_2']}", ("아니오", "예"), label)
    if "sentence" in row:
        return McItem(ident, f"다음 문장의 감정은? {row['sentence']}", ("부정", "긍정"), label)
    raise ValueError("unknown KoBEST task (fields: " + ", ".join(sorted(row)) + ")")


MC_FORMATS: dict[str, Callable[[dict[str, Any], int], McItem]] = {
    "kmmlu": _kmmlu, "haerae": _haerae, "kobest": _kobest}


def load_mc(path: Path, fmt: str) -> list[McItem]:
    if fmt not in MC_FORMATS:
        raise ConfigError(f"알 수 없는 형식 / unknown format {fmt!r}: {', '.join(MC_FORMATS)}")
    try:
        rows = _rows(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: 읽을 수 없습니다 / cannot read: {e}") from e
    items = []
    for n, row in enumerate(rows, 1):
        try:
            item = MC_FORMATS[fmt](row, n)
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            # AttributeError: a JSON line that is not an object
            problem = f"필드 없음 / missing field {e}" if isinstance(e, KeyError) else str(e)
            raise ConfigError(f"{path}: {n}번째 항목 / item {n}: {problem}") from e
        if not 0 <= item.answer < len(item.choices):
            raise ConfigError(f"{path}: item {n}: answer out of range")
        items.append(item)
    return items


def mc_prompt(item: McItem) -> str:
    options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(item.choices))
    return (f"{item.question}\n\n{options}\n\n"
            f"보기 중 정답 하나의 기호({', '.join(LETTERS[:len(item.choices)])})만 답하세요.")


def mc_body(item: McItem, model: str, constrained: bool) -> dict[str, Any]:
    letters = list(LETTERS[:len(item.choices)])
    body: dict[str, Any] = {"model": model, "temperature": 0,
                            "messages": [{"role": "user", "content": mc_prompt(item)}]}
    if constrained:
        body["max_tokens"] = 16
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "choice", "strict": True,
            "schema": {"type": "object", "properties": {"answer": {"type": "string",
                                                                   "enum": letters}},
                       "required": ["answer"], "additionalProperties": False}}}
    else:
        body["max_tokens"] = 32
    return body


def read_choice(text: str, n: int, constrained: bool) -> int | None:
    """The chosen index from a reply, or None when it names no valid choice."""
    letters = LETTERS[:n]
    if constrained:
        try:
            value = json.loads(text).get("answer")
        except (ValueError, AttributeError):
            return None
        return letters.index(value) if isinstance(value, str) and value in letters else None
    match = re.search(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text.upper())
    return letters.index(match.group(1)) if match else None


@dataclass
class McResult:
    item: McItem
    chosen: int | None
    reply: str
    seconds: float


@dataclass
class McReport:
    model: str
    constrained: bool
    results: list[McResult]

    def metrics(self) -> dict[str, float]:
        n = len(self.results) or 1
        return {"items": float(len(self.results)),
                "accuracy": sum(r.chosen == r.item.answer for r in self.results) / n,
                "valid": sum(r.chosen is not None for r in self.results) / n,
                "latency_mean": sum(r.seconds for r in self.results) / n}


async def run_mc(chat: Chat, model: str, items: Sequence[McItem], *, constrained: bool
                 ) -> McReport:
    results = []
    for item in items:
        started = time.perf_counter()
        result = await chat(mc_body(item, model, constrained))
        text = str(((result.get("choices") or [{}])[0].get("message") or {}).get("content") or "")
        results.append(McResult(item, read_choice(text, len(item.choices), constrained), text,
                                time.perf_counter() - started))
    return McReport(model, constrained, results)


# --- output ---------------------------------------------------------------------------------------

SHOWN = [("R@1", "R@1"), ("R@5", "R@5"), ("MRR@10", "MRR@10"), ("title_only", "title-only"),
         ("tool_calls", "tool calls"), ("tool_results", "tool results"),
         ("phrases", "answer phrases"), ("invented_figures", "invented figures"),
         ("tone", "plain tone"), ("refused", "refused as expected"),
         ("latency_p50", "latency p50 (s)"),
         ("latency_p95", "latency p95 (s)")]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(reports: Sequence[Report]) -> Any:
    """A Rich table: one column per report."""
    from rich.table import Table

    t = Table(title=" vs ".join(r.title or r.model for r in reports))
    t.add_column("metric")
    for r in reports:
        t.add_column(r.title or r.model, justify="right")
    metrics = [r.metrics() for r in reports]
    t.add_row("questions", *(str(int(m["questions"] or 0)) for m in metrics))
    t.add_row("errors", *(str(int(m["errors"] or 0)) for m in metrics))
    for key, name in SHOWN:
        t.add_row(name, *(_fmt(m[key]) for m in metrics))
    return t


COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"]


def _bars(groups: list[str], series: list[tuple[str, list[float | None]]], *,
          scale: float | None = None, unit: str = "") -> str:
    """A grouped bar chart as inline SVG."""
    width, height, left, bottom, top = 640, 240, 40, 40, 20
    top_value = scale or max([v for _, vs in series for v in vs if v is not None] or [1.0]) or 1.0
    group_w = (width - left - 10) / max(1, len(groups))
    bar_w = group_w * 0.8 / max(1, len(series))
    plot_h = height - bottom - top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
             f'role="img" font-family="sans-serif" font-size="11">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
             'stroke="#999"/>']
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{tick * top_value:.2f}{unit}</text>')
    for g, group in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for s, (_, values) in enumerate(series):
            value = values[g]
            if value is None:
                continue
            h = plot_h * min(1.0, value / top_value)
            x = x0 + s * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                         f'<title>{html.escape(series[s][0])} {group}: {value:.3f}</title></rect>')
        parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 14}" '
                     f'text-anchor="middle">{html.escape(group)}</text>')
    for s, (name, _) in enumerate(series):
        x = left + s * 160
        parts.append(f'<rect x="{x}" y="{height + 4}" width="10" height="10" '
                     f'fill="{COLOURS[s % len(COLOURS)]}"/><text x="{x + 14}" y="{height + 13}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(reports: Sequence[Report], title: str = "jaju eval") -> str:
    """A self-contained HTML page: metrics table, charts as inline SVG, every question."""
    metrics = [r.metrics() for r in reports]
    names = [r.title or r.model for r in reports]
    quality = [("R@1", "R@1"), ("R@5", "R@5"), ("MRR@10", "MRR"), ("tool_calls", "tool calls"),
               ("phrases", "phrases"), ("title_only", "title-only")]
    chart1 = _bars([label for _, label in quality],
                   [(n, [m[k] for k, _ in quality]) for n, m in zip(names, metrics, strict=True)],
                   scale=1.0)
    chart2 = _bars(["p50", "p95"], [(n, [m["latency_p50"], m["latency_p95"]])
                                    for n, m in zip(names, metrics, strict=True)], unit=" s")
    rows = "".join(f"<tr><td>{html.escape(label)}</td>"
                   + "".join(f"<td>{_fmt(m[key])}</td>" for m in metrics) + "</tr>"
                   for key, label in SHOWN)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    cases = []
    for i, result in enumerate(reports[0].results):
        cells = []
        for r in reports:
            c = r.results[i]
            mark = "✔" if c.rank == 1 else (f"@{c.rank}" if c.rank else "✘")
            invented = (" · 근거 없는 수치 / invented: " + html.escape(", ".join(c.invented))
                        if c.invented else "")
            cells.append(f"<td>{mark} {html.escape(', '.join(c.citations[:3]))}"
                         f"{' (title-only)' if c.title_only else ''}"
                         f"{invented}"
                         f"{' · ' + html.escape(c.error) if c.error else ''}</td>")
        cases.append(f"<tr><td>{html.escape(result.case.id)}</td><td>"
                     f"{html.escape(result.case.question)}</td><td>"
                     f"{html.escape(', '.join(result.case.gold + result.case.gold_passages))}"
                     f"</td>{''.join(cells)}</tr>")
    return (f"<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
            "font-size:13px;vertical-align:top}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table><tr><th>metric</th>{head}</tr>{rows}</table>"
            f"<h2>quality</h2>{chart1}<h2>latency</h2>{chart2}<h2>questions</h2>"
            f"<table><tr><th>id</th><th>question</th><th>gold</th>{head}</tr>"
            f"{''.join(cases)}</table></body></html>")
