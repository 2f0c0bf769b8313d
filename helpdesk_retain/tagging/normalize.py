"""Text normalisation for matching: NFKC (full/half width), case folding, apostrophes, repeated punctuation.

``fold`` returns two strings of equal length, both starting with one space: ``view`` (NFKC, repeated
punctuation collapsed, original case and script: evidence is sliced from it, so an agent sees the customer's
own words) and ``match`` (``view`` case-folded, curly apostrophes straightened, ASCII punctuation turned into
spaces). Word boundaries then live in the automaton itself: a whole-word term is stored as ``" term"``, so
"end" never fires inside "attend". A Latin word written straight after a CJK character ("换成Zendesk") gets a
space inserted in both strings; ``inserted`` lists those positions so evidence can leave them out again.

Traditional -> Simplified is not applied to the text here: the matcher holds every Traditional spelling of its
terms instead (see ``variants.py``); ``normalize`` applies it for callers that need one canonical string.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from .variants import to_simplified

#: the full-width characters Chinese text is full of, replaced exactly as NFKC would replace them. Doing it
#: with str.replace first keeps unicodedata.normalize on its quick-check path (about 100x faster on CJK text).
COMMON_COMPAT = (
    ("，", ","),
    ("？", "?"),
    ("！", "!"),
    ("：", ":"),
    ("；", ";"),
    ("（", "("),
    ("）", ")"),
    ("\u3000", " "),
    ("…", "..."),
    ("～", "~"),
)
APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "`", "\u00b4")
REPEATED = re.compile(r"([!?.,;:~。、*=_-])\1+")
REPEAT_MARKS = "!?.,。~"
PUNCTUATION = b'!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r\x0b\x0c'
#: bytes.translate over UTF-8 leaves multi-byte characters alone and runs at memory speed
TO_SPACE = bytes.maketrans(PUNCTUATION, b" " * len(PUNCTUATION))
LATIN = re.compile(r"[a-z0-9]")
CJK_THEN_LATIN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff](?=[a-z0-9])")


#: where an email's quoted history starts: "> ..." lines, "On <date>, <who> wrote:", Outlook's header block
QUOTE_MARKS = (("\n>", ""), (" wrote:", "On "), ("写道", "在"), ("-----Original Message-----", ""), ("\nFrom: ", ""))


def strip_quoted(text: str) -> str:
    """The customer's own words: an email reply without the quoted thread under it (often the agent's text)."""
    cut = len(text)
    for mark, line_start in QUOTE_MARKS:
        i = text.find(mark, 0, cut)
        if i < 0:
            continue
        start = i + 1 if mark.startswith("\n") else text.rfind("\n", 0, i) + 1
        if start > 0 and text.startswith(line_start, start) and (mark != "\nFrom: " or "\nSent: " in text[i : i + 300]):
            cut = start
    return text[:cut] if cut < len(text) else text


class Folded(NamedTuple):
    view: str
    match: str
    inserted: tuple[int, ...] = ()


def nfkc(text: str) -> str:
    for compat, plain in COMMON_COMPAT:
        if compat in text:
            text = text.replace(compat, plain)
    return unicodedata.normalize("NFKC", text)


def collapse_punctuation(text: str) -> str:
    """``"why???!!!"`` -> ``"why?!"``; runs of one punctuation mark become one."""
    for mark in REPEAT_MARKS:  # a one-character search is memchr; the regex only runs when a run may exist
        if mark in text and mark + mark in text:
            return REPEATED.sub(r"\1", text)
    return text


def case_fold(display: str) -> str:
    match = display.casefold()
    if len(match) != len(display):  # e.g. "ß" -> "ss": fold character by character to keep offsets aligned
        match = "".join(c if len(f := c.casefold()) != 1 else f for c in display)
    for mark in APOSTROPHES:  # str.replace per mark: str.translate walks every character in Python objects
        if mark in match:
            match = match.replace(mark, "'")
    return match


def fold(text: str) -> Folded:
    display = collapse_punctuation(nfkc(text))
    match = case_fold(display).encode().translate(TO_SPACE).decode()
    if match.isascii() or LATIN.search(match) is None:
        return Folded(" " + display, " " + match)
    cuts = [m.end() for m in CJK_THEN_LATIN.finditer(match)]
    if not cuts:
        return Folded(" " + display, " " + match)
    inserted = tuple(1 + cut + i for i, cut in enumerate(cuts))  # in the padded strings, after earlier spaces
    return Folded(" " + _spaced(display, cuts), " " + _spaced(match, cuts), inserted)


def _spaced(text: str, cuts: list[int]) -> str:
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(text[last:cut])
        last = cut
    pieces.append(text[last:])
    return " ".join(pieces)


def term_form(term: str) -> str:
    """A rule term as the automaton stores it (before any word-boundary space): folded, single-spaced."""
    return " ".join(fold(term).match.split())


def normalize(text: str) -> str:
    """One canonical string: NFKC, case-folded, apostrophes straight, Simplified script, punctuation collapsed."""
    return to_simplified(case_fold(collapse_punctuation(nfkc(text))))
