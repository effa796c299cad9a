"""Customer PII redaction, the one mechanism behind logs, span attributes, LLM prompts and
dead-letter reasons: e-mail addresses, IBANs, card numbers and phone numbers become ``[email]``,
``[iban]``, ``[card]`` and ``[phone]``.

Validation comes from well-kept libraries rather than hand-written rules: IBAN check digits and
country formats from python-stdnum (``stdnum.iban``), the Luhn check from ``stdnum.luhn`` and
phone numbers from ``phonenumbers`` (Google's libphonenumber). Regexes only find candidates.

When something is redacted, the result is NFKC-normalised (no-break and thin spaces become
spaces, full-width ``＠`` and digits become ASCII); text with nothing to redact comes back as is.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

EMAIL, IBAN, CARD, PHONE = "[email]", "[iban]", "[card]", "[phone]"

# A number glued to an identifier is part of it, never PII: the hex groups of a UUID or a
# uuid-suffixed client id, a version, a decimal, a Kafka offset (topic[3]@123456789), a path.
# A match must not start right after, nor end right before, such characters (a "." that ends a
# sentence is fine). Ports and clock times are too short to be numbers, so ":" may touch one.
_NOT_AFTER_ID = re.compile(r"[\w./@-]")
_NOT_BEFORE_ID = re.compile(r"[\w/@-]|\.\w")

# e-mail: user@host, user%40host (URL-encoded), mailto:, user [at] host [dot] tld (or (at), {at})
# A local part starts at the start of a word: no quadratic retries inside long tokens.
_LOCAL = r"(?<![\w.+-])[\w.+-]+"
_LABEL = r"[\w-]+"
_BRACKET_AT = r"\s*[\[({]\s*at\s*[\])}]\s*"
_BRACKET_DOT = r"\s*[\[({]\s*dot\s*[\])}]\s*"
_BARE_DOT = r"\s+dot\s+"
_AT = rf"(?:@|%40|{_BRACKET_AT})"
_DOT = rf"(?:\.|{_BRACKET_DOT}|{_BARE_DOT})"
_SPELLED_DOT = rf"(?:{_BRACKET_DOT}|{_BARE_DOT})"
_PROSE = r"(?:the|a|an|my|your|our|his|her|their|its|this|that|least|all|home|work|last|first)"
_EMAIL = re.compile(
    rf"(?<![\w.+-])(?:mailto:)?{_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})+"
    # "ann at example dot com": a bare "at" only with a spelled-out dot, and not before a word
    # that starts a phrase ("look at example.com", "look at the dot com bubble" are prose).
    rf"|{_LOCAL}\s+at\s+(?!{_PROSE}\b){_LABEL}(?:{_SPELLED_DOT}{_LABEL})+",
    re.IGNORECASE,
)
# Cheap to search for, and in every address: an "at" between word characters, or a "dot".
# (A Kafka position, topic[3]@123, has "]" before its "@".)
_EMAIL_HINT = re.compile(rf"[\w.+-]{_AT}[\w-]|\bdot\b", re.IGNORECASE)

# IBAN: a country code and check digits, then groups split by spaces, dashes or dots
_IBAN_RUN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}[A-Za-z0-9]*(?:[ .-][A-Za-z0-9]+){0,10}")
_IBAN_GROUP = re.compile(r"[A-Za-z0-9]+")

# cards: 13 to 19 digits, any of space, dot or dash between them
_CARD_RUN = re.compile(r"(?<![\w./@-])\d(?:[ .-]?\d){12,18}(?![\w/@-]|\.\w)")

# phones: digits with the separators people write, found by regex, judged by libphonenumber
# Timestamps, dates and IP addresses are consumed whole, so no candidate starts inside one.
_PHONE_RUN = re.compile(
    r"(?P<skip>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"|\d{1,2}[./]\d{1,2}[./]\d{4}"
    r"|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?)"
    r"|(?<![\w./@-])(?P<run>\+?\(?\d[\d ()./-]*\d\)?)"
)
# Most likely first: the search stops at the first region whose numbers cover the candidate.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "IE")
_PHONE_MIN_DIGITS = 7
# A bare run of digits needs 9, so counts, sizes and offsets up to hundreds of millions stay.
_BARE_PHONE_MIN_DIGITS = 9
_NOT_A_PHONE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2026-03-01 (09:30)
    r"|\d{1,2}[./]\d{1,2}[./]\d{4}"  # 01.03.2026
    r"|\d{1,3}(?:\.\d{1,3}){3}$"  # 127.0.0.1
    r"|\d+[.,]\d{1,2}$"  # an amount, 12345.67
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IBANs (valid check digits), Luhn-valid card numbers and
    valid phone numbers masked; identifiers (UUIDs, trace ids, offsets, timestamps, ticket ids)
    are left as they are. The result is NFKC-normalised if anything was redacted."""
    normal = (
        text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    )
    out = normal
    if _EMAIL_HINT.search(out):
        out = _EMAIL.sub(EMAIL, out)
    out = _IBAN_RUN.sub(_iban, out)
    out = _CARD_RUN.sub(_card, out)
    out = _redact_phones(out)
    return text if out == normal else out


def _iban(match: re.Match[str]) -> str:
    # The run may have swallowed the words after the IBAN ("... 3000 please"): the longest
    # leading groups that validate are the IBAN.
    run = match.group()
    ends = [group.end() for group in _IBAN_GROUP.finditer(run)]
    for end in reversed(ends):
        candidate = run[:end]
        if 15 <= sum(char.isalnum() for char in candidate) <= 34 and stdnum_iban.is_valid(
            candidate
        ):
            return IBAN + run[end:]
    return run


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if luhn.is_valid(digits) else match.group()


def _redact_phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for found in _PHONE_RUN.finditer(text):
        run = found.group("run")
        if run and sum(char.isdigit() for char in run) >= _PHONE_MIN_DIGITS:
            spans.extend(_phone_spans(text, found.start("run"), run))
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in _merge(spans):
        # A "+" the candidate could not start with (after a "." in "metadata.+44 20 ...") is
        # still the number's: leaving it would say which country the customer called from.
        if start > position and text[start - 1] == "+":
            start -= 1
        pieces += [text[position:start], PHONE]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _phone_spans(text: str, offset: int, run: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    digits = sum(char.isdigit() for char in run)
    for region in PHONE_REGIONS:
        matches = list(
            phonenumbers.PhoneNumberMatcher(run, region, leniency=phonenumbers.Leniency.VALID)
        )
        found += [(offset + match.start, offset + match.end) for match in matches]
        if sum(char.isdigit() for match in matches for char in match.raw_string) == digits:
            break  # all of it is a number (or numbers) here
    stripped = run.strip("()")
    if stripped.startswith("+") and not found:
        # +E.164 form (+14155552671, +1-555-123-4567): the caller told us it is a phone number.
        try:
            number = phonenumbers.parse(stripped)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            start = offset + run.index("+")
            found.append((start, start + len(stripped)))
    return [span for span in found if _is_phone(text, *span)]


def _is_phone(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    if start > 0 and _NOT_AFTER_ID.match(text[start - 1]):
        return False
    if _NOT_BEFORE_ID.match(text, end):
        return False
    if value.isdigit() and len(value) < _BARE_PHONE_MIN_DIGITS:
        return False
    return not _NOT_A_PHONE.match(value)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
