"""Decompression bombs: HWP, HWPX and DOCX files of a few MB that inflate to gigabytes are
reported as bombs, the batch goes on, and memory stays bounded. The bombs are built here: a raw
deflate stream of zeros made of one full-flush segment repeated (each inflates to 1 MiB), put in
a hand-written zip (with the true CRC and size, or a lying size) and a hand-written OLE2
compound file (the HWP container)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from functools import cache
from pathlib import Path

import pytest

from jaju.knowledge.parsers import ParseError
from jaju.knowledge.parsers.base import Limits, inflate_raw
from jaju.knowledge.parsers.docx import parse_docx
from jaju.knowledge.parsers.hwp import parse_hwp
from jaju.knowledge.parsers.hwpx import parse_hwpx

MiB = 1 << 20
BOMB_MIB = 2048  # inflated size: 2 GiB (under zip's 4 GiB limit without zip64)


@cache
def zero_deflate(mib: int = BOMB_MIB) -> tuple[bytes, int]:
    """A raw deflate stream inflating to `mib` MiB of zeros, and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    crc = 0
    zeros = bytes(MiB)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return segment * mib + final, crc


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """members: (name, raw deflate data, crc, inflated size, declared size)."""
    body, central = b"", b""
    for name, data, crc, _size, declared in members:
        encoded = name.encode()
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), declared,
                            len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                               len(data), declared, len(encoded), 0, 0, 0, 0, 0,
                               offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(body), 0)
    path.write_bytes(body + central + end)
    return path


def small(text: str) -> tuple[bytes, int, int]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = text.encode()
    return c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)


def hwpx_bomb(path: Path, *, lie: bool = False) -> Path:
    data, crc = zero_deflate()
    manifest = small('<?xml version="1.0"?><manifest/>')
    return write_zip(path, [
        ("mimetype", *_deflated("application/hwp+zip")),
        ("META-INF/manifest.xml", manifest[0], manifest[1], manifest[2], manifest[2]),
        ("Contents/section0.xml", data, crc, BOMB_MIB * MiB, 1000 if lie else BOMB_MIB * MiB),
    ])


def _deflated(text: str) -> tuple[bytes, int, int, int]:
    data, crc, size = small(text)
    return data, crc, size, size


def docx_bomb(path: Path) -> Path:
    data, crc = zero_deflate()
    types = small('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package'
                  '/2006/content-types"/>')
    return write_zip(path, [
        ("[Content_Types].xml", types[0], types[1], types[2], types[2]),
        ("word/document.xml", data, crc, BOMB_MIB * MiB, BOMB_MIB * MiB),
    ])


# --- a minimal OLE2 compound file (the HWP 5 container) ------------------------------------

FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _dir_entry(name: str, kind: int, child: int = NOSTREAM, left: int = NOSTREAM,
               start: int = END, size: int = 0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (encoded.ljust(64, b"\0") + struct.pack("<HBBIII", len(encoded), kind, 1, left,
                                                   NOSTREAM, child)
            + bytes(16) + bytes(4) + bytes(16) + struct.pack("<IQ", start, size))


def write_ole(path: Path, streams: dict[str, bytes]) -> Path:
    """Root with `FileHeader` and storage `BodyText` holding `Section0`. Streams are padded to
    at least 4096 bytes so none lives in the mini stream (none needed)."""
    header_data = streams["FileHeader"].ljust(4096, b"\0")
    section = streams["BodyText/Section0"]
    section_size = max(len(section), 4096)
    section = section.ljust(section_size, b"\0")
    n_header, n_section = len(header_data) // 512, -(-len(section) // 512)
    n_fat = 1
    while n_fat * 128 < n_fat + 1 + n_header + n_section:
        n_fat += 1
    assert n_fat <= 109, "too big for a header-only DIFAT"
    dir_sector = n_fat
    header_start = dir_sector + 1
    section_start = header_start + n_header
    fat = [FATSECT] * n_fat + [END]
    for start, count in ((header_start, n_header), (section_start, n_section)):
        fat += [start + i + 1 for i in range(count - 1)] + [END]
    fat += [FREE] * (n_fat * 128 - len(fat))
    # 0 root, 1 FileHeader, 2 BodyText, 3 Section0 (siblings compare by name length first)
    directory = (_dir_entry("Root Entry", 5, child=1)
                 + _dir_entry("FileHeader", 2, left=2, start=header_start, size=4096)
                 + _dir_entry("BodyText", 1, child=3)
                 + _dir_entry("Section0", 2, start=section_start, size=len(section)))
    difat = [*range(n_fat)] + [FREE] * (109 - n_fat)
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_sector, 0, 4096, END, 0, END, 0)
              + struct.pack("<109I", *difat))
    with open(path, "wb") as f:
        f.write(header)
        f.write(struct.pack(f"<{len(fat)}I", *fat))
        f.write(directory)
        f.write(header_data)
        f.write(section)
    return path


