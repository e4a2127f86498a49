"""The console in a real browser: headless Chromium (Debian's `chromium`, driven by the
`playwright` package through `executable_path`; `make browser` installs it) against a live
`jaju serve`. Each test writes a screenshot of its page to docs/console/ (the README shows them).

One server for the module: a shared statute base, tenant `a` (its own base holding a document
full of HTML and `<script>`), tenant `b` (a base tenant `a` must never see), and keys for an
admin and both tenants. Every request every page makes is recorded; one to any other origin
fails the test that made it.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import (
    FIXTURE_DOCS,
    ROOT,
    STATUTES,
    LiveServer,
    run_jaju,
    start_script,
    start_server,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if os.environ.get("CI") == "true":  # under CI the console must be tested, never skipped
    assert Path(CHROMIUM).exists(), "chromium is not installed (make browser)"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is not installed (make browser)")
sync_api = pytest.importorskip("playwright.sync_api")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "docs" / "console"
XSS = ("보안 점검 안내문입니다. <script>window.__xss = 1; alert('xss')</script> "
       "<img src=x onerror=\"window.__xss = 2\"> <b>굵은 글씨</b> 비밀번호는 분기마다 바꿉니다. "
       "담당자 주민등록번호는 900101-1234568 입니다.")
SECRET_B = "B사 내부 감사 결과 보고서: 이 문장은 테넌트 b만 볼 수 있습니다."
GLOSS = "입사 일주년 기념 휴가 며칠"
CONFIG = """
[guards]
pii = {{ RRN = "block" }}

[backends.extractive]
type = "extractive"

[assistants.law]
backend = "extractive"
description = "근로기준법 안내 (조문 인용)"
knowledge = ["statutes"]
top_k = 3

[backends.up]
type = "openai"
url = "{url}"
model = "t"

[mcp_servers.m]
command = "{python}"
args = ["{mcp}"]
env = {{ MCP_CALL_LOG = "{log}" }}

[assistants.calc]
backend = "up"
description = "계산 도구를 쓰는 어시스턴트"
tools = ["m.*"]

[assistants.docs]
backend = "extractive"
description = "우리 팀 문서"
knowledge = ["a-docs"]
top_k = 3
"""


class Site:
    def __init__(self, server: LiveServer, keys: dict[str, str], b_doc: int) -> None:
        self.server, self.keys, self.b_doc = server, keys, b_doc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


def _key(home: Path, tenant: str, *extra: str) -> str:
    out = run_jaju("keys", "create", "--tenant", tenant, *extra, home=home)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("console")
    home = tmp / "home"
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "xss.txt").write_text(XSS, encoding="utf-8")
    (docs / "b-secret.txt").write_text(SECRET_B, encoding="utf-8")
    glosses = tmp / "glosses"  # the law pack's kind: indexed with 제60조, never shown
    glosses.mkdir()
    (glosses / "근로기준법.tsv").write_text(f"제60조\t{GLOSS}\n", encoding="utf-8")
    for args in (["--kb", "statutes", "--shared", "--glosses", str(glosses),
                  str(STATUTES / "근로기준법.md")],
                 ["--kb", "a-docs", "--tenant", "a", str(docs / "xss.txt")],
                 ["--kb", "b-secret", "--tenant", "b", str(docs / "b-secret.txt")]):
        out = run_jaju("ingest", *args, home=home)
        assert out.returncode == 0, out.stderr
    keys = {"admin": _key(home, "ops", "--admin"), "a": _key(home, "a"), "b": _key(home, "b")}
    upstream, port = start_script("tool_upstream.py", str(tmp / "upstream.jsonl"))
    config = tmp / "jaju.toml"
    config.write_text(CONFIG.format(url=f"http://127.0.0.1:{port}/v1", python=sys.executable,
                                    mcp=Path(__file__).parent / "mcp_test_server.py",
                                    log=tmp / "mcp.jsonl"), encoding="utf-8")
    server = start_server(["--config", str(config)], home, tmp / "server.log")
    b_docs = httpx.get(f"http://127.0.0.1:{server.port}/v1/knowledge/b-secret/documents",
                       headers={"Authorization": f"Bearer {keys['b']}"}).json()["data"]
    try:
        yield Site(server, keys, b_docs[0]["id"])
    finally:
        server.stop()
        upstream.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Recorder:
    """Every request a page makes, and anything that should never happen in it."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.urls: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []

    def foreign(self) -> list[str]:
        return [u for u in self.urls if not (u.startswith(self.origin + "/") or u == self.origin
                                             or u.startswith(("data:", "blob:")))]


