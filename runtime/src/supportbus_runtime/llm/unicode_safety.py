"""Text as a human sees it, and folded forms of it for screening.

Why: a customer's message reaches a model (and the local classifier) as data, but Unicode lets
text hide from the human who reads it: tag characters (U+E0000–E007F) and variation selectors
carry invisible ASCII, zero-width and bidi characters split or reorder words, full-width and
Cyrillic look-alikes copy our delimiters and intent names, and base64/hex/rot13/percent/entity
encodings hide instructions from the phrase patterns. ``visible_text`` keeps only what a reader
sees (NFKC, no format, private-use, unassigned or control characters) while keeping every
ordinary script intact; ``skeleton`` folds look-alikes to Latin and ``decoded_variants`` undoes
obvious encodings, both for screening only: neither is ever shown to a model.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from functools import lru_cache

_REMOVED_CATEGORIES = frozenset({"Cf", "Co", "Cn", "Cs", "Cc"})
_KEPT_CONTROLS = frozenset({"\n", "\t"})
_LINE_BREAKS = str.maketrans({"\r": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"})
_SPACE_CONTROLS = frozenset({"\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"})
_JOINERS = frozenset({"\u200c", "\u200d"})  # legitimate inside emoji, Persian, Indic scripts

# Full-width punctuation of CJK text (，！？：；（）～) stays as written: harmless, and NFKC
# would rewrite every Chinese or Japanese sentence. Letters, digits and brackets still fold.
_KEPT_FULL_WIDTH = re.compile("([\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f\uff5e])")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

MAX_VARIANTS = 12
MAX_VARIANT_CHARS = 20_000
_MIN_PRINTABLE = 0.9


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x180B <= code <= 0x180F


def _visible_form(char: str) -> str | None:
    """What ``char`` becomes in visible text: itself, a space or a newline, or None (dropped)."""
    if char in _KEPT_CONTROLS:
        return char
    line_break = char.translate(_LINE_BREAKS)
    if line_break != char:
        return line_break
    if char in _SPACE_CONTROLS:
        return " "
    category = unicodedata.category(char)
    if category in _REMOVED_CATEGORIES or _is_variation_selector(char):
        return None
    return " " if category == "Zs" else char  # no-break spaces, U+2000–200A, ideographic space


class _MemoTable(dict[int, "str | None"]):
    """A ``str.translate`` table filled on first sight of each code point, so the per-character
    rules run in Python once per distinct character, and every pass after runs in C (a per-
    character loop here was 40% of an LLM classification's CPU). Bounded: past ``_MEMO_MAX``
    distinct characters the rest are computed without being kept."""

    def __init__(self, form: Callable[[str], str | None]) -> None:
        super().__init__()
        self._form = form

    def __missing__(self, code: int) -> str | None:
        value = self._form(chr(code))
        if len(self) < _MEMO_MAX:
            self[code] = value
        return value


_MEMO_MAX = 65_536
_VISIBLE = _MemoTable(_visible_form)


def _drop_invisible(text: str) -> str:
    return text.translate(_VISIBLE)


def visible_text(text: str) -> str:
    """What a reader sees: NFKC (CJK full-width punctuation aside), without format (zero-width,
    bidi, soft hyphen, tag), private-use, unassigned or surrogate characters, variation selectors
    and controls other than newline and tab; every other space becomes a plain space. Letters of
    any script stay."""
    text = text.replace("\r\n", "\n")
    # Drop first so hidden characters cannot hold composable pieces apart, NFKC, then drop
    # again (compatibility decompositions may yield spaces or controls).
    pieces = _KEPT_FULL_WIDTH.split(_drop_invisible(text))
    # split() with a group: the kept punctuation at the odd indices, text between at the even.
    return _drop_invisible(
        "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(pieces))
    )


def hidden_characters(text: str) -> bool:
    """The text carries format characters a reader cannot see (a lone leading BOM, and joiners
    between two non-ASCII characters as in emoji sequences or Persian, do not count), or
    supplementary variation selectors (a known way to smuggle bytes)."""
    if text.isascii():  # no format characters, no variation selectors
        return False
    if text.startswith("\ufeff"):
        text = text[1:]
    for index, char in enumerate(text):
        code = ord(char)
        if 0xE0100 <= code <= 0xE01EF:
            return True
        if unicodedata.category(char) != "Cf":
            continue
        if char in _JOINERS:
            before = text[index - 1] if index else "a"
            after = text[index + 1] if index + 1 < len(text) else "a"
            if not before.isascii() and not after.isascii():
                continue
        return True
    return False


@lru_cache(maxsize=8192)
def fold_char(char: str) -> str:
    """The Latin (ASCII) character ``char`` looks like, or ``char`` itself."""
    if char.isascii():
        return char
    from confusable_homoglyphs import confusables  # loads its data file: only when needed

    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=True)
    if not found:
        return char
    for entry in found:
        for glyph in entry["homoglyphs"]:
            latin = str(glyph["c"])
            if latin.isascii() and latin.strip():
                return latin
    return char


def skeleton(text: str) -> str:
    """A look-alike-folded, casefolded form FOR SCREENING ONLY (never shown to a model):
    visible text, accents dropped, confusables (Cyrillic, Greek, math letters, …) mapped to
    Latin."""
    decomposed = unicodedata.normalize("NFD", visible_text(text))
    return decomposed.translate(_SKELETON).casefold()


def _skeleton_form(char: str) -> str | None:
    return None if unicodedata.category(char) == "Mn" else fold_char(char)


_SKELETON = _MemoTable(_skeleton_form)


def _printable(decoded: bytes) -> str | None:
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    good = sum(1 for c in text if c.isprintable() or c in "\n\t")
    return text if good / len(text) >= _MIN_PRINTABLE else None


def _base64(run: str) -> str | None:
    padded = run + "=" * (-len(run) % 4)
    altchars = b"-_" if ("-" in run or "_" in run) else None
    try:
        decoded = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(decoded)


def _smuggled(text: str) -> list[str]:
    """ASCII carried by tag characters, and bytes carried by variation selectors."""
    tags = "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)
    data = bytearray()
    for char in text:
        code = ord(char)
        if 0xFE00 <= code <= 0xFE0F:
            data.append(code - 0xFE00)
        elif 0xE0100 <= code <= 0xE01EF:
            data.append(code - 0xE0100 + 16)
    selectors = _printable(bytes(data)) if len(data) >= 4 else None
    return [found for found in (tags, selectors) if found]


def decoded_variants(text: str) -> list[str]:
    """Decodings of obvious encodings in ``text`` (ASCII hidden in tag characters or variation
    selectors, base64 and hex runs, rot13 of the whole text, percent- and entity-decoding), for
    rescanning; bounded in number and total length."""
    candidates = _smuggled(text[:MAX_VARIANT_CHARS])
    text = visible_text(text[:MAX_VARIANT_CHARS])
    if _ENTITY.search(text):
        candidates.append(html.unescape(text))
    if _PERCENT.search(text):
        candidates.append(urllib.parse.unquote(text))
    candidates.append(codecs.encode(text, "rot13"))
    for match in _BASE64.finditer(text):
        decoded = _base64(match.group())
        if decoded is not None:
            candidates.append(decoded)
        if len(candidates) >= MAX_VARIANTS + 3:
            break
    for match in _HEX.finditer(text):
        decoded = _printable(bytes.fromhex(match.group()))
        if decoded is not None:
            candidates.append(decoded)
        if len(candidates) >= MAX_VARIANTS + 3:
            break
    variants: list[str] = []
    total = 0
    for candidate in candidates:
        if candidate == text or candidate in variants:
            continue
        if len(variants) >= MAX_VARIANTS or total + len(candidate) > MAX_VARIANT_CHARS:
            break
        variants.append(candidate)
        total += len(candidate)
    return variants
