"""Korean PII detection: each finding has a type, a span, a confidence and the reason.

Text is normalised before matching — full-width forms and other digits to ASCII (NFKC), dash
variants (en dash, minus, `－`) to `-`, dot variants to `.`, runs of spaces to one, invisible
characters (zero-width space and joiners, word joiner, BOM, soft hyphen) dropped — and every
finding's span is mapped back to the original text (an offset map), so masking and
pseudonymisation replace the characters that were there, zero-width ones included. Separators
between digit groups may be a dash, a dot or a space, mixed, with spaces around them.

Every pattern uses bounded repetition only, so scanning is linear in the text (no catastrophic
backtracking, whatever the input). A candidate becomes a finding through validation (dates,
gender digits, check digits, Luhn, issuer and region codes) and context words nearby
("주민번호", "계좌", "여권"), which raise or lower the confidence.

Types: RRN 주민등록번호, ARN 외국인등록번호, PASSPORT 여권번호, DRIVER 운전면허번호,
BRN 사업자등록번호, CRN 법인등록번호, CARD 카드번호, PHONE 전화번호, ACCOUNT 계좌번호,
EMAIL 이메일, IP IP 주소.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

TYPE_NAMES = {
    "RRN": "주민등록번호", "ARN": "외국인등록번호", "PASSPORT": "여권번호",
    "DRIVER": "운전면허번호", "BRN": "사업자등록번호", "CRN": "법인등록번호",
    "CARD": "카드번호", "PHONE": "전화번호", "ACCOUNT": "계좌번호", "EMAIL": "이메일",
    "IP": "IP주소",
}
THRESHOLD = 0.5
CONTEXT_WINDOW = 24

CONTEXT = {
    "RRN": re.compile(r"주민|주민등록|주민번호|생년월일|resident"),
    "ARN": re.compile(r"외국인|등록번호|체류|alien"),
    "PASSPORT": re.compile(r"여권|passport"),
    "DRIVER": re.compile(r"면허|운전|driver"),
    "BRN": re.compile(r"사업자|세금계산서|공급자|등록번호"),
    "CRN": re.compile(r"법인|등기"),
    "CARD": re.compile(r"카드|card|결제|신용|체크"),
    "PHONE": re.compile(r"전화|휴대|핸드폰|연락|폰|tel|문의|팩스"),
    "ACCOUNT": re.compile(
        r"계좌|은행|예금|입금|송금|이체|환불|농협|신한|국민|우리|하나|기업|카카오뱅크|토스|"
        r"새마을|우체국|수협|신협|씨티|SC|케이뱅크|산업|부산|대구|광주|전북|경남|제주"),
}
NEGATIVE_CONTEXT = re.compile(r"주문|송장|운송장|택배|배송|버전|version|ISBN|사건|제\s?\d+호|"
                              r"우편|품번|모델|시리얼|serial|invoice|order")

# --- normalisation ---------------------------------------------------------------------------

_INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
              "\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0")
_DASHES = "\u02d7\u2010-\u2015\u2043\u2212\u2796\ufe58\ufe63\uff0d"
_DOTS = "\u00b7\u2024\u2027\u2219\u22c5\u3002\u318d\u30fb\ufe52\uff0e\uff61\uff65"
_SPACES = "\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
NEEDS_NORMALISING = re.compile(
    f"(?P<invisible>[{_INVISIBLE}]+)|(?P<dash>[{_DASHES}])|(?P<dot>[{_DOTS}])"
    f"|(?P<space>[ {_SPACES}]{{2,}}|[{_SPACES}])|(?P<wide>[\uff01-\uff5e])"
    f"|(?P<small>[\ufe50-\ufe6b])|(?P<digit>(?![0-9])\\d)")
MAYBE_NORMALISING = re.compile(r"[^\n\r !-~가-힣]|  ")
"""A quick necessary condition (one character class): most Korean text is ASCII and Hangul
syllables with single spaces, and needs nothing."""


def _replacement(m: re.Match[str]) -> str:
    kind, c = m.lastgroup, m.group()
    if kind == "invisible":
        return ""
    if kind == "dash":
        return "-"
    if kind == "dot":
        return "."
    if kind == "space":
        return " "
    if kind == "wide":
        return chr(ord(c) - 0xFEE0)
    if kind == "digit":
        return str(unicodedata.decimal(c))
    folded = unicodedata.normalize("NFKC", c)
    return folded if len(folded) == 1 and folded.isascii() else c


@dataclass(frozen=True)
class Normalised:
    """Text as the patterns see it, and the way back to the original's offsets: `starts` pairs
    the start of each piece in the normalised text with its start in the original (pieces are
    either copied, one character for one, or one replacement for a run)."""

    text: str
    norm_starts: tuple[int, ...] = ()
    orig_starts: tuple[int, ...] = ()

    def _at(self, i: int) -> int:
        if not self.norm_starts:
            return i
        k = bisect.bisect_right(self.norm_starts, i) - 1
        return self.orig_starts[k] + (i - self.norm_starts[k])

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised span [start, end)."""
        return self._at(start), self._at(end - 1) + 1


