"""Precompute a pack's passage vectors, so that installing it with that embedder need not run
the model over its documents (see docs/packs.md, "Shipped vectors").

    .venv/bin/python scripts/embed_pack.py law [--embedder e5]

It installs the pack into a throwaway index exactly as `jaju packs install NAME --embedder e5`
does (same parsers, same chunking, same text embedded per chunk, same embedder) and writes every
chunk's vector to `src/jaju/packs/NAME/data/vectors/e5.npz` (`jaju.packs.base.write_vectors`).
Vectors already in that file are reused for chunks whose text is unchanged, so after an edited
statute only its changed chunks are embedded; chunks that are gone are dropped. `--fresh`
embeds everything again (after a new model version). Each `[[knowledge]]` entry of the pack
that should use the file names it in pack.toml: `vectors = { e5 = "data/vectors/e5.npz" }`.

On a shared machine: `nice -n 19 env OMP_WAIT_POLICY=passive JAJU_E5_THREADS=2 ...`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jaju.knowledge.embed import model_identity
from jaju.knowledge.index import KnowledgeIndex, passage_key
from jaju.packs.base import install_knowledge, read_vectors, write_vectors
from jaju.plugins import get_plugin_manager, packs, parsers


class RecordingIndex(KnowledgeIndex):
    """An index that keeps every passage vector it is asked for, and counts what it embedded."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.seen: dict[bytes, np.ndarray] = {}
        self.embedded_texts = 0
        self.embedded_chars = 0
        self.embed_seconds = 0.0

    def embed_passages(self, spec: str, texts: list[str]) -> np.ndarray:
        known = self.precomputed.get(spec, {})
        fresh = [t for t in texts if passage_key(t) not in known]
        self.embedded_texts += len(fresh)
        self.embedded_chars += sum(len(t) for t in fresh)
        started = time.perf_counter()
        vectors = super().embed_passages(spec, texts)
        self.embed_seconds += time.perf_counter() - started
        self.seen.update(zip(map(passage_key, texts), vectors, strict=True))
        self.precomputed[spec] = {**known, **self.seen}  # a text met again is not embedded again
        return vectors


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pack", help="pack name (law, finance, ...)")
    parser.add_argument("--embedder", default="e5", help="embedder spec (default: e5)")
    parser.add_argument("--out", type=Path, help="default: the pack's data/vectors/SPEC.npz")
    parser.add_argument("--fresh", action="store_true", help="embed every chunk again")
    args = parser.parse_args(argv)

    found = packs(get_plugin_manager())
    if args.pack not in found:
        parser.error(f"no pack {args.pack!r} (have: {', '.join(sorted(found))})")
    pack = found[args.pack]
    if args.out is None and not args.embedder.isidentifier():
        parser.error(f"name the file for {args.embedder!r} with --out")
    out = args.out or Path(pack.root or ".") / "data" / "vectors" / f"{args.embedder}.npz"

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        index = RecordingIndex(Path(tmp) / "jaju.db")
        if out.exists() and not args.fresh:
            old = read_vectors(out)
            if (old.embedder, old.model) == (args.embedder, model_identity(args.embedder)):
                index.precomputed[args.embedder] = old.vectors
                print(f"reusing {len(old.vectors)} vectors from {out} ({old.model})")
            else:
                print(f"{out} was made by {old.model}: embedding every chunk")
        done = install_knowledge(pack, index, parsers(get_plugin_manager()),
                                 embedder=args.embedder)
        index.close()
    seconds = time.perf_counter() - started
    for source in done:
        print(f"{source.kb.name}: {source.files} files, {source.chunks} chunks"
              + "".join(f"\n  {note}" for note in source.notes))
        if source.failures:
            print("failed:\n  " + "\n  ".join(source.failures), file=sys.stderr)
            return 1
    write_vectors(out, args.embedder, index.seen)
    rate = index.embedded_chars / index.embed_seconds if index.embed_seconds else 0.0
    print(f"wrote {out}: {len(index.seen)} vectors, {out.stat().st_size / 1e6:.2f} MB; "
          f"embedded {index.embedded_texts} chunks ({index.embedded_chars} characters) in "
          f"{index.embed_seconds:.0f} s ({rate:.0f} characters/s); {seconds:.0f} s wall in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