def hwp_header(compressed: bool = True) -> bytes:
    return b"HWP Document File".ljust(32, b"\0") + struct.pack("<II", 0x05000300, int(compressed))


def para_text_record(text: str) -> bytes:
    raw = text.encode("utf-16-le") + b"\r\0"
    return struct.pack("<I", 67 | (len(raw) << 20)) + raw


def hwp_bomb(path: Path) -> Path:
    return write_ole(path, {"FileHeader": hwp_header(), "BodyText/Section0": zero_deflate()[0]})


# --- tests ---------------------------------------------------------------------------------


def test_hand_written_hwp_is_read_as_hwp(tmp_path):
    """The OLE writer makes real HWP files: a small one parses to its paragraph."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    section = c.compress(para_text_record("근로계약서 제1조")) + c.flush()
    doc = parse_hwp(write_ole(tmp_path / "ok.hwp", {"FileHeader": hwp_header(),
                                                   "BodyText/Section0": section}))
    assert [b.text for b in doc.blocks] == ["근로계약서 제1조"]


def test_bombs_are_reported_as_bombs(tmp_path):
    for make, parse, name in ((hwp_bomb, parse_hwp, "bomb.hwp"),
                              (hwpx_bomb, parse_hwpx, "bomb.hwpx"),
                              (docx_bomb, parse_docx, "bomb.docx")):
        path = make(tmp_path / name)
        assert path.stat().st_size < 4 * MiB  # a few MB on disk, 2 GiB inflated
        with pytest.raises(ParseError, match="inflates past the cap") as e:
            parse(path)
        assert "압축 폭탄" in str(e.value)  # Korean first, then English


def test_a_member_that_lies_about_its_size_stops_at_the_lie(tmp_path):
    # zipfile never inflates past the declared size, and the CRC check then fails
    with pytest.raises(ParseError, match="corrupt HWPX"):
        parse_hwpx(hwpx_bomb(tmp_path / "liar.hwpx", lie=True))


def test_limits_are_configurable(tmp_path):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    section = c.compress(para_text_record("가" * 2000)) + c.flush()
    path = write_ole(tmp_path / "ok.hwp", {"FileHeader": hwp_header(),
                                           "BodyText/Section0": section})
    assert parse_hwp(path).blocks  # the default: max(64 MiB, 100 × the file)
    with pytest.raises(ParseError, match="inflates past the cap"):
        parse_hwp(path, limits=Limits(member_bytes=1000))
    with pytest.raises(ParseError, match="inflates past the cap"):
        parse_hwp(path, limits=Limits(total_bytes=1000))


def test_inflate_counts_without_keeping_a_large_stream():
    data, _ = zero_deflate(40)  # 40 MiB: past what is kept on the first pass
    budget = Limits(member_bytes=64 * MiB, total_bytes=64 * MiB).budget(Path(__file__))
    assert len(inflate_raw(data, "s", budget)) == 40 * MiB and budget.used == 40 * MiB
    budget = Limits(member_bytes=39 * MiB).budget(Path(__file__))
    with pytest.raises(ParseError, match="inflates past the cap"):
        inflate_raw(data, "s", budget)


def test_folder_with_bombs_ingests_the_good_file_in_bounded_memory(tmp_path):
    """In a fresh process: the good document is in, the three bombs are failures that say why,
    and memory stays bounded — Python's own allocations (tracemalloc: every inflated byte is a
    Python object) peak under 512 MB, and so does the growth of the process's peak RSS
    (ru_maxrss) over what it was with Kiwi loaded (Kiwi's model alone is about 500 MB)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    hwp_bomb(docs / "a.hwp")
    hwpx_bomb(docs / "b.hwpx")
    docx_bomb(docs / "c.docx")
    (docs / "good.txt").write_text("연차 유급휴가는 1년간 80퍼센트 이상 출근한 근로자에게 15일을 준다.",
                                   encoding="utf-8")
    script = textwrap.dedent(f"""
        import json, resource, tracemalloc
        from pathlib import Path
        from jaju.knowledge import KnowledgeIndex
        from jaju.knowledge.ingest import ingest
        from jaju.plugins import get_plugin_manager, parsers
        index = KnowledgeIndex(Path({str(tmp_path / "jaju.db")!r}))
        index.analyzer.sentences("키위를 먼저 불러 둔다.")
        kb = index.create("acme", "docs")
        table = parsers(get_plugin_manager())
        def hwm():  # VmHWM: unlike ru_maxrss, not carried over from the parent process
            status = Path("/proc/self/status").read_text().splitlines()
            return int(next(l for l in status if l.startswith("VmHWM:")).split()[1]) * 1024
        before = hwm()
        tracemalloc.start()
        report = ingest(index, kb, [Path({str(docs)!r})], table)
        traced = tracemalloc.get_traced_memory()[1]
        after = hwm()
        print(json.dumps({{"traced": traced, "rss_growth": after - before, "rss": after,
                          "documents": index.stats(kb)["documents"],
                          "results": [[r.path, r.status, r.reason] for r in report.results]}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    status = {Path(p).name: (s, reason) for p, s, reason in result["results"]}
    assert status["good.txt"][0] == "added" and result["documents"] == 1
    for bomb in ("a.hwp", "b.hwpx", "c.docx"):
        assert status[bomb][0] == "failed" and "inflates past the cap" in status[bomb][1], bomb
    assert result["traced"] < 512 * MiB, f"Python peak {result['traced'] / MiB:.0f} MiB"
    assert result["rss_growth"] < 512 * MiB, f"RSS grew {result['rss_growth'] / MiB:.0f} MiB"


def test_parsing_the_bombs_keeps_the_whole_process_under_512_mb(tmp_path):
    """Without Kiwi loaded, the absolute peak RSS of a process that parses all three bombs."""
    paths = [hwp_bomb(tmp_path / "a.hwp"), hwpx_bomb(tmp_path / "b.hwpx"),
             docx_bomb(tmp_path / "c.docx")]
    script = textwrap.dedent(f"""
        import json
        from pathlib import Path
        from jaju.knowledge.ingest import parse
        from jaju.knowledge.parsers import ParseError
        from jaju.plugins import get_plugin_manager, parsers
        table = parsers(get_plugin_manager())
        errors = []
        for name in {[str(p) for p in paths]!r}:
            path = Path(name)
            try:
                parse(table[path.suffix], path)
            except ParseError as e:
                errors.append(str(e))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork
        # and exec, so a big pytest process would be counted as this one's peak
        status = Path("/proc/self/status").read_text()
        peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
        print(json.dumps({{"peak": peak, "errors": errors}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["errors"]) == 3 and all("inflates past the cap" in e for e in result["errors"])
    assert result["peak"] < 512 * MiB, f"peak RSS {result['peak'] / MiB:.0f} MiB"


def test_a_section_of_zeros_within_the_cap_is_read_quickly(tmp_path):
    """60 MiB of zeros (under the 64 MiB floor) before a paragraph: not a bomb, and not four
    seconds per 16 MiB of empty records either."""
    import time

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    section = c.compress(bytes(60 * MiB)) + c.compress(para_text_record("본문은 여기에")) + c.flush()
    path = write_ole(tmp_path / "padded.hwp", {"FileHeader": hwp_header(),
                                               "BodyText/Section0": section})
    started = time.perf_counter()
    doc = parse_hwp(path)
    assert [b.text for b in doc.blocks] == ["본문은 여기에"]
    assert time.perf_counter() - started < 10


def test_entity_expansion_in_hwpx_is_refused(tmp_path):
    """"Billion laughs": nested XML entities that expand to gigabytes (expat refuses them)."""
    entities = '<!ENTITY l0 "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE s [{entities}]>'
           '<hs:sec xmlns:hs="urn:s" xmlns:hp="urn:p"><hp:p><hp:t>&l9;</hp:t></hp:p></hs:sec>')
    section = small(xml)
    path = write_zip(tmp_path / "laughs.hwpx", [
        ("mimetype", *_deflated("application/hwp+zip")),
        ("Contents/section0.xml", section[0], section[1], section[2], section[2]),
    ])
    with pytest.raises(ParseError, match=r"corrupt HWPX.*amplification"):
        parse_hwpx(path)
