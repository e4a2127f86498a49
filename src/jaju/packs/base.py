"""The pack model: what a pack bundles, read from its `pack.toml`, and how it is installed.

A pack is content that specialises jaju for a field. A plugin registers it through the
`register_packs` hook (and its tools through `register_tools`, namespaced by the pack's name);
`pack_hooks` makes both:

```python
PACK = load_pack(Path(__file__).parent / "pack.toml", tools=[annual_leave_days, ...])
register_packs, register_tools = pack_hooks(PACK)
```

`jaju packs install NAME` ingests the pack's knowledge sources (`install_knowledge`) and records
the installation; from then on `AppState.build` serves the pack's assistants
(`Pack.assistant_settings`), unless jaju.toml defines an assistant of the same name.

A knowledge source may ship its passages' vectors for an embedder, precomputed
(`vectors = { e5 = "data/vectors/e5.npz" }`, made by `scripts/embed_pack.py`): installing with
that embedder then takes a chunk's vector from the file when the file has its exact text, and
embeds the rest (`read_vectors`, `write_vectors`).

A knowledge source may also ship everyday glosses of its statutes' articles
(`glosses = "data/glosses"`: one `<statute file stem>.tsv` each, `제60조<TAB>연차 며칠 / …`): the
words people ask with that the article's legal text lacks. They are indexed and embedded with
their article (`Chunk.keywords`) and never shown (`read_glosses`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jaju.config import AssistantSettings
from jaju.errors import ConfigError
from jaju.hookspecs import hookimpl
from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.embed import model_identity
from jaju.knowledge.index import SHARED_TENANT, KnowledgeBase, KnowledgeIndex
from jaju.tools.model import Permissions, Tool, from_function

ASSISTANT_KEYS = {"name", "description", "system_prompt", "knowledge", "knowledge_filter",
                  "top_k", "tools", "guards", "tool_choice", "max_tool_rounds", "temperature",
                  "top_p", "max_tokens", "rerank", "rerank_weights"}


@dataclass(frozen=True)
class KnowledgeSource:
    """A knowledge base the pack ships: its documents (files or folders) and dictionary."""

    name: str
    sources: tuple[Path, ...]
    description: str = ""
    shared: bool = True
    synonyms: str | None = None
    """A shipped dictionary name (everyday-legal) or a TSV path."""
    embedder: str | None = None
    """An embedder spec for the dense signal (see jaju.knowledge.embed), or None."""
    vectors: dict[str, Path] = field(default_factory=dict)
    """Precomputed passage vectors shipped with the pack: embedder spec -> .npz file."""
    glosses: Path | None = None
    """A folder of everyday glosses, one `<document file stem>.tsv` per source document
    (`read_glosses`): indexed with their articles as `Chunk.keywords`."""


@dataclass(frozen=True)
class PackTool:
    name: str
    function: Callable[..., Any]
    effect: str = "read"

    def tool(self) -> Tool:
        return from_function(self.function, permissions=Permissions(
            effect="write" if self.effect == "write" else "read"))


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: Path
    frozen: bool = False
    note: str = ""


@dataclass(frozen=True)
class Pack:
    name: str
    title: str
    version: str
    description: str = ""
    assistants: tuple[dict[str, Any], ...] = ()
    """As in pack.toml: name, description, system_prompt, knowledge, knowledge_filter, top_k,
    tools (names of this pack's tools, without the namespace), guards, …"""
    knowledge: tuple[KnowledgeSource, ...] = ()
    tools: tuple[PackTool, ...] = ()
    evals: tuple[EvalSet, ...] = ()
    root: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tool_name(self, name: str) -> str:
        """A pack tool's registered name: `law.annual_leave_days`."""
        return name if "." in name else f"{self.name}.{name}"

    def register_tools(self, register: Callable[..., None]) -> None:
        """Register the pack's tools through a `register_tools` hook, namespaced by the pack."""
        for item in self.tools:
            register(item.tool(), namespace=self.name)

    def assistant_settings(self, backend: str, *, tools: bool = True
                           ) -> dict[str, AssistantSettings]:
        """The pack's assistants as `[assistants.X]` settings on `backend`; without `tools`
        (a backend that cannot call tools) they answer from knowledge only."""
        out: dict[str, AssistantSettings] = {}
        for spec in self.assistants:
            body = {k: v for k, v in spec.items() if k != "name"}
            body["tools"] = [self.tool_name(t) for t in body.get("tools", [])] if tools else []
            out[spec["name"]] = AssistantSettings.model_validate({**body, "backend": backend})
        return out

    def eval_set(self, name: str | None = None) -> EvalSet:
        """The named evaluation set, or the frozen one (else the first)."""
        if not self.evals:
            raise ConfigError(f"팩 '{self.name}'에 평가 세트가 없습니다 / pack has no eval set")
        if name is None:
            return next((e for e in self.evals if e.frozen), self.evals[0])
        for e in self.evals:
            if e.name == name:
                return e
        raise ConfigError(f"팩 '{self.name}'에 평가 세트 '{name}'이(가) 없습니다 / no eval set "
                          f"{name!r} (have: {', '.join(e.name for e in self.evals)})")


def load_pack(path: Path, tools: Iterable[Callable[..., Any]] = ()) -> Pack:
    """A pack from its `pack.toml`; paths are relative to that file, tool names resolve to
    the given functions (by `__name__`)."""
    root = path.parent
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: 팩 설명을 읽을 수 없습니다 / cannot read pack.toml: {e}") from e
    head = raw.get("pack") or {}
    for key in ("name", "title", "version"):
        if not head.get(key):
            raise ConfigError(f"{path}: [pack].{key} 이(가) 없습니다 / missing [pack].{key}")
    functions = {fn.__name__: fn for fn in tools}
    pack_tools = []
    for t in raw.get("tools", []):
        if t["name"] not in functions:
            raise ConfigError(f"{path}: tools.{t['name']}: 함수가 없습니다 / no such function")
        pack_tools.append(PackTool(t["name"], functions[t["name"]], t.get("effect", "read")))
    names = {t.name for t in pack_tools}
    for a in raw.get("assistants", []):
        unknown = set(a) - ASSISTANT_KEYS
        if unknown:
            raise ConfigError(f"{path}: assistants.{a.get('name')}: 알 수 없는 키 / unknown "
                              f"keys {sorted(unknown)}")
        # a dotted name is another source's tool (an OpenAPI service or MCP server the
        # operator configures, e.g. orders.get_order_status); only bare names must be the pack's
        if missing := {t for t in a.get("tools", []) if "." not in t} - names:
            raise ConfigError(f"{path}: assistants.{a.get('name')}.tools: {sorted(missing)} "
                              "are not tools of this pack")
    knowledge = tuple(
        KnowledgeSource(name=k["name"], sources=tuple(root / s for s in k.get("sources", [])),
                        description=k.get("description", ""), shared=k.get("shared", True),
                        synonyms=_synonyms(root, k.get("synonyms")), embedder=k.get("embedder"),
                        vectors={spec: root / file for spec, file in k.get("vectors", {}).items()},
                        glosses=_glosses_folder(path, root, k.get("glosses")))
        for k in raw.get("knowledge", []))
    evals = tuple(EvalSet(e["name"], root / e["path"], bool(e.get("frozen", False)),
                          e.get("note", "")) for e in raw.get("evals", []))
    return Pack(name=head["name"], title=head["title"], version=str(head["version"]),
                description=head.get("description", ""),
                assistants=tuple(raw.get("assistants", [])), knowledge=knowledge,
                tools=tuple(pack_tools), evals=evals, root=root)


def pack_hooks(pack: Pack | Callable[[], Pack]
               ) -> tuple[Callable[..., None], Callable[..., None]]:
    """A pack plugin's two hooks, `register_packs` (the pack) and `register_tools` (its tools,
    namespaced by its name), for the plugin module to bind under those names:

        register_packs, register_tools = pack_hooks(pack)

    `pack` is the Pack, or a function returning it (called when the hooks run, so that
    reading pack.toml waits until jaju asks). A plugin with more hooks (a guard) adds its own.
    """
    def get() -> Pack:
        return pack() if callable(pack) else pack

    @hookimpl
    def register_packs(register: Callable[..., None]) -> None:
        register(get())

    @hookimpl
    def register_tools(register: Callable[..., None]) -> None:
        get().register_tools(register)

    return register_packs, register_tools


def _glosses_folder(path: Path, root: Path, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: knowledge.glosses 는 폴더 경로여야 합니다 / knowledge.glosses "
                          f"must be a folder path, not {value!r}")
    return root / value


def _synonyms(root: Path, value: str | None) -> str | None:
    """A shipped dictionary's name stays a name; a file is resolved beside pack.toml."""
    if not value:
        return None
    return str(root / value) if value.endswith(".tsv") else value


@dataclass
class InstalledSource:
    kb: KnowledgeBase
    files: int
    chunks: int
    failures: list[str]
    notes: list[str] = field(default_factory=list)


NO_EMBEDDER = ("", "none")


def install_knowledge(pack: Pack, index: KnowledgeIndex, parsers: dict[str, Any],
                      tenant: str | None = None, *, embedder: str | None = None,
                      on_file: Callable[..., None] | None = None) -> list[InstalledSource]:
    """Ingest the pack's knowledge sources: shared, or `tenant`'s own when given, each with
    its synonym dictionary and an embedder for the dense signal: `embedder` ("none": lexical
    only), else the source's own. When the source's own cannot load (its package is not
    installed), the knowledge base stays lexical and a note says so; an `embedder` asked for
    explicitly must load. A source that ships vectors for that embedder (`vectors`) gives each
    chunk whose exact text is in the file its shipped vector; the others are embedded."""
    from jaju.knowledge.ingest import collect_files, gloss_keywords, ingest, read_glosses

    out = []
    for source in pack.knowledge:
        files = collect_files(source.sources)
        # glosses first: a bad gloss file stops the install before its knowledge base exists
        glosses = read_glosses(source.glosses) if source.glosses else {}
        keywords, notes = gloss_keywords(glosses, files)
        owner = tenant or (SHARED_TENANT if source.shared else "local")
        kb = index.create(owner, source.name, source.description)
        if source.synonyms:
            kb = index.set_synonyms(kb, synonym_dicts.load(source.synonyms, index.analyzer))
        spec = embedder if embedder is not None else source.embedder
        spec = None if spec in NO_EMBEDDER else spec
        if spec and spec in source.vectors:  # before set_embedder, which may embed chunks in
            notes += _use_shipped_vectors(index, source, spec)
        if spec != kb.embedder:
            try:
                kb = index.set_embedder(kb, spec)
            except ConfigError as e:
                if embedder is not None:
                    raise
                notes.append(f"{source.name}: 의미 검색 없이 설치합니다 / installed without the "
                             f"dense signal ({e})")
        report = ingest(index, kb, files, parsers, on_file=on_file, keywords=keywords)
        out.append(InstalledSource(
            kb, len(report.results), sum(r.chunks for r in report.results),
            [f"{r.path}: {r.reason}" for r in report.results if r.status == "failed"], notes))
    return out


# --- shipped vectors ---------------------------------------------------------------------------------

VECTORS_FORMAT = 1


@dataclass
class ShippedVectors:
    """A pack's precomputed passage vectors: `passage_key` of the text embedded -> vector."""

    embedder: str
    model: str | None
    dim: int
    vectors: dict[bytes, np.ndarray]


def write_vectors(path: Path, embedder: str, vectors: dict[bytes, np.ndarray]) -> None:
    """Write vectors as an .npz: `meta` (JSON: format, embedder spec, model, dim, count), `keys`
    (N x 32 bytes, SHA-256 of each text, sorted) and `vectors` (N x dim float16)."""
    keys = sorted(vectors)
    matrix = np.stack([vectors[k] for k in keys]).astype(np.float16)
    meta = {"format": VECTORS_FORMAT, "embedder": embedder, "model": model_identity(embedder),
            "dim": int(matrix.shape[1]), "count": len(keys),
            "key": "sha256 of the text embedded for a chunk (jaju.knowledge.index.passage_key)"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object: numpy would otherwise append .npz to the name
        np.savez_compressed(f, meta=np.array(json.dumps(meta, ensure_ascii=False)),
                            keys=np.frombuffer(b"".join(keys), np.uint8).reshape(-1, 32),
                            vectors=matrix)


def read_vectors(path: Path) -> ShippedVectors:
    """The vectors `write_vectors` wrote, as float32 rows normalised again (float16 rounding)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != VECTORS_FORMAT:
            raise ConfigError(f"{path}: 벡터 파일 형식이 다릅니다 / unknown vectors format "
                              f"{meta.get('format')!r}")
        keys = [bytes(row) for row in data["keys"]]
        matrix = data["vectors"].astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return ShippedVectors(meta["embedder"], meta.get("model"), int(meta["dim"]),
                          dict(zip(keys, matrix, strict=True)))


def _use_shipped_vectors(index: KnowledgeIndex, source: KnowledgeSource, spec: str) -> list[str]:
    """Hand the source's shipped vectors for `spec` to the index (`index.precomputed`), when
    they were made by the model this machine has; else a note, and every chunk is embedded."""
    path = source.vectors[spec]
    try:
        shipped = read_vectors(path)
    except (OSError, ValueError, KeyError, ConfigError) as e:
        return [f"{source.name}: 미리 계산한 벡터를 읽을 수 없어 모두 임베딩합니다 / cannot read "
                f"the shipped vectors, embedding every chunk ({path}: {e})"]
    model = model_identity(spec)
    if model is None:
        return []  # the embedder's package is missing: set_embedder says so
    if shipped.embedder != spec or shipped.model != model:
        return [f"{source.name}: 미리 계산한 벡터가 다른 모델의 것이라 모두 임베딩합니다 / the "
                f"shipped vectors were made by {shipped.model or shipped.embedder}, this is "
                f"{model}: embedding every chunk (scripts/embed_pack.py makes them again)"]
    index.precomputed.setdefault(spec, {}).update(shipped.vectors)
    return []
