"""What happens to PII found at a boundary: allow, mask, pseudonymise or block.

`pseudonymise` replaces each value with a stable placeholder (`<주민등록번호_1>`) before the
text reaches a model or a tool, and `Vault.restore` puts the values back into the answer the
user sees, so a remote upstream never sees the real values. Streaming answers are restored and
masked with a small hold-back buffer, so a placeholder or a number split across two chunks is
still handled.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from jaju.errors import PiiBlocked
from jaju.guards.pii import TYPE_NAMES, Finding, detect, normalise

ACTIONS = ("allow", "mask", "pseudonymise", "block")
PLACEHOLDER = re.compile(r"<(" + "|".join(TYPE_NAMES.values()) + r")_(\d{1,4})>")
HOLD_BACK = 40
"""Characters held back in streaming: longer than any placeholder or identifier."""


@dataclass(frozen=True)
class PiiPolicy:
    actions: dict[str, str] = field(default_factory=dict)
    default: str = "allow"

    def action(self, kind: str) -> str:
        return self.actions.get(kind, self.default)

    @property
    def active(self) -> bool:
        return self.default != "allow" or any(a != "allow" for a in self.actions.values())

    @classmethod
    def from_mapping(cls, mapping: dict[str, str]) -> PiiPolicy:
        mapping = dict(mapping)
        default = mapping.pop("default", "allow")
        return cls({k.upper(): v for k, v in mapping.items()}, default)


def mask(finding: Finding) -> str:
    """Hide the identifying part, keep the shape: 880101-1******, 010-****-5678."""
    value = finding.text
    if finding.type in ("RRN", "ARN", "CRN"):
        digits_seen, out = 0, []
        for ch in value:
            if ch.isdigit():
                digits_seen += 1
                out.append(ch if digits_seen <= 7 else "*")
            else:
                out.append(ch)
        return "".join(out)
    if finding.type == "EMAIL":  # h***@naver.com; the @ may be full-width or small
        norm = normalise(value)
        at = norm.text.find("@")
        start = norm.span(at, at + 1)[0] if at > 0 else len(value)
        return value[:1] + "***" + value[start:]
    if finding.type in ("CARD", "ACCOUNT"):
        total = sum(c.isdigit() for c in value)
        seen, out = 0, []
        for ch in value:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > total - 4 else "*")
            else:
                out.append(ch)
        return "".join(out)
    if finding.type == "PHONE":
        return _mask_phone(value)
    keep = 2
    if finding.type == "IP":  # keep the first octet: up to the first dot of any width
        norm = normalise(value)
        dot = norm.text.find(".")
        keep = norm.span(dot, dot + 1)[1] if dot > 0 else 0
    return value[:keep] + "".join("*" if ch.isalnum() else ch for ch in value[keep:])


def _mask_phone(value: str) -> str:
    """010-****-5678, (02) ***-5227, 010.****.5678: the group before the last is hidden; without
    separators all but the first three and the last four digits. Groups are found in the
    normalised value (full-width digits, any separator, zero-width characters inside a group)
    and the original characters are replaced."""
    norm = normalise(value)  # groups as the detector saw them: zero-width characters vanish
    runs: list[list[int]] = []
    for i, ch in enumerate(norm.text):
        if ch.isdigit():
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    # with three groups or more, the one before the last; else all but the first 3 and last 4
    hidden_norm = runs[-2] if len(runs) >= 3 else [i for run in runs for i in run][3:-4]
    hidden = {norm.span(i, i + 1)[0] for i in hidden_norm}
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


@dataclass
class Vault:
    """Placeholders of one request: value <-> `<유형_n>`."""

    by_value: dict[str, str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def placeholder(self, finding: Finding) -> str:
        if finding.text not in self.by_value:
            self.counts[finding.type] += 1
            token = f"<{TYPE_NAMES[finding.type]}_{self.counts[finding.type]}>"
            self.by_value[finding.text] = token
            self.by_placeholder[token] = finding.text
        return self.by_value[finding.text]

    def restore(self, text: str) -> str:
        if not self.by_placeholder:
            return text
        return PLACEHOLDER.sub(lambda m: self.by_placeholder.get(m.group(0), m.group(0)), text)


@dataclass
class Applied:
    text: str
    decisions: Counter[str] = field(default_factory=Counter)
    """"action:TYPE" -> count, for the audit log (never values)."""


def apply(text: str, policy: PiiPolicy, vault: Vault, *, outbound: bool = False) -> Applied:
    """Rewrite `text` by policy. Inbound `block` raises PiiBlocked; outbound, values the vault
    knows are the user's own (restored elsewhere), and `block` masks what a model produced."""
    findings = detect(text)
    result: list[str] = []
    decisions: Counter[str] = Counter()
    blocked: list[str] = []
    at = 0
    for f in findings:
        action = policy.action(f.type)
        if outbound and f.text in vault.by_value:
            action = "allow"  # the user's own value, restored from its placeholder
        elif outbound and action == "pseudonymise":
            action = "mask"  # a value the model produced: nothing to restore it to
        if action == "allow":
            continue
        decisions[f"{action}:{f.type}"] += 1
        result.append(text[at:f.start])
        if action == "block" and not outbound:
            blocked.append(f.type)
            replacement = f.text
        elif action == "pseudonymise":
            replacement = vault.placeholder(f)
        else:  # mask, and block on the way out (what was sent cannot be unsent)
            replacement = mask(f)
        result.append(replacement)
        at = f.end
    if blocked:
        raise PiiBlocked(sorted(set(blocked)))
    result.append(text[at:])
    return Applied("".join(result), decisions)


