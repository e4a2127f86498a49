"""Ingesting a folder as a new user meets it: other formats, README/SOURCE/LICENSE files,
dotfiles, symlinks out of the folder, names that are not UTF-8 and FIFOs are skipped and listed,
never failures and never an abort; PDF titles, DOCX table rows and `jaju pii scan -`."""

from __future__ import annotations

import json
import os
import sys

import pytest

from jaju.knowledge import KnowledgeIndex
from jaju.knowledge.ingest import collect, ingest

from conftest import run_jaju


@pytest.fixture
def index(tmp_path, analyzer):
    idx = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    yield idx
    idx.close()


def names(results):
    return {os.path.basename(r.path): (r.status, r.reason) for r in results}


def make_folder(root):
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "규정.md").write_text("# 취업규칙\n\n연차 유급휴가는 15일이다.", encoding="utf-8")
    (docs / "sub" / "안내.txt").write_text("출근 시간은 9시이다.", encoding="utf-8")
    (docs / "data.json").write_text('{"a": 1}', encoding="utf-8")
    (docs / "SOURCE.md").write_text("출처: 어느 누리집", encoding="utf-8")
    (docs / "README.ko.md").write_text("이 폴더는 규정 모음입니다.", encoding="utf-8")
    (docs / "LICENSE").write_text("MIT", encoding="utf-8")
    (docs / ".secret.txt").write_text("숨은 파일", encoding="utf-8")
    (docs / ".git").mkdir()
    (docs / ".git" / "config.txt").write_text("내부", encoding="utf-8")
    return docs


def test_folder_walk_skips_and_says_why(index, tmp_path, parser_table):
    docs = make_folder(tmp_path)
    kb = index.create("acme", "rules")
    report = ingest(index, kb, [docs], parser_table)
    got = names(report.results)
    assert got["규정.md"][0] == "added" and got["안내.txt"][0] == "added"
    assert got["data.json"] == ("skipped", "지원하지 않는 형식 / unsupported format '.json'")
    for note in ("SOURCE.md", "README.ko.md", "LICENSE"):
        assert got[note][0] == "skipped" and "README/SOURCE/LICENSE" in got[note][1], note
    assert got[".secret.txt"][0] == "skipped" and got[".git"][0] == "skipped"
    assert "config.txt" not in got  # a hidden folder is skipped whole, listed once
    assert not report.failures and index.stats(kb)["documents"] == 2
    # named explicitly, a SOURCE file is ingested after all (and not also listed as skipped)
    again = ingest(index, kb, [docs, docs / "SOURCE.md"], parser_table)
    assert names(again.results)["SOURCE.md"][0] == "added"
    assert [r.status for r in again.results if r.path.endswith("SOURCE.md")] == ["added"]


def test_cli_ingest_exits_0_and_lists_the_skipped(tmp_path):
    docs = make_folder(tmp_path)
    out = run_jaju("ingest", str(docs), "--kb", "rules", home=tmp_path / "home")
    assert out.returncode == 0, out.stderr
    assert "skipped" in out.stderr and "data.json" in out.stderr and "unsupported" in out.stderr
    assert "SOURCE.md" in out.stderr
    shown = json.loads(run_jaju("kb", "show", "rules", "--json", home=tmp_path / "home").stdout)
    assert sorted(os.path.basename(d["path"]) for d in shown) == ["규정.md", "안내.txt"]