@pytest.fixture
def page(site: Site, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ko-KR",
                                  accept_downloads=True)
    tab = context.new_page()
    seen = Recorder(site.url)
    tab.on("request", lambda r: seen.urls.append(r.url))
    tab.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    tab.on("pageerror", lambda e: seen.errors.append(str(e)))
    tab.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text
           and seen.errors.append(m.text))  # any CSP violation by the console's own code
    tab.seen = seen
    yield tab
    context.close()
    assert not seen.foreign(), f"requests to another origin: {seen.foreign()}"
    assert not seen.dialogs, f"a script ran a dialog: {seen.dialogs}"
    assert not seen.errors, f"errors in the page: {seen.errors}"


def sign_in(page: Any, site: Site, who: str, hash_: str = "#/chat") -> None:
    page.goto(f"{site.url}/{hash_}")
    page.fill("#key", site.keys[who])
    page.keyboard.press("Enter")
    page.wait_for_selector("header nav")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(150)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_sign_in_every_page_and_no_other_origin(site: Site, page: Any) -> None:
    response = page.goto(site.url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    page.wait_for_selector("#key")
    shot(page, "signin")
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert "키가 올바르지 않습니다" in page.inner_text("main")
    page.fill("#key", site.keys["admin"])
    page.click("button[type=submit]")
    page.wait_for_selector("header nav")
    nav = page.inner_text("header nav")
    for label in ("채팅", "지식", "도구·플러그인", "API 키", "사용량", "감사 로그"):
        assert label in nav
    # keyboard alone: Tab reaches the links and Enter follows one
    page.focus("header nav a[href='#/knowledge']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#bases")
    bases = page.inner_text("#bases")  # an admin sees every tenant's knowledge bases
    assert "statutes" in bases and "a-docs" in bases and "b-secret" in bases
    page.click("#bases a:has-text('b-secret')")
    page.click("#documents a:has-text('b-secret.txt')")
    page.wait_for_selector("#chunks .chunk")
    assert SECRET_B in page.inner_text("#chunks")
    assert "tenant=b" in page.url
    for name, selector in (("tools", "#plugins"), ("usage", "#days"), ("audit", "#audit")):
        page.goto(f"{site.url}/#/{name}")
        page.wait_for_selector(selector)
    page.goto(f"{site.url}/#/knowledge")
    page.wait_for_selector("#bases")
    shot(page, "knowledge")
    # the English switch
    page.click("header button[lang=en]")
    assert "Chat" in page.inner_text("header nav")
    page.wait_for_selector("h1:has-text('Knowledge')")
    shot(page, "knowledge-en")
    for path in ("/console/..%2f__init__.py", "/console/%2e%2e/%2e%2e/pyproject.toml",
                 "/console/nothing.js"):
        assert httpx.get(site.url + path).status_code == 404
    assert page.seen.urls and not page.seen.foreign()
    # the CSP holds: an inline script injected into the page does not run
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__inline = 1'; document.body.append(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__inline") is None
    assert any("script-src" in e for e in page.seen.errors)
    page.seen.errors.clear()
    # the key is never in a URL or in storage
    assert all(site.keys["admin"] not in u for u in page.seen.urls)
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert page.context.cookies() == []


def test_keyless_dev_mode_opens_directly(tmp_path: Path, browser: Any) -> None:
    server = start_server([], tmp_path / "home", tmp_path / "server.log")
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.goto(f"http://127.0.0.1:{server.port}/")
        tab.wait_for_selector("header nav")
        tab.wait_for_function("document.querySelector('main').innerText.includes('개발 모드')",
                              timeout=15000)  # the page has loaded its first view
        assert "개발 모드" in tab.inner_text("main")
        context.close()
    finally:
        server.stop()


def test_streamed_chat_with_citations(site: Site, page: Any) -> None:
    sign_in(page, site, "a")
    page.select_option("#model", "law")
    page.fill("#prompt", "연차 유급휴가는 며칠인가요?")
    # count the states the answer passes through while it streams
    page.evaluate("""() => {
        window.__renders = 0;
        new MutationObserver((records) => {
            for (const r of records) for (const n of r.addedNodes)
                if (n.classList && n.classList.contains('assistant')) window.__renders += 1;
        }).observe(document.querySelector('.messages'), {childList: true});
    }""")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".msg.assistant button.cite")
    page.wait_for_selector("#send:not([disabled])")
    # the answer was drawn chunk by chunk (the extractive backend streams word by word)
    assert page.evaluate("() => window.__renders") > 10, "the answer did not stream"
    assert page.is_disabled("#stop")
    page.click(".msg.assistant .body button.cite >> nth=0")
    cited = page.inner_text(".citation")
    assert "[1]" in cited and "근로기준법" in cited and "제" in cited
    shot(page, "chat")
    with page.expect_download() as download:
        page.click("text=Markdown으로 내보내기")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "연차 유급휴가는 며칠인가요?" in text and "[1]" in text and "근로기준법" in text
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    shot(page, "chat-mobile")


