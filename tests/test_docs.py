"""The docs are tested: every shell and Python block in README.md and docs/*.md runs as written.

How it works (keep this note true when you change the mechanism):

- Each Markdown file is one test (new files under docs/ are picked up by themselves). Its fenced
  blocks tagged `sh`, `bash`, `shell` or `console` and `python` run in the order they appear,
  in ONE bash script (`set -eEo pipefail`), as a reader pastes them one after another: variables
  (`KEY=$(...)`, `export JAJU_HOME=...`) carry over from block to block. Python blocks run
  through the venv's python; the venv's bin directory is first on PATH, so a bare `jaju` works.
- The script runs in a scratch directory that looks like a fresh clone after `make demo`:
  data/, demo/, examples/, bench/, Makefile and pyproject.toml are linked from the repository,
  `.venv` is linked to the running venv, HOME is empty (nothing of the developer's ~/.jaju is
  read) and JAJU_HOME/JAJU_CONFIG are unset.
- The demo is running for every file: `make -n demo` gives its recipe; the session runs its
  ingest line once (into a template copied for each file to `.jaju-demo`) and each file starts
  its serve line on a free port. `127.0.0.1:8000` and `localhost:8000` in a block are rewritten
  to that port.
- A line that runs `jaju serve` (it would serve until interrupted) is started in the background
  on a free port; it must answer /health within 60 s, and is then stopped.
- A shell line ending in `# → TEXT` must print TEXT (stdout or stderr); in a Python block, the
  block's output must contain the TEXT of every `print(...)  # → TEXT` line. (Elsewhere in
  Python an arrow in a comment is just prose.)
- Files the docs name as the reader's own (./규정, ./매뉴얼.hwp, ./보고서.pdf, ./문서함, and the
  GGUFs ~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf and ./seed-1.5b-q4_k_m.gguf as tiny random
  models) are made by `make_user_files` from tests/fixtures and tests/tinymodel.py before the
  blocks run. A doc that names another file of its reader needs an entry there.
- A block that cannot run here gets, on the line right before it (blank lines allowed),
  `<!-- not-tested: REASON -->`; the reason is required. Keep such blocks few.
- `toml` blocks must parse (tomllib) and be valid jaju.toml, except a block that starts with
  `# pyproject.toml` or `# pack.toml` (a plugin package's own files). Other languages (json, http, plain) are
  not run.
- Any command that exits non-zero fails the file's test; the report names the file and line.
- `make` and `pip install` are refused in runnable blocks (they would change the shared venv):
  mark such blocks not-tested.
- A runnable Python block with `@hookimpl` (a plugin) is also loaded for real: registered with
  jaju's plugin manager, which checks its hooks against the contract, and every hook called.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port
from tinymodel import write_tiny_gguf

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "shell", "console"}
RUNNABLE = SHELL | {"python"}
NOT_TESTED = re.compile(r"<!--\s*not-tested:\s*(.*?)\s*-->", re.S)
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
VENV_BIN = Path(sys.executable).parent
LINKED = ["data", "demo", "examples", "bench", "Makefile", "pyproject.toml", "src", "tests"]


@dataclass
class Block:
    path: Path
    line: int  # line of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None  # the not-tested reason

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        before = i - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        skip = None
        if before >= 0 and lines[before].strip().endswith("-->"):
            start = before
            while start > 0 and "<!--" not in lines[start]:
                start -= 1
            marker = NOT_TESTED.search("\n".join(lines[start:before + 1]))
            if marker:
                skip = marker.group(1).strip()
                assert skip, f"{path.name}:{i + 1}: not-tested needs a reason"
        found.append(Block(path, i + 1, lang, "\n".join(lines[i + 1:end]), skip))
        i = end + 1
    return found


def test_untagged_blocks_hold_no_commands():
    """A jaju command in a block without a language would escape these tests."""
    for path in DOCS:
        for b in blocks(path):
            if b.lang in {"", "text"} and re.search(r"^\s*(\.venv/bin/)?jaju ", b.text, re.M):
                raise AssertionError(f"{b.where}: a jaju command in an untagged block; tag it sh")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_toml_blocks_are_valid_config(path):
    """Every toml block parses, and its sections are valid jaju.toml (assistants only when the
    block defines their backend: many blocks are fragments)."""
    from jaju.config import Settings

    for b in blocks(path):
        if b.lang != "toml" or b.skip:
            continue
        try:
            data = tomllib.loads(b.text)
        except tomllib.TOMLDecodeError as e:
            raise AssertionError(f"{b.where}: invalid TOML: {e}") from e
        if b.text.lstrip().startswith(("# pyproject.toml", "# pack.toml")):
            continue  # a package's pyproject.toml or a pack.toml: parsing is the check
        sections = {k: v for k, v in data.items() if k != "assistants"}
        assistants = data.get("assistants") or {}
        if assistants and all(isinstance(a, dict) and a.get("backend") in data.get("backends", {})
                              for a in assistants.values()):
            sections["assistants"] = assistants
        try:
            Settings.model_validate(sections)
        except ValueError as e:
            raise AssertionError(f"{b.where}: not a valid jaju.toml: {e}") from e


def test_plugin_blocks_load_as_plugins():
    """A plugin in the docs is registered as jaju registers one (its hooks must match the
    hookspecs) and its hooks run without failing."""
    import types

    from jaju.plugins import backend_types, collect, get_plugin_manager, guard_types, packs, parsers

    plugins = [b for path in DOCS for b in runnable(path)
               if b.lang == "python" and "@hookimpl" in b.text]
    assert plugins  # docs/tools.md has one
    for b in plugins:
        module = types.ModuleType(f"doc_plugin_{b.line}")
        exec(compile(b.text, b.where, "exec"), module.__dict__)
        pm = get_plugin_manager(load_entrypoints=False)
        try:
            pm.register(module, name=module.__name__)
        except Exception as e:
            raise AssertionError(f"{b.where}: not a valid plugin: {e}") from e
        backend_types(pm), parsers(pm), guard_types(pm), packs(pm)
        collect(pm, "register_tools", lambda *a, **kw: None, services=None)
        assert not pm.broken, f"{b.where}: {pm.broken}"


# --- the reader's machine ----------------------------------------------------------------------


def demo_recipe(work: Path) -> tuple[str, str]:
    """The ingest and serve lines of `make demo` in `work` (printed by make -n, not run)."""
    out = subprocess.run(["make", "-n", "-s", "--no-print-directory", "demo"], cwd=work,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    lines = [line.replace("\\\n", " ") for _, line in logical_lines(out)]
    ingest = [line for line in lines if re.search(r"bin/jaju (ingest|packs install)\b", line)]
    serve = [line for line in lines if re.search(r"bin/jaju serve\b", line)]
    assert len(ingest) == 1 and len(serve) == 1, out
    return ingest[0], serve[0]


def scratch_dir(base: Path) -> Path:
    """A directory that looks like a fresh clone (links to the repository's files)."""
    work = base / "clone"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    (work / ".venv").symlink_to(VENV_BIN.parent)
    return work


def reader_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAJU_")}
    env.update(HOME=str(home), PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
               COLUMNS="80", NO_COLOR="1", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """`make demo`'s ingest, once: its home is copied for every file."""
    base = tmp_path_factory.mktemp("demo")
    work = scratch_dir(base)
    home = base / "home"
    home.mkdir()
    ingest = demo_recipe(work)[0]  # the law pack with e5: its vectors ship with the pack
    out = subprocess.run(["bash", "-c", ingest], cwd=work, env=reader_env(home),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"make demo's ingest failed:\n{out.stdout}\n{out.stderr}"
    return work / ".jaju-demo"


def make_user_files(work: Path, home: Path) -> None:
    """The files the docs name as the reader's own."""
    fixtures = ROOT / "tests" / "fixtures" / "docs"
    rules = work / "규정"
    rules.mkdir()
    (rules / "여비규정.md").write_text(
        "# 여비 규정\n\n## 제5조(출장비 정산)\n\n출장을 마친 직원은 5일 이내에 출장비 정산서를 "
        "제출한다. 숙박비는 영수증에 따라 실비로 정산한다.\n", encoding="utf-8")
    shutil.copy(fixtures / "hwplib_table.hwp", rules / "old.hwp")
    shutil.copy(fixtures / "hwplib_fields_prose.hwp", work / "매뉴얼.hwp")
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(work / "보고서.pdf"))
    pdf.drawString(72, 720, "Business trip report: travel expenses settled within 5 days.")
    pdf.save()
    inbox = work / "문서함"
    inbox.mkdir()
    (inbox / "신청서.txt").write_text("신청인 홍길동, 주민등록번호 880101-1234568, "
                                      "연락처 010-1234-5678\n", encoding="utf-8")
    (inbox / "안내.txt").write_text("개인정보가 없는 안내문입니다.\n", encoding="utf-8")
    (work / "메모.txt").write_text("회의 메모: 담당자 연락처 010-2222-3333\n", encoding="utf-8")
    tiny = write_tiny_gguf(work / "seed-1.5b-q4_k_m.gguf")
    (home / "models").mkdir()
    shutil.copy(tiny, home / "models" / "qwen2.5-1.5b-instruct-q4_k_m.gguf")


# --- turning blocks into one script ------------------------------------------------------------

PRELUDE = r'''
set -eEo pipefail
trap 'echo "::failed at script line $LINENO (exit $?)" >&2' ERR
_serve_check() {  # _serve_check PORT CMD...: serve in the background, wait for /health, stop
    local port=$1; shift
    local log; log=$(mktemp)
    "$@" >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$port/health" >/dev/null; then
            kill "$pid"; wait "$pid" || true; sed -n '1,3p' "$log"; return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; return 1; fi
        sleep 0.1
    done
    kill "$pid"; cat "$log" >&2; return 1
}
'''

SERVE = re.compile(r"^\s*(\S*/)?jaju\s+serve\b")
EXPECT = re.compile(r"\s#\s*→\s*(.+)$")
UNSAFE = re.compile(r"(^|[;&|]\s*)(make\b|\S*pip3? install\b|\S*python3? -m pip install\b)")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(offset, line) with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for n, line in enumerate(text.splitlines()):
        pending = (pending[0], pending[1] + "\n" + line) if pending is not None else (n, line)
        if not line.rstrip().endswith("\\"):
            out.append(pending)
            pending = None
    if pending is not None:
        out.append(pending)
    return out


def shell_script(b: Block, demo_port: int, home: Path) -> str:
    text = re.sub(r"(127\.0\.0\.1|localhost):8000", f"127.0.0.1:{demo_port}", b.text)
    lines: list[str] = []
    for offset, line in logical_lines(text):
        if UNSAFE.search(line):
            raise AssertionError(
                f"{b.path.name}:{b.line + 1 + offset}: `{line.strip()}` would change the shared "
                "venv or run make: mark the block <!-- not-tested: REASON --> (the demo is "
                "started from make demo's recipe anyway)")
        if SERVE.match(line):
            args = [str(home) + a[1:] if a.startswith("~/") else a
                    for a in shlex.split(line, comments=True)]
            if "--port" in args:
                del args[args.index("--port"):args.index("--port") + 2]
            port = free_port()
            at = next(i for i, a in enumerate(args) if a == "serve") + 1
            args[at:at] = ["--port", str(port), "--log-level", "warning"]
            lines.append(f"_serve_check {port} {shlex.join(args)}")
        elif m := EXPECT.search(line):
            command, expected = line[:m.start()], m.group(1).strip()
            lines.append(f"__out=$({command.rstrip()} 2>&1)\nprintf '%s\\n' \"$__out\"\n{expect(expected)}")
        else:
            lines.append(line)
        lines[-1] = f"echo '::line {b.line + 1 + offset}' >&2\n" + lines[-1]
    return "\n".join(lines)


def expect(expected: str) -> str:
    return (f"grep -qF -- {shlex.quote(expected)} <<<\"$__out\" || "
            f"{{ echo \"::expected {expected}\" >&2; false; }}")


def python_script(b: Block, demo_port: int) -> str:
    text = re.sub(r"(127\.0\.0\.1|localhost):8000", f"127.0.0.1:{demo_port}", b.text)
    assert "__JAJU_PY__" not in text
    expected = [m.group(1).strip() for line in text.splitlines()
                if "print(" in line and (m := EXPECT.search(line))]
    run = f"python - <<'__JAJU_PY__'\n{text}\n__JAJU_PY__"
    if expected:
        run = f"__out=$({run}\n)\nprintf '%s\\n' \"$__out\"\n" + "\n".join(map(expect, expected))
    return f"echo '::line {b.line + 1}' >&2\n{run}"


def runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in RUNNABLE and not b.skip]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_runs_as_written(path, tmp_path, demo_home):
    todo = runnable(path)
    if not todo:
        pytest.skip("no runnable blocks")
    work = scratch_dir(tmp_path)
    home = tmp_path / "reader"
    home.mkdir()
    shutil.copytree(demo_home, work / ".jaju-demo")
    make_user_files(work, home)
    env = reader_env(home)
    port = free_port()
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115 - closed below
    demo = subprocess.Popen(["bash", "-c", f"{demo_recipe(work)[1]} --port {port} "
                             "--log-level warning"], cwd=work, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert demo.poll() is None, (tmp_path / "demo.log").read_text(encoding="utf-8")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.1)
        parts = [PRELUDE]
        for b in todo:
            parts.append(f"echo '::block {b.where}' >&2")
            parts.append(shell_script(b, port, home) if b.lang in SHELL
                         else python_script(b, port))
        script = "\n".join(parts) + "\n"
        (tmp_path / "doc.sh").write_text(script, encoding="utf-8")
        out = subprocess.run(["bash", str(tmp_path / "doc.sh")], cwd=work, env=env,
                             capture_output=True, text=True, timeout=900)
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        log.close()
    (tmp_path / "doc.out").write_text(out.stdout + "\n--- stderr\n" + out.stderr, encoding="utf-8")
    if out.returncode != 0:
        marks = re.findall(r"^::(block|line) (.*)$", out.stderr, re.M)
        block = next((v for k, v in reversed(marks) if k == "block"), "?")
        line = next((v for k, v in reversed(marks) if k == "line"), "?")
        file = block.rsplit(":", 1)[0]
        pytest.fail(
            f"{file}:{line} (block at {block}) failed with exit {out.returncode}\n"
            f"--- stdout (last 3000 characters)\n{out.stdout[-3000:]}\n"
            f"--- stderr (last 3000 characters)\n{out.stderr[-3000:]}", pytrace=False)


def test_the_mechanism_catches_a_wrong_doc(tmp_path):
    """A failing command, a missing `# →` text and a marker without a reason are caught."""
    doc = tmp_path / "doc.md"
    doc.write_text("```sh\necho hi   # → hi\necho hi   # → bye\n```\n\n"
                   "<!-- not-tested: needs a GPU -->\n\n```sh\nfalse\n```\n\n"
                   "```python\nprint('x')  # → x\n```\n", encoding="utf-8")
    found = blocks(doc)
    assert [b.skip for b in found] == [None, "needs a GPU", None]
    script = "\n".join([PRELUDE, shell_script(found[0], 8000, tmp_path),
                        python_script(found[2], 8000)])
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         env=reader_env(tmp_path))
    assert out.returncode != 0 and "::expected bye" in out.stderr
    good = "\n".join([PRELUDE, python_script(found[2], 8000)])
    assert subprocess.run(["bash", "-c", good], env=reader_env(tmp_path)).returncode == 0
    unsafe = Block(doc, 1, "sh", "make demo", None)
    with pytest.raises(AssertionError, match="shared venv"):
        shell_script(unsafe, 8000, tmp_path)
    (tmp_path / "bad.md").write_text("<!-- not-tested: -->\n```sh\nfalse\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="needs a reason"):
        blocks(tmp_path / "bad.md")
