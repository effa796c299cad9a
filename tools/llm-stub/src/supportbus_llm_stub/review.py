"""The ``review`` step: the review a careful QA model would give of a support reply, computed
from the request alone, so the reviewer agent (agents/reviewer) can be tested offline.

The reviewer's crew names its agent a "QA reviewer" in the system message and sends one task
message: the help articles the reply cites (``[article-id] title`` lines, each followed by the
article's text), then the reply between the customer-message delimiters. The review is
deterministic:

* ``score``: the share of the reply's content words (four letters or more, links, greetings and
  sign-off left out) found in the articles, less 0.25 for each unsupported promise and 0.1 for
  each ``polite`` or ``complete`` finding, in 0..1, rounded to 2 decimals;
* ``grounded`` when under 60 % of those words are in the articles;
* ``unsupported_promise`` for each promise phrase (``refund``, ``guarantee``, ``within 24
  hours``, ...) in the reply that no article contains;
* ``polite`` when the reply neither greets nor thanks the customer;
* ``complete`` when the reply has fewer than 8 content words, or no article was given.

With tools offered, the review is a call of the first tool (``{"score", "findings"}``); without,
the same object as JSON text.
"""

from __future__ import annotations

import re
from typing import Any

REVIEWER_MARK = "QA reviewer"
GROUNDED_SHARE = 0.6
MIN_CONTENT_WORDS = 8
PROMISES = (
    "guarantee",
    "guaranteed",
    "promise",
    "refund",
    "refunded",
    "compensation",
    "compensate",
    "reimburse",
    "waive",
    "free of charge",
    "immediately",
    "instantly",
    "within 24 hours",
    "within an hour",
)

_DELIMITED = re.compile(r"<<<([A-Z_]+)>>>(.*?)<<<END_\1>>>", re.DOTALL)
_ARTICLE_LINE = re.compile(r"^\[([A-Za-z0-9][A-Za-z0-9._:-]*)\] ", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
_WORD = re.compile(r"[a-z][a-z']+")
_GREETING = re.compile(r"\b(hello|hi|dear|good (morning|afternoon|evening))\b", re.IGNORECASE)
_THANKS = re.compile(r"\bthank", re.IGNORECASE)
# Greetings, the sign-off and glue words: every reply has them, grounded or not.
_IGNORED_WORDS = (
    "hello", "dear", "thank", "thanks", "kind", "regards", "support", "team", "bank",
    "northwind", "with", "your", "that", "this", "have", "from", "will", "what", "when",
    "which", "there", "their", "they", "them", "then", "than", "been", "were", "just", "also",
    "into", "about", "please",
)  # fmt: skip


def _messages(body: dict[str, Any], role: str) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == role
    )


def is_review_request(body: dict[str, Any]) -> bool:
    return REVIEWER_MARK in _messages(body, "system")


def _stem(word: str) -> str:
    return word.removesuffix("'s").removesuffix("s")


_IGNORED = frozenset(_stem(w) for w in _IGNORED_WORDS)


def _words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(_URL.sub(" ", text.lower()))]


def review_arguments(body: dict[str, Any]) -> dict[str, Any]:
    user = _messages(body, "user")
    match = _DELIMITED.search(user)
    reply = match.group(2).strip() if match else ""
    head = user[: match.start()] if match else user
    first_article = _ARTICLE_LINE.search(head)
    articles = head[first_article.start() :] if first_article else ""
    vocabulary = set(_words(articles))
    content = [w for w in _words(reply) if len(w) >= 4 and w not in _IGNORED]
    share = sum(w in vocabulary for w in content) / len(content) if content else 0.0

    findings: list[dict[str, str]] = []
    if share < GROUNDED_SHARE:
        findings.append(
            {
                "kind": "grounded",
                "detail": f"Only {share:.0%} of the reply's content words appear in the cited "
                "articles.",
            }
        )
    lowered_reply, lowered_articles = reply.lower(), articles.lower()
    promises = [
        p
        for p in PROMISES
        if re.search(rf"\b{re.escape(p)}\b", lowered_reply)
        and not re.search(rf"\b{re.escape(p)}\b", lowered_articles)
    ]
    findings += [
        {
            "kind": "unsupported_promise",
            "detail": f'The reply promises "{p}", which the cited articles do not.',
        }
        for p in promises
    ]
    if not _GREETING.search(reply) and not _THANKS.search(reply):
        findings.append({"kind": "polite", "detail": "The reply neither greets nor thanks."})
    if len(content) < MIN_CONTENT_WORDS or not first_article:
        findings.append(
            {"kind": "complete", "detail": "The reply is too thin to tell the customer what to do."}
        )
    others = len(findings) - len(promises)
    score = share - 0.25 * len(promises) - 0.1 * (others - (share < GROUNDED_SHARE))
    return {"score": round(min(max(score, 0.0), 1.0), 2), "findings": findings}
