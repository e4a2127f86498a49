"""The `extractive` backend: the embedded default when no generative model is configured.

It generates nothing. Given evidence (an assistant with knowledge) it answers by quoting the
most relevant sentences of the best passages, each with its citation number; with no evidence
it says plainly, in Korean and English, that no generative model is configured and how to add
one.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from collections.abc import AsyncGenerator
from typing import Any

from jaju.backends.base import Capabilities
from jaju.errors import InvalidRequest
from jaju.knowledge import synonyms
from jaju.knowledge.answer import Evidence, citation, label
from jaju.korean.analyzer import Analyzer
from jaju.protocol import (
    ChatRequest,
    chunk,
    completion,
    estimate_tokens,
    new_id,
    usage_dict,
)

NO_MODEL_ANSWER = (
    "생성 모델이 설정되어 있지 않습니다. 지금은 jaju의 기본 `extractive` 백엔드가 응답하고 있어, "
    "지식 베이스가 연결되지 않은 질문에는 답을 만들 수 없습니다.\n\n"
    "생성 모델을 추가하려면:\n"
    "1. GGUF 파일 하나로 바로 실행: `jaju serve --model 모델.gguf`\n"
    "2. 또는 `jaju init`으로 만든 jaju.toml에 `[backends.이름]`을 추가하세요 "
    '(`type = "llamacpp"`와 `path`, 또는 `type = "openai"`와 vLLM·Ollama·CLOVA Studio의 `urls`).\n\n'
    "No generative model is configured: jaju's default `extractive` backend is answering. "
    "Serve a GGUF file with `jaju serve --model FILE.gguf`, or add a `[backends.NAME]` section "
    "(llamacpp or openai) to jaju.toml (see `jaju init`)."
)
GAP = "… "
"""Put before a quoted line when the passage's lines before it were left out."""
MAX_SENTENCES = 4
MAX_PASSAGES = 5
"""Passages an answer cites: the best sentences of the top ones, then one line of each other
passage of the top five that scores at least half the best ("see also"), so a reader sees
the next articles a generative answer would also have had as evidence."""
NO_EVIDENCE = ("지식 베이스에서 질문과 관련된 내용을 찾지 못했습니다. 다른 표현으로 다시 질문해 "
               "보세요. / Nothing relevant was found in the knowledge base.")
HANGUL = re.compile(r"[가-힣]")
ASK_IN_KOREAN = ("※ 문서가 한국어라 한국어로 물으면 더 정확한 근거를 찾습니다. / The documents are in "
                 "Korean: a question in Korean finds better passages.")
EXTRACTIVE_NOTE = ("※ 생성 모델 없이 문서에서 관련 문장을 그대로 인용한 답변입니다. / "
                   "Quoted from the documents (no generative model).")