def test_symlinks_out_of_the_folder_are_not_followed(index, tmp_path, parser_table):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("폴더 밖의 비밀 문서", encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "inner").mkdir(parents=True)
    (docs / "inner" / "a.txt").write_text("폴더 안의 문서", encoding="utf-8")
    (docs / "leak.txt").symlink_to(outside / "private.txt")
    (docs / "leakdir").symlink_to(outside, target_is_directory=True)
    (docs / "alias.txt").symlink_to(docs / "inner" / "a.txt")  # inside: followed, once
    (docs / "loop").symlink_to(docs, target_is_directory=True)  # a cycle: not walked again
    (docs / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    collected = collect([docs], suffixes={".txt"})
    assert [p.name for p in collected.files] == ["alias.txt"]  # a.txt is the same file
    got = names(collected.skipped)
    assert "symlink leading out of the folder" in got["leak.txt"][1]
    assert "symlink leading out of the folder" in got["leakdir"][1]
    assert "broken symlink" in got["dangling.txt"][1]
    kb = index.create("acme", "docs")
    report = ingest(index, kb, [docs], parser_table)
    assert "private.txt" not in " ".join(r.path for r in report.results if r.status == "added")
    followed = collect([docs], suffixes={".txt"}, follow_symlinks=True)
    assert sorted(p.name for p in followed.files) == ["alias.txt", "leak.txt"]


def test_cli_follow_symlinks_flag(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shared.txt").write_text("함께 쓰는 규정", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "own.txt").write_text("우리 규정", encoding="utf-8")
    (docs / "shared.txt").symlink_to(outside / "shared.txt")
    home = tmp_path / "home"
    out = run_jaju("ingest", str(docs), "--kb", "a", home=home)
    assert out.returncode == 0 and "symlink leading out" in out.stderr
    out = run_jaju("ingest", str(docs), "--kb", "b", "--follow-symlinks", home=home)
    assert out.returncode == 0, out.stderr
    shown = json.loads(run_jaju("kb", "show", "b", "--json", home=home).stdout)
    assert len(shown) == 2


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 names")
def test_names_that_are_not_utf8_are_skipped_not_fatal(index, tmp_path, parser_table):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("정상 문서", encoding="utf-8")
    bad = os.path.join(os.fsencode(docs), b"\xff\xfe.txt")
    with open(bad, "wb") as f:
        f.write("이름이 깨진 문서".encode())
    kb = index.create("acme", "docs")
    report = ingest(index, kb, [docs], parser_table)
    got = {r.path.rsplit("/", 1)[-1]: (r.status, r.reason) for r in report.results}
    assert got["ok.txt"][0] == "added"
    assert got["\\xff\\xfe.txt"] == ("skipped", "파일 이름이 UTF-8이 아님 / the file name is not "
                                                "valid UTF-8")
    out = run_jaju("ingest", str(docs), "--kb", "docs", home=tmp_path / "home")
    assert out.returncode == 0, out.stderr
    assert "\\xff\\xfe.txt" in out.stderr and "not valid UTF-8" in out.stderr


def test_a_fifo_in_the_folder_does_not_hang_the_run(index, tmp_path, parser_table):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("정상 문서", encoding="utf-8")
    os.mkfifo(docs / "pipe.txt")
    report = ingest(index, index.create("acme", "docs"), [docs], parser_table)
    got = names(report.results)
    assert got["ok.txt"][0] == "added" and got["pipe.txt"][0] == "skipped"
    # named explicitly it is a failure, still without reading (and blocking on) it
    named = ingest(index, index.create("acme", "named"), [docs / "pipe.txt"], parser_table)
    assert named.results[0].status == "failed" and "not a regular file" in named.results[0].reason


def test_pdf_without_a_title_takes_the_file_name(tmp_path):
    from reportlab.pdfgen import canvas

    from jaju.knowledge.parsers.pdf import parse_pdf

    def make(path, title=None):
        c = canvas.Canvas(str(path))  # reportlab writes Title "untitled" unless told
        if title:
            c.setTitle(title)
        c.drawString(72, 750, "Annual leave")
        c.showPage()
        c.save()
        return path

    assert parse_pdf(make(tmp_path / "2024 연차 안내.pdf")).title == "2024 연차 안내"
    assert parse_pdf(make(tmp_path / "t.pdf", "취업규칙 해설")).title == "취업규칙 해설"
    assert parse_pdf(make(tmp_path / "u.pdf", "Microsoft Word - 문서1.docx")).title == "u"


def test_docx_table_rows_stay_rows(tmp_path, analyzer):
    import docx

    from jaju.knowledge.chunking import chunk_blocks
    from jaju.knowledge.parsers.docx import parse_docx

    d = docx.Document()
    d.add_heading("근무 시간표", level=1)
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["요일", "출근", "퇴근"], ["월", "09:00", "18:00"],
                             ["화", "O", "O"]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(1, 2).add_paragraph("(점심 1시간)")  # a second paragraph in one cell
    merged = d.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "합친 칸"
    merged.cell(0, 2).text = "끝"
    d.save(str(tmp_path / "t.docx"))
    doc = parse_docx(tmp_path / "t.docx")
    lines = [b.text for b in doc.blocks if b.kind == "para"]
    assert lines == ["요일 | 출근 | 퇴근", "월 | 09:00 | 18:00 (점심 1시간)", "화 | O | O",
                     "합친 칸 | 끝"]
    chunks = chunk_blocks(doc.blocks, split_sentences=lambda t: [
        (s.start, s.end) for s in analyzer.sentences(t)])
    assert any("요일 | 출근 | 퇴근\n월 | 09:00 | 18:00 (점심 1시간)\n화 | O | O" in c.text
               for c in chunks)


def test_pii_scan_reads_standard_input(tmp_path):
    out = run_jaju("pii", "scan", "-", "--json", home=tmp_path / "h",
                   input="신청인 주민등록번호 ８８０１０１－１２３４５６８, 연락처 010.1234.5678")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report[0]["path"] == "-"
    assert [f["type"] for f in report[0]["findings"]] == ["RRN", "PHONE"]
    assert "880101" not in out.stdout and "８８０１０１" not in out.stdout
    table = run_jaju("pii", "scan", "-", home=tmp_path / "h", input="메일 hong＠naver.com")
    assert table.returncode == 0 and "EMAIL 1" in table.stdout


def test_pii_scan_lists_skipped_files(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "form.txt").write_text("연락처 010-1234-5678", encoding="utf-8")
    (docs / "data.json").write_text("{}", encoding="utf-8")
    report = json.loads(run_jaju("pii", "scan", str(docs), "--json", home=tmp_path / "h").stdout)
    by_name = {os.path.basename(r["path"]): r for r in report}
    assert "unsupported" in by_name["data.json"]["skipped"]
    assert [f["type"] for f in by_name["form.txt"]["findings"]] == ["PHONE"]