def test_tool_runs_show_as_collapsible_steps(site: Site, page: Any) -> None:
    sign_in(page, site, "a")
    page.select_option("#model", "calc")
    page.fill("#prompt", 'CALL m_add {"a": 20, "b": 22}')
    page.click("#send")
    page.wait_for_selector(".msg.assistant details.tool-run")
    page.wait_for_selector("#send:not([disabled])")
    step = page.locator(".msg.assistant details.tool-run").first
    assert "m.add" in step.inner_text() and "ok" in step.inner_text()
    assert not step.locator("pre").is_visible()  # collapsed until opened
    step.locator("summary").focus()
    page.keyboard.press("Enter")  # opens with the keyboard
    assert '"a": 20' in step.locator("pre").inner_text()
    assert '결과: {"result": 42}' in page.inner_text(".msg.assistant")
    shot(page, "chat-tools")


def test_tools_page_shows_mcp_status_schemas_and_recent_calls(site: Site, page: Any) -> None:
    sign_in(page, site, "admin", "#/tools")
    page.wait_for_selector("#mcp")
    mcp = page.inner_text("#mcp")
    assert "m" in mcp and "mcp" in mcp
    page.locator("details.step", has_text="m.add").locator("summary").click()
    opened = page.inner_text("details.step[open]")
    assert '"a"' in opened and "network" in opened  # the schema and the permissions
    assert "m.add" in page.inner_text("#calls")  # the chat's call, from the audit log
    shot(page, "tools")


def test_stop_button_ends_a_stream(site: Site, page: Any) -> None:
    sign_in(page, site, "a")
    page.select_option("#model", "law")
    held: list[Any] = []
    page.route("**/v1/chat/completions", lambda route: held.append(route))  # the answer is slow to come
    page.fill("#prompt", "해고 예고")
    page.click("#send")
    page.wait_for_selector("#stop:not([disabled])")
    page.click("#stop")
    page.wait_for_selector(".msg.assistant .tag.warn")
    assert "중지됨" in page.inner_text(".msg.assistant")
    assert page.is_enabled("#send") and held


