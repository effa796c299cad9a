"""The ``echo_valid`` step: the answer a careful model would give, built from the request alone.

Load tests need an LLM whose every answer is accepted on the first try (no repair call, no
fallback), without scripting one step per request. Everything needed is in the prompt: the
classifier offers its intents (an ``enum`` in the tool schema, or ``- name: description`` lines
in the system prompt), the responder lists ``[article-id]`` lines and the ticket link.
"""

from __future__ import annotations

import re
from typing import Any

_INTENT_LINE = re.compile(r"^- ([A-Za-z0-9_?]+): (.*)$", re.MULTILINE)
_ARTICLE_LINE = re.compile(r"^\[([A-Za-z0-9][A-Za-z0-9._:-]*)\] ", re.MULTILINE)
_TICKET_LINK = re.compile(r"[Tt]icket\b[^\n]*?\blink:\s*(https?://\S+)")
# The customer's text is delimited (<<<X>>> ... <<<END_X>>>); ids or links inside it are data.
_DELIMITED = re.compile(r"<<<([A-Z_]+)>>>(.*?)<<<END_\1>>>", re.DOTALL)
_BRAND = re.compile(r"sign as (.+?) support", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")


def _messages(body: dict[str, Any], role: str) -> str:
    return "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == role
    )


def offered_intents(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, description) of every intent the request offers; an ``enum`` in a tool's
    ``intent`` parameter wins over the system prompt's list."""
    for tool in body.get("tools") or []:
        properties = tool.get("function", {}).get("parameters", {}).get("properties", {})
        enum = properties.get("intent", {}).get("enum")
        if enum:
            return [(str(name), "") for name in enum]
    return [(name, text) for name, text in _INTENT_LINE.findall(_messages(body, "system"))]


def _customer_words(body: dict[str, Any]) -> set[str]:
    user = _messages(body, "user")
    parts = [inner for _, inner in _DELIMITED.findall(user)] or [user]
    return set(_WORD.findall(" ".join(parts).lower()))


def _pick(intents: list[tuple[str, str]], words: set[str]) -> str:
    """The intent sharing most words with the customer's text (ties: the first offered), so
    the answers vary like a model's instead of all naming one intent."""
    best, best_score = intents[0][0], 0
    for name, description in intents:
        vocabulary = set(_WORD.findall(f"{name} {description}".lower().replace("_", " ")))
        score = len(vocabulary & words)
        if score > best_score:
            best, best_score = name, score
    return best


def echo_valid_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """Tool-call arguments for a classification request: an offered intent, a confidence and
    a neutral summary (no personal data, nothing copied from the prompt)."""
    intents = offered_intents(body)
    intent = _pick(intents, _customer_words(body)) if intents else "unknown"
    readable = intent.replace("_", " ").strip(" ?")
    return {"intent": intent, "confidence": 0.9, "summary": f"Customer request about {readable}."}


def echo_valid_reply(body: dict[str, Any]) -> str:
    """A reply citing the articles the prompt offers and carrying its ticket link, and nothing
    else: no other links, no personal data, short, and in words of its own."""
    user = _DELIMITED.sub(" ", _messages(body, "user"))
    articles = list(dict.fromkeys(_ARTICLE_LINE.findall(user)))
    link = _TICKET_LINK.search(user)
    brand = _BRAND.search(_messages(body, "system"))
    parts = ["Hello,", "Thanks for reaching out."]
    if articles:
        cited = " and ".join(f"[{article}]" for article in articles[:2])
        parts.append(f"The steps that apply to your case are in {cited}.")
    if link:
        parts.append(f"Your case is open and we will keep you posted at {link.group(1)}.")
    parts.append(f"Kind regards,\n{brand.group(1) if brand else 'The'} support")
    return "\n\n".join(parts)