class StreamFilter:
    """Outbound streaming: restore placeholders and apply the policy to text that arrives in
    pieces. Holds back the tail that could still be part of a placeholder or an identifier."""

    def __init__(self, policy: PiiPolicy, vault: Vault) -> None:
        self.policy, self.vault = policy, vault
        self.buffer = ""
        self.decisions: Counter[str] = Counter()

    def feed(self, piece: str) -> str:
        self.buffer += piece
        text = self.vault.restore(self.buffer)
        # hold back HOLD_BACK characters as the detector sees them: zero-width characters
        # padding a number cannot push its first digits out of the window
        norm = normalise(text)
        back = len(norm.text) - HOLD_BACK
        cut = norm.span(back, back + 1)[0] if back > 0 else 0
        open_tag = text.rfind("<", cut)
        if open_tag != -1 and ">" not in text[open_tag:]:
            cut = min(cut, open_tag)
        for f in detect(text):
            if f.start < cut < f.end:
                cut = f.start
        return self._emit(text, cut)

    def flush(self) -> str:
        text = self.vault.restore(self.buffer)
        return self._emit(text, len(text))

    def _emit(self, text: str, cut: int) -> str:
        if cut <= 0:
            self.buffer = text
            return ""
        applied = apply(text[:cut], self.policy, self.vault, outbound=True)
        self.decisions.update(applied.decisions)
        self.buffer = text[cut:]
        return applied.text


def apply_joined(pieces: list[str], policy: PiiPolicy, vault: Vault, *,
                 block_as_mask: bool = False) -> tuple[list[str], Counter[str]]:
    """`apply` over pieces of one text (content parts, consecutive messages), detected as one
    text, so a number split across two pieces is still found; each piece is rewritten in
    place. With `block_as_mask`, `block` masks instead of refusing (for text the user did not
    send, such as retrieved evidence: it is withheld, the request goes on)."""
    joined = "".join(pieces)
    edits: list[tuple[int, int, str]] = []
    decisions: Counter[str] = Counter()
    blocked: list[str] = []
    for f in detect(joined):
        action = policy.action(f.type)
        if action == "allow":
            continue
        if action == "block" and block_as_mask:
            action = "mask"
        decisions[f"{action}:{f.type}"] += 1
        if action == "block":
            blocked.append(f.type)
        edits.append((f.start, f.end, vault.placeholder(f) if action == "pseudonymise"
                      else mask(f)))
    if blocked:
        raise PiiBlocked(sorted(set(blocked)))
    if not edits:
        return pieces, decisions
    out: list[str] = []
    at = 0
    for piece in pieces:
        start, end = at, at + len(piece)
        parts, pos = [], start
        for e_start, e_end, replacement in edits:
            if e_end <= pos or e_start >= end:
                continue
            if e_start >= pos:  # the finding starts here: its replacement goes here
                parts.append(joined[pos:e_start])
                parts.append(replacement)
            pos = min(e_end, end)  # a finding that began in an earlier piece: drop its rest
        parts.append(joined[pos:end])
        out.append("".join(parts))
        at = end
    return out, decisions
