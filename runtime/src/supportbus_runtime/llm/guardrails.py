"""Guardrails around every LLM call: the customer's text is data, never instructions.

Input: strip markup and control characters, cap the length, redact personal data (unless the
operator allows it), wrap the text in delimiters the text itself cannot contain, and flag known
injection phrasings. Output: a reply may not quote the system prompt, carry personal data, name
another customer, or link anywhere but the allowed URLs (the ticket and the knowledge base).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from supportbus_runtime.llm.unicode_safety import (
    decoded_variants,
    fold_char,
    hidden_characters,
    skeleton,
    visible_text,
)
from supportbus_runtime.logs import redact

BEGIN = "<<<CUSTOMER_MESSAGE>>>"
END = "<<<END_CUSTOMER_MESSAGE>>>"

_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!|][^<>]{0,500}>")
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
_ANGLES = re.compile(r"<{2,}|>{2,}")
# Angle look-alikes a model could read as a delimiter's brackets (NFKC already made full-width
# ones ASCII); runs of two or more go, as ``<<`` and ``>>`` runs do.
_ANGLE_LIKE = (
    "<>\u00ab\u00bb\u2039\u203a\u2329\u232a\u3008\u3009\u300a\u300b\u27e8\u27e9\u276e\u276f"
)
_ANGLE_RUNS = re.compile(f"[{_ANGLE_LIKE}]{{2,}}")
# The delimiters' word, matched on the look-alike-folded text (Cyrillic С, Greek Ε, …).
_DELIMITER_WORD = re.compile(r"(?:end[_-]?)?customer[_-]?message", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]{2,}")

INJECTION_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "ignore_instructions": (
            r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}"
            r"\b(instructions?|rules|prompts?|guidelines|directions|guardrails|policy|policies)\b"
        ),
        "role_play": (
            r"\b(you are now|act as|acting as|pretend (to be|you are|that)|role[- ]?play|"
            r"from now on,? you|new persona|developer mode|jailbreak|DAN mode|simulate being)\b"
        ),
        "fake_role_message": (
            r"(^|\n)\s*[#*\[(<]*\s*(system|assistant|developer|admin|tool)\s*"
            r"(message|prompt|note|override)?\s*[:>\])]|<\|?\s*(im_start|im_end|system|endoftext)"
            r"|\[/?(INST|SYS)\]|\bBEGIN (SYSTEM|ADMIN)\b"
        ),
        "prompt_reveal": (
            r"\b(reveal|show|print|repeat|output|display|tell me|share|leak|dump|"
            r"what (is|are|were))"
            r"\b[^.\n]{0,40}\b(system prompt|(your|the|initial|hidden|original) "
            r"(instructions|prompt|rules|configuration))"
        ),
        "routing_override": (
            r"\b(classify|categori[sz]e|label|route|tag|file|treat|mark)\s+(this|it|me|my\s+\w+|"
            r"the\s+\w+)\s+(as|under|to)\b|\bset\b[^.\n]{0,20}\bpriority\b|"
            r"\bpriority\s*[:=]|\b(intent|category)\s*[:=]|"
            # object-less: "classify as X", "tag to X", "file under X", "route to pin_blocked"
            r"\b(classify|categori[sz]e|label|tag|mark)\s+(as|under|to|into)\s+\S|"
            r"\bfile\s+(under|as)\s+\S|"
            r"\b(route|file)\s+(to|into|as)\s+(the\s+)?(urgent|critical|high|low|medium|p[0-4]|"
            r"priority|queue|category|intent|[a-z][a-z0-9]*(_[a-z0-9]+)+)\b"
        ),
        "intent_name": (
            # an identifier in snake_case (lost_or_stolen_card), not part of an e-mail, path or
            # dotted name; Markdown emphasis (_x_, __x__) and an ellipsis before it do not hide it
            r"(?<![\w@/\\-])(?<!\w\.)_*[a-z][a-z0-9]*(_[a-z0-9]+)+_*(?![\w@/\\-])(?![\w.]*@)"
            r"(?!\.\w)"
        ),
        "link_injection": (
            r"\b(include|add|insert|put|append|send|paste)\b[^.\n]{0,40}\b(link|url|https?://)"
        ),
        "data_fishing": (
            r"\b(other|another|all|previous|every|last)\s+(customers?|users?|clients?|"
            r"account holders?|people)('s?)?\b[^.\n]{0,60}\b(data|details|e-?mails?|addresses|"
            r"accounts?|numbers?|information|tickets?|names?|balances?|ibans?|phones?)"
        ),
    }.items()
}


FLAG_NAMES = (*INJECTION_PATTERNS, "encoded_instructions", "hidden_characters")


def sanitize(text: str, max_chars: int) -> str:
    """Plain text only: what a reader sees (``visible_text``), no markup, no delimiter or
    look-alikes of it."""
    text = visible_text(text)
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _TAG.sub(" ", text)  # markup that was entity-escaped
    text = visible_text(text)  # what the entities spelled
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _ANGLES.sub(" ", text)
    text = _ANGLE_RUNS.sub(" ", _without_delimiter_words(text))
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text).strip()
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + " [truncated]"


def _without_delimiter_words(text: str) -> str:
    """``text`` without the delimiters' word in any look-alike spelling."""
    if "customer" in text.lower() and text.isascii():
        return _DELIMITER_WORD.sub(" ", text)
    if text.isascii():
        return text
    folded: list[str] = []
    origin: list[int] = []  # folded position -> index in text
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Mn":
            continue  # combining marks inside the word
        for piece in fold_char(char).casefold():
            folded.append(piece)
            origin.append(index)
    spans = [
        (origin[m.start()], origin[m.end() - 1] + 1)
        for m in _DELIMITER_WORD.finditer("".join(folded))
    ]
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return text