class ExtractiveBackend:
    capabilities = Capabilities(generative=False)

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _check(self, request: ChatRequest) -> None:
        if request.tool_choice == "required" or (
            request.tool_choice is not None and not isinstance(request.tool_choice, str)
        ):
            raise InvalidRequest(
                f"'{request.model}' 모델(백엔드 {self.name})은 도구 호출을 지원하지 않습니다 / "
                f"model '{request.model}' (backend {self.name}) cannot call tools",
                param="tool_choice",
                code="unsupported_feature",
            )
        if request.response_format and request.response_format.type != "text":
            raise InvalidRequest(
                f"'{request.model}' 모델(백엔드 {self.name})은 JSON 응답 형식을 지원하지 않습니다 / "
                f"model '{request.model}' (backend {self.name}) does not support response_format "
                f"{request.response_format.type}",
                param="response_format",
                code="unsupported_feature",
            )

    def _answer(self, request: ChatRequest, evidence: Evidence | None
                ) -> tuple[str, str, list[dict[str, Any]] | None]:
        if evidence is not None:
            text, citations = quote(evidence)
            return text, "stop", citations
        text = NO_MODEL_ANSWER
        finish = "stop"
        for stop in request.stop_list:
            if stop and stop in text:
                text = text[: text.index(stop)]
        limit = request.token_limit
        if limit is not None and estimate_tokens(text) > limit:
            text = text[: max(1, limit * 4 // 3)]
            finish = "length"
        return text, finish, None

    def _prompt_tokens(self, request: ChatRequest) -> int:
        return sum(estimate_tokens(m.text) for m in request.messages)

    async def complete(self, request: ChatRequest, *,
                       evidence: Evidence | None = None) -> dict[str, Any]:
        self._check(request)
        text, finish, citations = await asyncio.to_thread(self._answer, request, evidence)
        usage = usage_dict(self._prompt_tokens(request), estimate_tokens(text))
        result = completion(request.model, {"role": "assistant", "content": text}, finish, usage)
        if citations is not None:
            result["citations"] = citations
        return result

    async def stream(self, request: ChatRequest, *,
                     evidence: Evidence | None = None) -> AsyncGenerator[dict[str, Any], None]:
        self._check(request)
        text, finish, citations = await asyncio.to_thread(self._answer, request, evidence)
        cid = new_id()
        yield chunk(request.model, cid, {"role": "assistant", "content": ""})
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield chunk(request.model, cid, {"content": piece})
        last = chunk(request.model, cid, {}, finish)
        if citations is not None:
            last["citations"] = citations
        last["usage"] = usage_dict(self._prompt_tokens(request), estimate_tokens(text))
        yield last

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        raise InvalidRequest(
            f"'{self.name}' 모델은 임베딩을 지원하지 않습니다 / "
            f"model '{self.name}' does not serve embeddings",
            param="model",
            code="unsupported_feature",
        )


# --- quoting ------------------------------------------------------------------------------------


NEW_UNIT = re.compile(r"^(?:제\s*\d+\s*조|[①-⑳]|\d+\.|[가-하]\.|[-•·※○□■◆▶*#])")
"""A line that starts a unit of its own: an article, a 항, a 호 or 목, a bullet."""
UNIT_END = re.compile(r"(?:[.?!。:」』\])>]|[다요음함됨임])\s*$")
"""A line that ends a sentence (or a heading's bracket or an amendment note)."""


def _units(text: str, analyzer: Analyzer, wrapped: bool = False) -> list[str]:
    """Lines (statute 항 and 호 are lines), long lines cut into sentences. `wrapped`: the
    text's lines are a page's (a PDF), so a line that stops mid-sentence is joined with the
    next unless that one starts a unit of its own — else a quote could end on "…수수료를
    받지" and drop the "않습니다" on the next line."""
    raw = [line.strip() for line in text.split("\n") if line.strip()]
    if wrapped:
        joined: list[str] = []
        for line in raw:
            if joined and not UNIT_END.search(joined[-1]) and not NEW_UNIT.match(line):
                joined[-1] += " " + line
            else:
                joined.append(line)
        raw = joined
    out: list[str] = []
    for line in raw:
        if len(line) > 300:
            out += [s.text.strip() for s in analyzer.sentences(line) if s.text.strip()]
        else:
            out.append(line)
    return out


def _see_also(chosen: list[tuple[float, int, int, str]],
              candidates: list[Candidate]) -> list[tuple[float, int, int, str]]:
    """The best line of each candidate passage no chosen sentence quotes (a line naming
    another evidence article counts REFERENCE_BONUS more)."""
    quoted = {c[1] for c in chosen}
    best: dict[int, tuple[float, Candidate]] = {}
    for c in candidates:
        if c[1] in quoted:
            continue
        value = c[0] + (REFERENCE_BONUS if c[4] is not None else 0.0)
        if c[1] not in best or value > best[c[1]][0]:
            best[c[1]] = (value, c)
    return [c[:4] for _, c in best.values()]


def _body_lines(chosen: list[tuple[float, int, int, str]],
                candidates: list[tuple[float, int, int, str]], hits: list[Any],
                lines: list[list[str]]) -> list[tuple[float, int, int, str]]:
    """For each quoted article of which only the title line was chosen, its best body line
    (the best-scoring candidate after the title, else its first body line): a citation that
    quotes only "제62조 (유급휴가의 대체)" tells the reader nothing."""
    extra = []
    for h_index in sorted({c[1] for c in chosen}):
        if not hits[h_index].source.get("article") and not _heading(lines[h_index][0]):
            continue
        if any(c[2] > 0 for c in chosen if c[1] == h_index):
            continue
        body = [c for c in candidates if c[1] == h_index and c[2] > 0]
        if body:
            extra.append(max(body, key=lambda c: c[0]))
            continue
        units = lines[h_index]
        if len(units) > 1:
            extra.append((0.0, h_index, 1, units[1]))
    return extra


def _heading(line: str) -> bool:
    """A document's heading line ("자주은행 예금·대출 상품약관 — 예금 공통 사항"): short, and
    not a sentence."""
    return len(line) <= 80 and not re.search(r"[.?!。]\s*$|[다요]\.?\s*$", line)


ITEM = re.compile(r"^(?:\d+\.|[가-하]\.)\s")
"""A statute's 호 ("1. …") or 목 ("가. …") line."""
SHORT_LIST = (5, 600)
"""A list quoted whole when one of its items (or the line it hangs from) is quoted: at most
this many items and characters ("1. … 190일 이상", "2. … 170일 이상": the reader needs both)."""


def _short_lists(chosen: list[tuple[float, int, int, str]],
                 candidates: list[tuple[float, int, int, str]],
                 lines: list[list[str]]) -> list[tuple[float, int, int, str]]:
    """The other items of each short list that a quoted line is an item of, or introduces
    ("다음 각 호"), when not quoted already; of a longer list that a quoted line introduces,
    its item that matches the question best, if one does (채권추심법 제9조's night-time item,
    not only "다음 각 호의 어느 하나에 해당하는 행위를 하여서는 아니 된다")."""
    have = {(c[1], c[2]) for c in chosen}
    extra = []
    for _, h_index, u_index, unit in chosen:
        units = lines[h_index]
        if ITEM.match(unit):
            start = u_index
            while start > 0 and ITEM.match(units[start - 1]):
                start -= 1
        elif "다음 각 호" in unit or "다음 각 목" in unit:
            start = u_index + 1
            while start < len(units) and start <= u_index + 2 and not ITEM.match(units[start]):
                start += 1  # the rest of a 항 cut into sentences
        else:
            continue
        end = start
        while end < len(units) and ITEM.match(units[end]):
            end += 1
        block = range(start, end)
        if not 0 < len(block) <= SHORT_LIST[0] or \
                sum(len(units[i]) for i in block) > SHORT_LIST[1]:
            matching = [c for c in candidates if c[1] == h_index and c[2] in block]
            if matching and not any((h_index, i) in have for i in block):
                best = max(matching, key=lambda c: c[0])
                have.add((h_index, best[2]))
                extra.append(best)
            continue
        for i in block:
            if (h_index, i) not in have:
                have.add((h_index, i))
                extra.append((0.0, h_index, i, units[i]))
    return extra


def _lead_ins(chosen: list[tuple[float, int, int, str]], hits: list[Any],
              lines: list[list[str]]) -> list[tuple[float, int, int, str]]:
    """For each quoted 호 or 목, the line it hangs from, when not quoted already: "1. 임차인이
    보증금의 전액 반환이 가능한 경우" alone reads as a statement, and under "② 다음 각 호의
    어느 하나에 해당하는 경우는 제외한다" it is an exclusion."""
    have = {(c[1], c[2]) for c in chosen}
    extra = []
    for _, h_index, u_index, unit in chosen:
        if not ITEM.match(unit) or not hits[h_index].source.get("article"):
            continue
        units = lines[h_index]
        lead = u_index - 1
        while lead >= 0 and ITEM.match(units[lead]):
            lead -= 1
        if lead >= 0 and (h_index, lead) not in have:
            have.add((h_index, lead))
            extra.append((0.0, h_index, lead, units[lead]))
    return extra


REFERENCE = re.compile(r"제\s*(\d+)\s*조(?:\s*의\s*(\d+))?(?:\s*부터\s*제\s*(\d+)\s*조\s*까지)?")
"""An article named in a statute's text: "제60조제1항", "제43조의2", "제59조부터 제61조까지"."""
OTHER_LAW = re.compile(
    r"(?:「[^」]*」|(?<![가-힣])(?<!이 )(?:같은 )?법)\s*"
    r"(?:제\s*\d+\s*조(?:\s*의\s*\d+)?(?:제\s*\d+\s*[항호])*(?:\s*(?:[,ㆍ·]|및|또는|부터|까지)\s*)*)+")
"""Articles of another statute: a list after a quoted law's name ("「형법」 제8조, 제9조"), after
"같은 법", or after a bare "법" (in a 시행령, its parent act); "이 법" is the statute itself."""
REFERENCE_BONUS = 0.5
"""What naming another evidence article adds when choosing a passage's line: the line of
제110조 (벌칙) that lists 제60조 is the one to quote when 제60조 is evidence too."""


def _named(unit: str) -> set[str]:
    """The articles of its own statute that a line names ("제60조", "제43조의2")."""
    if "조" not in unit:
        return set()
    own = OTHER_LAW.sub(" ", unit)
    named: set[str] = set()
    for m in REFERENCE.finditer(own):
        first, sub, last = int(m.group(1)), m.group(2), m.group(3)
        if last is not None and 0 < int(last) - first <= 100:
            named.update(f"제{n}조" for n in range(first, int(last) + 1))
        else:
            named.add(f"제{first}조" + (f"의{sub}" if sub else ""))
    return named


def _naming_rank(unit: str, hit: Any, ranks: dict[tuple[Any, Any], int]) -> int | None:
    """The best evidence rank of the other articles of `hit`'s statute that `unit` names
    (0 for the first passage), or None when it names none."""
    title, own = hit.source.get("title"), hit.source.get("article")
    if not own:
        return None
    found = [ranks[(title, a)] for a in _named(unit) if a != own and (title, a) in ranks]
    return min(found) if found else None


Candidate = tuple[float, int, int, str, int | None]
"""A line that may be quoted: score, passage index, line index, text, and the evidence rank
of the other article it names (None: names none)."""


def _referring(chosen: list[tuple[float, int, int, str]],
               candidates: list[Candidate]) -> list[tuple[float, int, int, str]]:
    """For each quoted passage but the first, its line naming the highest-ranked other
    evidence article, when none of its quoted lines names one: "다음 각 호의 어느 하나에
    해당하는 자는 … 처한다" alone does not say that 제60조 is among them."""
    have = {(c[1], c[2]) for c in chosen}
    extra = []
    for h_index in sorted({c[1] for c in chosen} - {0}):
        naming = [c for c in candidates if c[1] == h_index and c[4] is not None]
        if naming and not any((c[1], c[2]) in have for c in naming):
            best = min(naming, key=lambda c: (c[4], -c[0]))
            extra.append(best[:4])
    return extra


def quote(evidence: Evidence) -> tuple[str, list[dict[str, Any]]]:
    """The best sentences of the top evidence, each with its citation number."""
    query, hits, analyzer = evidence.query, evidence.hits, evidence.analyzer
    mapping = evidence.synonyms
    if not hits:
        return _with_idle_tools(NO_EVIDENCE, evidence.idle_tools), []
    terms = analyzer.morphemes(query)
    terms += synonyms.expand(analyzer.morphemes(query, keep_stopwords=True), mapping or {})
    wanted = set(terms)
    best = hits[0].score or 1.0
    quoted = list(itertools.takewhile(lambda h: h.score >= 0.5 * best, hits[:MAX_PASSAGES]))
    ranks: dict[tuple[Any, Any], int] = {}
    for rank, h in enumerate(quoted):
        if h.source.get("article"):
            ranks.setdefault((h.source.get("title"), h.source["article"]), rank)
    units_of = [_units(hit.text, analyzer, wrapped=hit.source.get("format") == "pdf")
                for hit in quoted]
    scored: list[Candidate] = []
    for h_index, hit in enumerate(quoted):
        for u_index, unit in enumerate(units_of[h_index]):
            morphs = analyzer.morphemes(unit)
            overlap = len(wanted.intersection(morphs))
            naming = _naming_rank(unit, hit, ranks) if u_index > 0 else None
            if not overlap and naming is None and u_index > 0:
                continue
            score = overlap / math.sqrt(1 + len(morphs)) + hit.score / best
            if u_index == 0 and hit.source.get("article"):
                score += 0.5  # the article's title line says what the article is about
            scored.append((score, h_index, u_index, unit, naming))
    candidates = [c[:4] for c in scored]
    chosen = sorted(candidates, key=lambda c: -c[0])[:MAX_SENTENCES]
    chosen += _see_also(chosen, scored)
    chosen += _referring(chosen, scored)
    chosen += _body_lines(chosen, candidates, hits, units_of)
    chosen += _lead_ins(chosen, hits, units_of)
    chosen += _short_lists(chosen, candidates, units_of)
    chosen.sort(key=lambda c: (c[1], c[2]))
    used: dict[int, list[str]] = {}
    last: dict[int, int] = {}
    for _, h_index, u_index, unit in chosen:
        if h_index in last and u_index > last[h_index] + 1:
            unit = GAP + unit  # lines left out between two quoted ones: say so
        used.setdefault(h_index, []).append(unit)
        last[h_index] = u_index
    lines = ["질문과 관련된 근거입니다. / Relevant passages:", ""]
    citations = []
    for number, (h_index, units) in enumerate(used.items(), 1):
        hit = hits[h_index]
        quote = " ".join(units)
        lines.append(f"[{number}] {label(hit.source)}: {quote}")
        citations.append(citation(number, hit, quote))
    if not HANGUL.search(query):
        lines += ["", ASK_IN_KOREAN]
    lines += ["", EXTRACTIVE_NOTE]
    return _with_idle_tools("\n".join(lines), evidence.idle_tools), citations


IDLE_TOOLS_NAMED = 3
"""Tools named in that line ("등" / "…" stands for the rest; no count: the line carries no
figure that the evidence lacks)."""


def _with_idle_tools(text: str, tools: list[str]) -> str:
    """`text`, and a line saying the assistant's tools need a model that can call them."""
    if not tools:
        return text
    names = ", ".join(tools[:IDLE_TOOLS_NAMED])
    more = len(tools) > IDLE_TOOLS_NAMED
    return (f"{text}\n※ 이 도우미의 도구({names}{' 등' if more else ''})는 도구를 호출할 수 있는 "
            "모델에서만 실행됩니다 ([packs] backend: llamacpp 또는 openai 백엔드). 이 답은 문서 "
            f"인용뿐입니다. / Its tools ({names}{', …' if more else ''}) run only on a model that "
            "can call tools; this answer only quotes documents.")