def normalise(text: str) -> Normalised:
    """NFKC for full-width forms and digits of any script, dash and dot variants folded, runs of
    spaces made one, invisible characters dropped; linear in the text."""
    maybe = MAYBE_NORMALISING.search(text)
    # one character early: an ASCII space may begin a run that ends in a no-break space
    first = NEEDS_NORMALISING.search(text, max(0, maybe.start() - 1)) if maybe else None
    if first is None:
        return Normalised(text)
    parts: list[str] = []
    norm_starts: list[int] = []
    orig_starts: list[int] = []
    at = n = 0
    for m in NEEDS_NORMALISING.finditer(text, first.start()):
        s, e = m.span()
        if s > at:
            norm_starts.append(n)
            orig_starts.append(at)
            parts.append(text[at:s])
            n += s - at
        piece = _replacement(m)
        norm_starts.append(n)
        orig_starts.append(s)
        parts.append(piece)
        n += len(piece)
        at = e
    if at < len(text):
        norm_starts.append(n)
        orig_starts.append(at)
        parts.append(text[at:])
    return Normalised("".join(parts), tuple(norm_starts), tuple(orig_starts))


# --- patterns (on normalised text) -----------------------------------------------------------

SEP = r"(?: ?[-.] ?| )"
"""Between digit groups: a dash or a dot (a space either side allowed), or a space."""
L = r"(?=[0-9])(?<![0-9A-Za-z-])(?<![0-9]\.)"  # not glued to a letter, digit, "-" or "1."
"""(The lookahead first lets the regex engine skip positions that cannot start a match.)"""
R = r"(?![0-9A-Za-z-])(?!\.[0-9])"
DIGITS_13 = re.compile(L + r"(\d{6})(" + SEP + r")?(\d{7})" + R)
BRN_RE = re.compile(L + r"(\d{3})(" + SEP + r")(\d{2})(" + SEP + r")(\d{5})" + R)
DRIVER_RE = re.compile(L + r"(\d{2})(" + SEP + r")(\d{2})(" + SEP + r")(\d{6})(" + SEP
                       + r")(\d{2})" + R)
PASSPORT_RE = re.compile(r"(?=[MSRODGmsrodg])(?<![A-Za-z0-9])([MSRODGmsrodg])([ -]?)"
                         r"(\d{8}|\d{3}[A-Za-z]\d{4})(?![A-Za-z0-9])")
CARD_RE = re.compile(
    L + r"(\d{4})" + SEP + r"?(\d{4})" + SEP + r"?(\d{4})" + SEP + r"?(\d{4})" + R
    + "|" + L + r"(3[47]\d{2})" + SEP + r"?(\d{6})" + SEP + r"?(\d{5})" + R)