def test_hwp_upload_with_progress_then_chunks(site: Site, page: Any) -> None:
    sign_in(page, site, "a", "#/knowledge/a-uploads")
    page.wait_for_selector("#drop")
    page.set_input_files("#files", str(FIXTURE_DOCS / "hwplib_fields_prose.hwp"))
    page.wait_for_selector(".upload[data-status=added]")
    assert page.eval_on_selector(".upload[data-status=added] progress", "p => p.value") == 1
    # a broken file dropped onto the drop zone: its own failure and reason
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])], "broken.hwp"));
        document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt,
            bubbles: true, cancelable: true}));
    }""")
    failed = page.locator(".upload[data-status=failed]")
    failed.wait_for()
    assert "broken.hwp" in failed.inner_text() and failed.locator(".reason").inner_text()
    shot(page, "upload")
    # the list refreshed: the document, its chunk count, then its chunks
    page.goto(f"{site.url}/#/knowledge")
    page.goto(f"{site.url}/#/knowledge/a-uploads")
    page.wait_for_selector("#documents a")
    page.click("#documents a:has-text('hwplib_fields_prose.hwp')")
    page.wait_for_selector("#chunks .chunk")
    assert page.locator("#chunks .chunk").count() >= 1
    shot(page, "document")


def test_search_tester_shows_scores_and_signals(site: Site, page: Any) -> None:
    sign_in(page, site, "a", "#/knowledge/statutes")
    page.fill("#query", "연차 유급휴가")
    page.press("#query", "Enter")
    page.wait_for_selector("#hits .hit")
    first = page.inner_text("#hits .hit >> nth=0")
    assert re.search(r"점수 \d\.\d{3}", first)
    assert "morph" in first and "gram" in first
    assert "제60조" in page.inner_text("#hits")
    shot(page, "search")


def test_a_gloss_finds_its_article_and_shows_only_in_the_chunk_view(site: Site,
                                                                   page: Any) -> None:
    """A question in the gloss's words finds 제60조 in the search tester, whose passage is the
    article's text alone; the admin's chunk view shows the gloss, labelled as search-only."""
    sign_in(page, site, "admin", "#/knowledge/statutes")
    page.fill("#query", "입사 일주년 기념으로 휴가 며칠 받아요?")
    page.press("#query", "Enter")
    page.wait_for_selector("#hits .hit")
    first = page.inner_text("#hits .hit >> nth=0")
    assert "제60조" in first and "일주년" not in page.inner_text("#hits")
    page.click("#documents a:has-text('근로기준법.md')")
    page.wait_for_selector("#chunks .chunk")
    glossed = page.locator("#chunks .chunk", has_text="제60조 (연차 유급휴가)").first
    assert f"검색용 풀이 (답변에 인용되지 않음): {GLOSS}" in glossed.inner_text()
    # only 제60조's chunks carry it (a long article is cut into pieces; each piece has it)
    with_gloss = page.locator("#chunks .chunk:has(.keywords)")
    assert with_gloss.count() >= 1
    assert all("제60조 (연차 유급휴가)" in with_gloss.nth(i).inner_text()
               for i in range(with_gloss.count()))


def test_keys_create_and_revoke(site: Site, page: Any) -> None:
    sign_in(page, site, "admin", "#/keys")
    page.wait_for_selector("#tenant")
    page.fill("#tenant", "민원팀")
    page.fill("#qpm", "60")
    page.click("form button[type=submit]")
    secret = page.inner_text("#new-secret").strip()
    assert len(secret) > 30
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(site.url + "/v1/models", headers=headers).status_code == 200
    shot(page, "keys")
    page.reload()
    page.fill("#key", site.keys["admin"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#keys")
    assert secret not in page.inner_text("main")  # shown once
    row = page.locator("#keys tr", has_text="민원팀").first
    row.locator("button.danger").click()
    row.locator("button.danger").click()  # the second press confirms
    page.wait_for_selector("#keys tr:has-text('민원팀') .tag.bad")
    assert httpx.get(site.url + "/v1/models", headers=headers).status_code == 401


def test_audit_verify_matches_the_cli(site: Site, page: Any) -> None:
    sign_in(page, site, "admin", "#/audit")
    page.wait_for_selector("#audit tbody tr")
    page.fill("#f-action", "auth")
    page.click("#verify")
    page.wait_for_selector("#verdict .banner")
    verdict = page.inner_text("#verdict")
    cli = run_jaju("audit", "verify", home=site.server.home)
    assert cli.returncode == 0 and "감사 체인 정상" in verdict
    # break the chain: the console and the CLI both say so
    db = sqlite3.connect(site.server.home / "jaju.db")
    (detail,) = db.execute("SELECT detail FROM audit WHERE seq=1").fetchone()
    db.execute("UPDATE audit SET detail=? WHERE seq=1", (detail + " ",))
    db.commit()
    try:
        page.click("#verify")
        page.wait_for_selector("#verdict .banner.bad")
        assert "#1: was modified" in page.inner_text("#verdict")
        assert run_jaju("audit", "verify", home=site.server.home).returncode == 1
    finally:
        db.execute("UPDATE audit SET detail=? WHERE seq=1", (detail,))
        db.commit()
        db.close()
    page.click("#verify")
    page.wait_for_selector("#verdict .banner.good")
    shown, total = map(int, re.search(r"(\d+) / (\d+)", page.inner_text("main")).groups())
    assert 0 < shown < total and page.locator("#audit tbody tr").count() == shown  # filtered
    page.fill("#f-action", "")
    shot(page, "audit")
    page.goto(f"{site.url}/#/usage")
    page.wait_for_selector("#chart-tenant rect")
    assert page.locator("#chart-model rect").count() >= 1
    assert "calc" in page.inner_text(".legend >> nth=1")
    shot(page, "usage")


def test_a_tenant_cannot_reach_another_by_editing_the_url(site: Site, page: Any) -> None:
    sign_in(page, site, "a", "#/knowledge")
    page.wait_for_selector("#bases")
    assert "b-secret" not in page.inner_text("#bases")
    nav = page.inner_text("header nav")
    assert "API 키" not in nav and "도구·플러그인" not in nav
    for hash_ in ("#/knowledge/b-secret", "#/knowledge/b-secret?tenant=b"):
        page.goto(f"{site.url}/{hash_}")
        page.wait_for_selector("#notfound")
    for hash_ in (f"#/knowledge/b-secret/{site.b_doc}",
                  f"#/knowledge/b-secret/{site.b_doc}?tenant=b"):
        page.goto(f"{site.url}/{hash_}")
        page.wait_for_selector("[role=alert]")
        assert "404" in page.inner_text("main")
    for hash_ in ("#/keys", "#/tools"):
        page.goto(f"{site.url}/{hash_}")
        page.wait_for_selector(".banner.bad")
        assert "관리자 키가 필요한" in page.inner_text("main")
    page.goto(f"{site.url}/#/audit")
    page.wait_for_selector("#audit")
    assert "b/" not in page.inner_text("#audit tbody")
    assert SECRET_B not in page.content()
    # and the API under it, with tenant a's key
    a = {"Authorization": f"Bearer {site.keys['a']}"}
    for path in ("/v1/knowledge/b-secret/documents",
                 f"/v1/knowledge/b-secret/documents/{site.b_doc}/chunks"):
        for query in ("", "?tenant=b"):
            assert httpx.get(site.url + path + query, headers=a).status_code == 404
    for query in ("", "?tenant=b"):
        assert httpx.post(site.url + "/v1/knowledge/b-secret/search" + query, headers=a,
                          json={"query": "감사"}).status_code == 404
    everything = httpx.get(site.url + "/v1/knowledge?all=1", headers=a).json()["data"]
    assert {kb["id"] for kb in everything} <= {"statutes", "a-docs", "a-uploads"}  # not ?all
    assert httpx.get(site.url + "/v1/keys", headers=a).json()["data"][0]["tenant"] == "a"
    assert httpx.post(site.url + "/v1/keys", headers=a, json={"tenant": "a"}).status_code == 403
    assert httpx.post(site.url + "/v1/audit/verify", headers=a).status_code == 403
    assert {r["tenant"] for r in httpx.get(site.url + "/v1/usage", headers=a).json()["summary"]} \
        <= {"a"}


def test_a_document_with_html_shows_as_text_everywhere(site: Site, page: Any) -> None:
    sign_in(page, site, "a", "#/knowledge/a-docs")
    page.wait_for_selector("#documents a")
    page.click("#documents a:has-text('xss.txt')")
    page.wait_for_selector("#chunks .chunk")
    assert "<script>window.__xss = 1;" in page.inner_text("#chunks")
    assert "RRN 1" in page.inner_text("main")  # the document's PII report
    page.goto(f"{site.url}/#/knowledge/a-docs")
    page.fill("#query", "보안 점검 비밀번호")
    page.press("#query", "Enter")
    page.wait_for_selector("#hits .hit")
    assert "<img src=x onerror=" in page.inner_text("#hits")
    page.goto(f"{site.url}/#/chat")
    page.select_option("#model", "docs")
    page.fill("#prompt", "보안 점검 비밀번호 정책")
    page.click("#send")
    page.wait_for_selector(".msg.assistant button.cite")
    page.wait_for_selector("#send:not([disabled])")
    page.click(".msg.assistant .cites button.cite >> nth=0")
    assert "<b>굵은 글씨</b>" in page.inner_text(".msg.assistant")
    # the resident number the policy blocks is masked in the answer, and highlighted
    assert "900101-1******" in page.inner_text(".msg.assistant mark.pii")
    shot(page, "chat-masked")
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("main img, main script, main b").count() == 0
