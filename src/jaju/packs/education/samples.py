"""Sample school notices (가정통신문) as HWPX files, for the education pack's school-notice
assistant and its evaluation set.

The notices are invented (한빛초등학교 is no real school); their dates follow the 2026 calendar
(weekdays and public holidays are right). Run `python -m jaju.packs.education.samples OUTDIR` to
write them; the pack ships the files this writes under `data/samples/`, and
tests/test_education_pack.py regenerates them and checks they are the same.

Deterministic on purpose: the text is fixed, the zip members are written in a fixed order with
a fixed timestamp, so the same notices give the same XML every time (the compressed bytes
depend only on the zlib version).

An HWPX file is a zip of XML (OWPML, KS X 6101): `mimetype` (stored, first), `version.xml`,
`META-INF/container.xml` and `manifest.xml`, `Contents/content.hpf` (the package's manifest),
`Contents/header.xml` and the body in `Contents/section0.xml`, one `<hp:p>` per paragraph.
This writer makes the minimal valid file jaju's parser (jaju.knowledge.parsers.hwpx) and word
processors read.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

SCHOOL = "한빛초등학교"
FOOTER = f"2026학년도 {SCHOOL}장"

# (file stem, title, paragraphs). Each paragraph states its facts with the words a parent
# would use, so one passage answers one question.
NOTICES: list[tuple[str, str, list[str]]] = [
    ("01-현장체험학습", "4~6학년 현장체험학습 안내", [
        "학부모님께. 봄을 맞아 4~6학년 학생들이 과학관에서 현장체험학습을 합니다.",
        "현장체험학습 날짜는 2026년 5월 14일(목)이며, 장소는 대전 국립중앙과학관입니다.",
        "출발은 오전 8시 30분 학교 운동장이며, 귀교 예정 시각은 오후 4시 30분입니다.",
        "참가비는 1인당 23,000원(버스 임차료와 입장료)이며 5월 11일(월)에 스쿨뱅킹으로 출금합니다. "
        "교육급여 수급 가정은 참가비를 내지 않습니다.",
        "준비물은 도시락, 물, 필기도구, 편한 운동화입니다.",
        "참가 동의서는 5월 6일(수)까지 담임 선생님께 제출해 주세요.",
    ]),
    ("02-방과후학교", "2026학년도 2학기 방과후학교 수강 신청 안내", [
        "2학기 방과후학교 수강 신청을 다음과 같이 받습니다.",
        "수강 신청 기간은 2026년 8월 24일(월)부터 8월 28일(금)까지이며, 학교 누리집의 방과후학교 "
        "신청 메뉴에서 신청합니다.",
        "개설 강좌와 수강료(3개월): 로봇과학(월·수) 60,000원, 바이올린(화·목) 75,000원, "
        "컴퓨터(월·금) 45,000원, 창의미술(수) 36,000원. 교재비와 재료비는 따로 냅니다.",
        "강좌별 정원은 20명이며 신청자가 많으면 공개 추첨으로 정합니다.",
        "자유수강권 지원 대상 학생은 수강료를 내지 않습니다.",
        "2학기 방과후학교 수업은 9월 7일(월)에 시작합니다.",
    ]),
    ("03-급식", "3월 학교 급식 및 우유 급식 안내", [
        "2026학년도 학교 급식은 3월 4일(수)부터 시작합니다.",
        "3월 급식 일수는 19일이며, 초등학교 급식비는 무상입니다.",
        "식단표에는 알레르기 유발 식품을 번호로 표시합니다(1.난류 2.우유 3.메밀 4.땅콩 5.대두 6.밀). "
        "알레르기가 있는 학생은 급식실 알레르기 조사서를 3월 6일(금)까지 내 주세요.",
        "우유 급식은 희망자만 하며, 우유 한 팩 값은 480원입니다.",
        "급식 식단표는 매월 말 학교 누리집 급식 게시판에 올립니다.",
    ]),
    ("04-학교폭력신고", "학교폭력 예방 및 신고 안내", [
        "학교폭력은 신체 폭력뿐 아니라 따돌림, 사이버 폭력, 금품 갈취도 포함합니다.",
        "학교폭력 신고 방법: 학교폭력 신고센터 117(24시간, 국번 없이), 문자 #0117, "
        "담임 선생님이나 학교전담경찰관, 학교 누리집 익명 신고함.",
        "신고된 사안은 학교의 학교폭력 전담기구가 조사하고, 신고한 학생의 비밀을 지킵니다.",
        "피해 학생은 심리 상담과 보호 조치를 받을 수 있습니다. 상담은 Wee클래스(본관 2층)에서 "
        "받을 수 있습니다.",
        "학교폭력을 보거나 알게 되면 누구든지 바로 신고해 주세요.",
    ]),
    ("05-학사일정", "2026학년도 학사일정 안내", [
        "2026학년도 입학식과 1학기 개학은 3월 3일(화)입니다.",
        "재량휴업일은 5월 4일(월)과 10월 2일(금)입니다.",
        "여름방학은 7월 22일(수)부터 8월 18일(화)까지이며, 2학기 개학은 8월 19일(수)입니다.",
        "겨울방학식과 졸업식은 2027년 1월 8일(금)입니다.",
        "2026학년도 수업일수는 191일로, 법정 수업일수 190일 이상을 지킵니다.",
    ]),
    ("06-수행평가", "5학년 2학기 수행평가 안내", [
        "5학년 2학기 수행평가 계획을 알려 드립니다.",
        "국어 수행평가는 독서 감상문 쓰기이며 9월 14일(월)부터 9월 25일(금)까지 수업 시간에 합니다.",
        "수학 수행평가는 서술형 문제 해결이며 10월 20일(화)에 합니다.",
        "과학 수행평가는 실험 보고서 작성이며 11월 10일(화)부터 11월 13일(금)까지 합니다.",
        "수행평가는 수업 시간 안에 하며, 따로 준비할 과제는 없습니다. 결과는 학기 말 "
        "통지표로 알려 드립니다.",
    ]),
    ("07-학부모상담", "1학기 학부모 상담 주간 안내", [
        "1학기 학부모 상담 주간은 4월 6일(월)부터 4월 10일(금)까지입니다.",
        "상담은 대면 상담과 전화 상담 중에서 고를 수 있으며, 한 가정에 20분입니다.",
        "상담 신청서는 3월 30일(월)까지 담임 선생님께 내 주세요.",
        "상담 시간은 오후 2시부터 오후 5시 사이에서 정합니다.",
    ]),
    ("08-감염병예방", "감염병 예방 및 등교 중지 안내", [
        "인플루엔자(독감) 유행 시기입니다. 손 씻기와 기침 예절을 지켜 주세요.",
        "인플루엔자에 걸린 학생은 해열제 없이 열이 내린 뒤 24시간이 지날 때까지 등교하지 않습니다.",
        "감염병으로 등교하지 못한 날은 의사 소견서나 진료 확인서를 내면 출석으로 인정합니다.",
        "열이 38도 이상이면 등교하지 말고 담임 선생님께 알려 주세요.",
    ]),
    ("09-수학여행", "6학년 수학여행 안내", [
        "6학년 수학여행은 2026년 10월 14일(수)부터 10월 16일(금)까지 2박 3일로 경주에서 합니다.",
        "수학여행 경비는 1인당 185,000원(교통비, 숙박비, 식비, 입장료)입니다.",
        "경비는 9월 21일(월)과 10월 5일(월) 두 번에 나누어 스쿨뱅킹으로 출금합니다.",
        "교육급여 수급 가정과 차상위 가정은 수학여행 경비를 전액 지원받습니다.",
        "참가 동의서와 건강 조사서는 9월 11일(금)까지 제출해 주세요.",
    ]),
    ("10-교육비지원", "교육급여 및 교육비 지원 신청 안내", [
        "2026년 교육급여와 교육비 지원 신청을 받습니다.",
        "신청 기간은 3월 3일(화)부터 3월 20일(금)까지이며, 주소지 행정복지센터나 "
        "복지로 누리집에서 신청합니다.",
        "교육급여 교육활동지원비는 초등학생 1인당 연 487,000원입니다.",
        "교육비 지원은 방과후학교 자유수강권, 인터넷 통신비, 현장체험학습비를 포함합니다.",
    ]),
    ("11-운동회", "한빛 가족 운동회 안내", [
        "한빛 가족 운동회를 2026년 5월 8일(금)에 학교 운동장에서 엽니다.",
        "운동회 시간은 오전 9시부터 낮 12시 30분까지입니다.",
        "비가 오면 운동회는 5월 12일(화)로 미룹니다.",
        "학부모님도 참관하실 수 있으며, 주차 공간이 없으니 대중교통을 이용해 주세요.",
        "학생은 체육복을 입고 모자와 물을 챙겨 옵니다.",
    ]),
    ("12-겨울방학", "겨울방학 생활 및 돌봄교실 안내", [
        "겨울방학은 2027년 1월 9일(토)부터 3월 1일(월)까지입니다.",
        "방학 중 돌봄교실은 평일 오전 8시 30분부터 오후 5시까지 운영합니다.",
        "돌봄교실 간식비는 하루 1,500원이며 방학 첫 주에 한꺼번에 받습니다.",
        "방학 중 긴급 연락은 학교 행정실(042-000-0000)로 해 주세요.",
        "방학 동안 안전 수칙을 지키고 규칙적으로 생활해 주세요.",
    ]),
]

ZIP_TIME = (2026, 3, 2, 9, 0, 0)
HP = "http://www.hancom.co.kr/hwpml/2011/paragraph"
HS = "http://www.hancom.co.kr/hwpml/2011/section"
HH = "http://www.hancom.co.kr/hwpml/2011/head"
OPF = "http://www.idpf.org/2007/opf/"

MIMETYPE = "application/hwp+zip"
VERSION = ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
           '<hv:HCFVersion xmlns:hv="http://www.hancom.co.kr/hwpml/2011/version" '
           'tagetApplication="WORDPROCESSOR" major="5" minor="1" micro="0" buildNumber="1" '
           'os="1" xmlVersion="1.4" application="jaju" appVersion="0.1"/>')
CONTAINER = ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
             '<ocf:container xmlns:ocf="urn:oasis:names:tc:opendocument:xmlns:container">'
             '<ocf:rootfiles><ocf:rootfile full-path="Contents/content.hpf" '
             'media-type="application/hwpml-package+xml"/></ocf:rootfiles></ocf:container>')
MANIFEST = ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
            '<odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
HEADER = ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
          f'<hh:head xmlns:hh="{HH}" version="1.4" secCnt="1"><hh:beginNum page="1" '
          'footnote="1" endnote="1" pic="1" tbl="1" equation="1"/></hh:head>')


def _content_hpf(title: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
            f'<opf:package xmlns:opf="{OPF}" version="" unique-identifier="" id="">'
            f'<opf:metadata><opf:title>{escape(title)}</opf:title><opf:language>ko'
            '</opf:language></opf:metadata><opf:manifest>'
            '<opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>'
            '<opf:item id="section0" href="Contents/section0.xml" media-type="application/xml"/>'
            '</opf:manifest><opf:spine><opf:itemref idref="header" linear="yes"/>'
            '<opf:itemref idref="section0" linear="yes"/></opf:spine></opf:package>')


def _section(paragraphs: list[str]) -> str:
    body = "".join(f'<hp:p id="{i}" paraPrIDRef="0" styleIDRef="0" pageBreak="0" '
                   f'columnBreak="0" merged="0"><hp:run charPrIDRef="0"><hp:t>{escape(text)}'
                   '</hp:t></hp:run></hp:p>' for i, text in enumerate(paragraphs))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>'
            f'<hs:sec xmlns:hs="{HS}" xmlns:hp="{HP}">{body}</hs:sec>')


def paragraphs(title: str, body: list[str]) -> list[str]:
    """A notice's paragraphs as written: school and title, the body, the sender."""
    return [f"{SCHOOL} 가정통신문", title, *body, FOOTER]


def members(title: str, body: list[str]) -> list[tuple[str, str]]:
    """The HWPX file's members (name, text), in the order they are written."""
    return [("mimetype", MIMETYPE), ("version.xml", VERSION),
            ("META-INF/container.xml", CONTAINER), ("META-INF/manifest.xml", MANIFEST),
            ("Contents/content.hpf", _content_hpf(title)), ("Contents/header.xml", HEADER),
            ("Contents/section0.xml", _section(paragraphs(title, body)))]


def write_hwpx(path: Path, title: str, body: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members(title, body):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            # the mimetype is stored uncompressed and first, as in ODF/EPUB
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return path


def write_all(outdir: Path) -> list[Path]:
    """Write every notice as `OUTDIR/NN-주제.hwpx`; returns the paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    return [write_hwpx(outdir / f"{stem}.hwpx", title, body) for stem, title, body in NOTICES]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jaju.packs.education.samples OUTDIR", file=sys.stderr)
        return 2
    for path in write_all(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