_PL = r"(?=[0-9(])(?<![0-9A-Za-z+-])(?<![0-9]\.)"
PHONE_RE = re.compile(
    _PL + r"(?:\(01[016789]\) ?|01[016789]" + SEP + r"?)\d{3,4}" + SEP + r"?\d{4}" + R
    + "|" + _PL + r"(?:\(0(?:2|[3-6][1-5]|70)\) ?|0(?:2|[3-6][1-5]|70)" + SEP + r"?)\d{3,4}"
    + SEP + r"?\d{4}" + R
    + r"|(?=\+)(?<![0-9A-Za-z+])\+82" + SEP + r"?(?:\(0\) ?)?(?:1[016789]|2|[3-6][1-5]|70)" + SEP
    + r"?\d{3,4}" + SEP + r"?\d{4}" + R
    + "|" + L + r"(?P<short>(1[568]\d{2}) ?- ?(\d{4}))" + R)
ACCOUNT_RE = re.compile(L + r"(\d{2,6}(?:" + SEP + r"\d{2,7}){1,3}|\d{10,14})" + R)
EMAIL_RE = re.compile(r"(?:(?<![A-Za-z0-9.%+_-])[A-Za-z0-9._%+-]{1,64}"
                      r"|(?<![A-Za-z0-9.%+_\-가-힣])[가-힣][가-힣0-9._-]{0,63})"
                      r"@(?:[A-Za-z0-9가-힣-]{1,63}\.){1,6}[A-Za-z][A-Za-z0-9-]{0,62}")
IPV4_RE = re.compile(r"(?=[0-9])(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
IPV6_RE = re.compile(r"(?=[0-9A-Fa-f])(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
                     r"(?![0-9A-Za-z:])")
DATE_LIKE = re.compile(r"^(?:19|20)\d{2}[-.](\d{1,2})[-.](\d{1,2})$")

DRIVER_REGIONS = {f"{n:02d}" for n in range(11, 29)} - {"27"}
CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[4-7]|6|9)")


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int
    confidence: float
    reason: str
    text: str

    def to_dict(self) -> dict[str, object]:
        """For APIs and reports: never the value itself."""
        return {"type": self.type, "start": self.start, "end": self.end,
                "confidence": round(self.confidence, 3), "reason": self.reason}


WINDOWS = {"ACCOUNT": (48, 16)}
"""Context window (characters before, after) where it differs from (CONTEXT_WINDOW, 8): a bank's
name is often further from the account number than other types' words are."""


def _context(text: str, start: int, end: int, kind: str) -> bool:
    before, after = WINDOWS.get(kind, (CONTEXT_WINDOW, 8))
    window = text[max(0, start - before):start] + " " + text[end:end + after]
    return bool(CONTEXT[kind].search(window))


def _negative(text: str, start: int) -> bool:
    return bool(NEGATIVE_CONTEXT.search(text[max(0, start - CONTEXT_WINDOW):start]))


def _birth_date(six: str, gender: str) -> bool:
    century = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000,
               "8": 2000, "9": 1800, "0": 1800}[gender]
    try:
        born = dt.date(century + int(six[:2]), int(six[2:4]), int(six[4:6]))
    except ValueError:
        return False
    return born <= dt.date.today()


def _rrn_checksum(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:12], [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5],
                                           strict=True))
    return (11 - total % 11) % 10 == int(digits[12])


def _arn_checksum(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:12], [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5],
                                           strict=True))
    return (13 - total % 11) % 10 == int(digits[12])


def _crn_checksum(digits: str) -> bool:
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _brn_checksum(digits: str) -> bool:
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(int(d) * w for d, w in zip(digits[:9], weights, strict=True))
    total += int(digits[8]) * 5 // 10
    return (10 - total % 10) % 10 == int(digits[9])


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _spaced(separator: str | None) -> bool:
    """A separator that is only a space (weaker evidence than a dash or a dot)."""
    return separator is not None and not separator.strip()