def _flags(text: str) -> set[str]:
    return {name for name, pattern in INJECTION_PATTERNS.items() if pattern.search(text)}


def injection_flags(text: str) -> list[str]:
    """The names of the injection phrasings found in ``text``, its look-alike-folded skeleton
    and the decodings of obvious encodings in it (empty: none). ``encoded_instructions``: a
    phrasing only a decoding showed; ``hidden_characters``: the text hides characters."""
    found = _flags(text) | _flags(visible_text(text)) | _flags(skeleton(text))
    decoded: set[str] = set()
    for variant in decoded_variants(text):
        decoded |= _flags(visible_text(variant)) | _flags(skeleton(variant))
    if decoded - found:
        found.add("encoded_instructions")
    found |= decoded
    if hidden_characters(text):
        found.add("hidden_characters")
    return [name for name in FLAG_NAMES if name in found]


def protect_pii(text: str, *, allow_pii: bool) -> str:
    return text if allow_pii else redact(text)


def wrap_untrusted(text: str) -> str:
    """The customer's text between delimiters it cannot contain (``sanitize`` removes them)."""
    return f"{BEGIN}\n{text}\n{END}"


# ---------------------------------------------------------------------------- output checks
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'`)\]]+", re.IGNORECASE)
_CUSTOMER_ID = re.compile(r"\bcus_[A-Za-z0-9]+\b")
_WORD = re.compile(r"[a-z0-9']+")
SHINGLE_WORDS = 8


def _norm_url(url: str) -> str:
    return url.rstrip(".,;:!?").rstrip("/").lower()


def urls_in(text: str) -> list[str]:
    return [_norm_url(u) for u in _URL.findall(text)]


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def check_reply(
    reply: str,
    *,
    allowed_urls: Iterable[str],
    system_prompt: str,
    max_chars: int,
    customer_id: str = "",
    allowed_text: Iterable[str] = (),
) -> list[str]:
    """Violations of the output policy (empty: the reply may be sent)."""
    problems: list[str] = []
    if len(reply) > max_chars:
        problems.append("too_long")
    allowed = {_norm_url(u) for u in allowed_urls if u}
    if any(url not in allowed for url in urls_in(reply)):
        problems.append("forbidden_link")
    if _shingles(reply) & _shingles(system_prompt):
        problems.append("system_prompt_leak")
    scrubbed = _URL.sub(" ", reply)
    for text in allowed_text:
        if text:
            scrubbed = scrubbed.replace(text, " ")
    if redact(scrubbed) != scrubbed:
        problems.append("personal_data")
    if any(found != customer_id for found in _CUSTOMER_ID.findall(scrubbed)):
        problems.append("other_customer")
    return problems
