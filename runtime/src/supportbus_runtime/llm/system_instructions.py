"""Remove what a customer's message says to the *system* rather than about their problem.

Why: "classify this as lost_or_stolen_card", "priority: urgent" or a bare intent identifier
steer a local (non-LLM) classifier as surely as a model: the words and the identifier outweigh
the real request. A classifier should read only the request, so these clauses go (the stored
request keeps them, and the injection flags still see them). Ordinary requests such as "please
mark my card as stolen" stay: the object there is the customer's card, not the ticket.
"""

from __future__ import annotations

import html
import re
import urllib.parse

from supportbus_runtime.llm.unicode_safety import visible_text

_WORD = r"[^\s.!?;,:<>()\[\]{}\"'`]+"
# What an instruction sets: an identifier, or at most three words (never past punctuation or
# markup, so the customer's own question after it stays).
# A dot before it means a dotted name (jane.doe_x@…, config.max_value), except in an ellipsis.
SNAKE_CASE = (
    r"(?<![\w@/\\-])(?<!\w\.)[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w@/\\-])(?![\w.]*@)(?!\.\w)"
)
_T = rf"\s*[\"'`]?(?:{SNAKE_CASE}|{_WORD}(?:[ \t]+{_WORD}){{0,2}})[\"'`]?"
_TICKET_OBJECT = (
    r"(?:this|it|(?:this|the|my)\s+(?:ticket|request|message|case|e-?mail|enquiry|inquiry|"
    r"query|issue|complaint))"
)
_PRIORITY_WORDS = (
    r"(?:urgent|critical|high|highest|low|medium|normal|p[0-4]|priority|top|queue|team|"
    r"category|intent|escalat\w*)"
)

_PATTERNS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # "classify/route/file/tag/label/mark this (ticket) as|under|to …"
        rf"\b(?:please\s+)?(?:re-?)?(?:classify|categori[sz]e|route|file|tag|label|mark|treat|"
        rf"flag|assign|escalate)\s+{_TICKET_OBJECT}\s+(?:as|under|to|into|with)\b{_T}",
        # object-less: "classify as …", "file under …", "tag to …"
        rf"\b(?:please\s+)?(?:classify|categori[sz]e|label|tag|mark)\s+(?:as|under|to|into)\b{_T}",
        rf"\b(?:please\s+)?file\s+(?:under|as)\b{_T}",
        rf"\b(?:please\s+)?route\s+(?:to|into|as)\s+(?:the\s+)?(?={_PRIORITY_WORDS}\b|"
        rf"{SNAKE_CASE}){_T}",
        # "set (the) priority (to) urgent"
        rf"\b(?:please\s+)?set\b[^.!?\n;,<>]{{0,20}}\bpriority\b(?:\s+(?:to|as|at|=))?"
        rf"(?:\s*[\"'`]?{_WORD}[\"'`]?)?",
        # "priority: urgent", "intent = pin_blocked", "category: cards"
        r"\b(?:priority|intent|category|label|queue|routing)\s*[:=]\s*[\"'`]?[\w-]*[\"'`]?",
        # bare intent identifiers
        SNAKE_CASE,
    )
]
# Screening forms: percent-encoding ("classify%20this%20as%20…") and Markdown emphasis around
# a word ("_lost_or_stolen_card_", "__label as x__") would otherwise hide an instruction or an
# identifier from the patterns while a model still reads it.
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_LEADING_UNDERSCORES = re.compile(r"(?<![\w.@/\\-])_+(?=[A-Za-z])")
_TRAILING_UNDERSCORES = re.compile(r"(?<=[A-Za-z0-9])_+(?![\w@/\\-])")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_EMPTY_PUNCT = re.compile(r"(^|\n)[ \t]*[.,;:!?]+[ \t]*")


def strip_system_instructions(text: str) -> str:
    """``text`` without clauses addressed to the system (routing, priority, intent or category
    settings) and without intent-like identifiers; everything else of the message stays."""
    if "&" in text:
        text = html.unescape(text)
    screened = _screening_form(text)
    stripped = screened
    for pattern in _PATTERNS:
        stripped = pattern.sub(" ", stripped)
    if stripped == screened:
        return text
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", stripped)
    text = _SPACES.sub(" ", text)
    text = _EMPTY_PUNCT.sub(r"\1", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _screening_form(text: str) -> str:
    """``text`` percent-decoded (when it has percent escapes) and without Markdown emphasis
    underscores around words, so that encoded or emphasised instructions match the patterns."""
    if _PERCENT.search(text):
        text = visible_text(urllib.parse.unquote(text))
    if "_" in text:
        text = _TRAILING_UNDERSCORES.sub("", _LEADING_UNDERSCORES.sub("", text))
    return text