def _thirteen(text: str) -> Iterator[Finding]:
    for m in DIGITS_13.finditer(text):
        separator = m.group(2)
        hyphen = separator is not None
        digits = m.group(1) + m.group(3)
        start, end = m.span()
        six, gender = digits[:6], digits[6]
        if _context(text, start, end, "CRN") and _crn_checksum(digits):
            yield Finding("CRN", start, end, 0.95, "법인 context + check digit", m.group())
            continue
        if gender in "12345678" and _birth_date(six, gender):
            kind = "ARN" if gender in "5678" else "RRN"
            valid = _arn_checksum(digits) if kind == "ARN" else _rrn_checksum(digits)
            confidence = (0.65 if _spaced(separator) else 0.75) if hyphen else 0.35
            reasons = ["birth date and gender digit valid"]
            if valid:
                confidence += 0.15
                reasons.append("check digit valid")
            if _context(text, start, end, kind) or _context(text, start, end, "RRN"):
                confidence += 0.15
                reasons.append("context word")
            if _negative(text, start):
                confidence -= 0.4
                reasons.append("negative context")
            if confidence >= THRESHOLD:
                yield Finding(kind, start, end, min(confidence, 0.99), "; ".join(reasons),
                              m.group())
            continue
        if hyphen and _crn_checksum(digits):
            yield Finding("CRN", start, end, 0.7, "13 digits, CRN check digit", m.group())


def _brn(text: str) -> Iterator[Finding]:
    for m in BRN_RE.finditer(text):
        digits = m.group(1) + m.group(3) + m.group(5)
        context = _context(text, m.start(), m.end(), "BRN")
        if not context and (_spaced(m.group(2)) or _spaced(m.group(4))):
            continue  # "123 45 67890" in a table of figures is not enough on its own
        if _brn_checksum(digits):
            yield Finding("BRN", m.start(), m.end(), 0.95 if context else 0.8,
                          "check digit valid" + (" + context" if context else ""), m.group())
        elif context:
            yield Finding("BRN", m.start(), m.end(), 0.6, "context word (check digit invalid)",
                          m.group())


def _driver(text: str) -> Iterator[Finding]:
    for m in DRIVER_RE.finditer(text):
        if m.group(1) in DRIVER_REGIONS:
            context = _context(text, m.start(), m.end(), "DRIVER")
            if not context and any(_spaced(m.group(i)) for i in (2, 4, 6)):
                continue
            yield Finding("DRIVER", m.start(), m.end(), 0.97 if context else 0.85,
                          "region code valid" + (" + context" if context else ""), m.group())


def _passport(text: str) -> Iterator[Finding]:
    for m in PASSPORT_RE.finditer(text):
        context = _context(text, m.start(), m.end(), "PASSPORT")
        body = m.group(3)
        canonical = m.group(1).isupper() and not m.group(2) and (body.isdigit() or body.isupper())
        # lower case or "M 12345678" (as written by hand) is weaker evidence than M12345678
        strong, weak = (0.95, 0.65) if canonical else (0.9, 0.55)
        confidence = strong if context else weak
        yield Finding("PASSPORT", m.start(), m.end(), confidence,
                      "passport format" + (" + context" if context else ""), m.group())


def _card(text: str) -> Iterator[Finding]:
    for m in CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        context = _context(text, m.start(), m.end(), "CARD")
        if not CARD_PREFIX.match(digits):
            continue
        if _luhn(digits):
            yield Finding("CARD", m.start(), m.end(), 0.97 if context else 0.85,
                          "Luhn and issuer prefix" + (" + context" if context else ""),
                          m.group())
        elif context and not _negative(text, m.start()):
            yield Finding("CARD", m.start(), m.end(), 0.6, "card context (Luhn fails)",
                          m.group())


def _year_range(first: str, second: str) -> bool:
    """"1861-1904": two years, not a 15xx/16xx/18xx number."""
    return 1800 <= int(first) < int(second) <= 2099


def _phone(text: str) -> Iterator[Finding]:
    for m in PHONE_RE.finditer(text):
        context = _context(text, m.start(), m.end(), "PHONE")
        if m.group("short") and not context and _year_range(m.group(2), m.group(3)):
            continue
        yield Finding("PHONE", m.start(), m.end(), 0.95 if context else 0.85,
                      "phone number format" + (" + context" if context else ""), m.group())


def _account(text: str) -> Iterator[Finding]:
    for m in ACCOUNT_RE.finditer(text):
        value = m.group()
        date = DATE_LIKE.match(value)
        if date and 1 <= int(date.group(1)) <= 12 and 1 <= int(date.group(2)) <= 31:
            continue  # 2024-03-15 near 계좌 is a date
        if ("." in value or " " in value) and sum(c.isdigit() for c in value) < 10:
            continue  # dotted or spaced groups: only as long as real account numbers (10-14)
        if _context(text, m.start(), m.end(), "ACCOUNT") and not _negative(text, m.start()):
            yield Finding("ACCOUNT", m.start(), m.end(), 0.8, "bank or 계좌 nearby", value)


def _email(text: str) -> Iterator[Finding]:
    for m in EMAIL_RE.finditer(text):
        yield Finding("EMAIL", m.start(), m.end(), 0.97, "e-mail address", m.group())


def _ip(text: str) -> Iterator[Finding]:
    for m in IPV4_RE.finditer(text):
        if all(int(g) <= 255 for g in m.groups()) and not _negative(text, m.start()):
            yield Finding("IP", m.start(), m.end(), 0.8, "IPv4 address", m.group())
    for m in IPV6_RE.finditer(text):
        yield Finding("IP", m.start(), m.end(), 0.85, "IPv6 address", m.group())


DETECTORS = (_thirteen, _brn, _driver, _passport, _card, _phone, _email, _ip, _account)
PRIORITY = {"CRN": 9, "RRN": 9, "ARN": 9, "BRN": 8, "DRIVER": 8, "CARD": 7, "PASSPORT": 7,
            "EMAIL": 7, "PHONE": 6, "IP": 5, "ACCOUNT": 3}


DIGIT_RUNS = re.compile(r"\d+")


def _worth_running(text: str) -> list[Callable[[str], Iterator[Finding]]]:
    """The detectors whose patterns can match at all, from necessary conditions checked at C
    speed (digit runs, an @, a dot or a colon): most texts need only a few of the nine scans."""
    runs = [len(r) for r in DIGIT_RUNS.findall(text)]
    longest, total = max(runs, default=0), sum(runs)
    wanted: list[Callable[[str], Iterator[Finding]]] = []
    if longest >= 6:
        wanted.append(_thirteen)
    if longest >= 5 and total >= 10:
        wanted.append(_brn)
    if longest >= 6 and total >= 12:
        wanted.append(_driver)
    if longest >= 4 and PASSPORT_LETTER.search(text):
        wanted.append(_passport)
    if longest >= 4 and total >= 15:
        wanted.append(_card)
    if longest >= 4 and total >= 8:
        wanted.append(_phone)
    if "@" in text:
        wanted.append(_email)
    if "." in text or ":" in text:
        wanted.append(_ip)
    if total >= 4:
        wanted.append(_account)
    return wanted


PASSPORT_LETTER = re.compile("[MSRODGmsrodg]")


def detect(text: str, threshold: float = THRESHOLD) -> list[Finding]:
    """All PII findings at or above `threshold`, non-overlapping, in text order. Matching runs
    on the normalised text; spans, and each finding's `text`, are the original's."""
    norm = normalise(text)
    seen = norm.text
    detectors = _worth_running(seen)
    candidates = [f for detector in detectors for f in detector(seen)
                  if f.confidence >= threshold]
    candidates.sort(key=lambda f: (-PRIORITY[f.type], -f.confidence, -(f.end - f.start)))
    chosen: list[Finding] = []
    for f in candidates:
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    chosen.sort(key=lambda f: f.start)
    if not norm.norm_starts:
        return chosen  # nothing was normalised: the spans are the original's
    found = []
    for f in chosen:
        start, end = norm.span(f.start, f.end)
        found.append(Finding(f.type, start, end, f.confidence, f.reason, text[start:end]))
    return found
