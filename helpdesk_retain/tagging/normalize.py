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
#: the ASCII repeat marks as one bit each, other bytes as 0: read as one integer, an ASCII text has a byte sharing
#: a bit with the next exactly where a mark is repeated, which a shift and an "and" find (a search for "..",
#: like any short string, advances a few characters at a time: microseconds over 2 KB, for each mark)
MARK_BITS = bytes(1 << REPEAT_MARKS.index(chr(b)) if chr(b) in "!?.,~" else 0 for b in range(256))
PUNCTUATION = b'!"#$%&()*+,-./:;<=>?@[\\]^_{|}~\t\n\r\x0b\x0c'
UPPER, LOWER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz"
#: bytes.translate over UTF-8 leaves multi-byte characters alone and runs at memory speed: ASCII punctuation to
#: spaces, the backtick (the one ASCII apostrophe; ``case_fold`` straightens it too, for ``normalize``) to "'",
#: and, for ASCII text (where case folding is lower-casing), letters to lower case
TO_MATCH = bytes.maketrans(PUNCTUATION + b"`", b" " * len(PUNCTUATION) + b"'")
TO_MATCH_LOWER = bytes.maketrans(PUNCTUATION + b"`" + UPPER, b" " * len(PUNCTUATION) + b"'" + LOWER)
#: UTF-8 continuation bytes to 0x80 and Latin letters and digits to "a": ``b"\x80a"`` in the result is a
#: non-ASCII character followed by a Latin one, which a CJK character before a Latin word needs
BYTE_CLASSES = bytes(
    0x80 if 0x80 <= b < 0xC0 else ord("a") if chr(b) in "abcdefghijklmnopqrstuvwxyz0123456789" else b
    for b in range(256)
)
#: a Latin character right after a CJK one; searching for the Latin character first lets the regex engine skip
#: ahead in C, where a leading CJK class would try (and fail) at almost every character of Chinese text
CJK_THEN_LATIN = re.compile(r"[a-z0-9](?<=[\u2e80-\u9fff\uf900-\ufaff][a-z0-9])")


#: where an email's quoted history starts: "> ..." lines, "On <date>, <who> wrote:", Gmail's Chinese forms
#: ("在 <date>，<who> <addr> 写道：", "<who> <addr> 於 <date> 寫道："), Outlook's header blocks (English, Simplified,
#: Traditional); each with what its line must start with, the index of a rare character of it to look for first
#: (see ``find``), and what must follow within 300 characters (a header block) or sit on its line (an address)
QUOTE_MARKS = (
    ("\n>", "", 1, ()),
    (" wrote:", "On ", 6, ()),
    (" wrote:", "", 6, ("@",)),
    ("写道", "在", 0, ()),
    ("写道", "", 0, ("@",)),
    ("寫道", "", 0, ("@",)),
    ("寫道", "於", 0, ()),
    ("-----Original Message-----", "", 14, ()),
    ("-----原始邮件-----", "", 5, ()),
    ("-----原始郵件-----", "", 5, ()),
    # forwarded mail: Gmail ("---------- Forwarded message ---------"), Apple Mail, Chinese Gmail / Outlook
    ("- Forwarded message -", "", 2, ()),
    ("Begin forwarded message:", "", 23, ()),
    ("- 转发的邮件 -", "", 3, ()),
    ("- 轉寄的郵件 -", "", 3, ()),
    ("- 轉發的郵件 -", "", 3, ()),
    ("\nFrom: ", "", 5, ("\nSent: ",)),
    ("\n发件人:", "", 1, ("\n发送时间:", "\n时间:", "\n日期:")),
    ("\n发件人：", "", 1, ("\n发送时间：", "\n时间：", "\n日期：")),
    ("\n寄件者:", "", 1, ("\n寄件日期:", "\n日期:", "\n傳送時間:")),
    ("\n寄件者：", "", 1, ("\n寄件日期：", "\n日期：", "\n傳送時間：")),
)


def find(text: str, mark: str, anchor: int, end: int) -> int:
    """``text.find(mark, 0, end)``, found through ``mark[anchor]``, a character the text seldom holds.

    A one-character search is memchr; CPython's search for a short string steps only a few characters at a time
    (a couple of microseconds over 2 KB, for each mark of every message)."""
    char, last = mark[anchor], end - len(mark) + anchor + 1
    if last <= anchor:  # no room for the mark (and a negative bound would count from the end)
        return -1
    i = text.find(char, anchor, last)
    while i >= 0:
        if text.startswith(mark, i - anchor):
            return i - anchor
        i = text.find(char, i + 1, last)
    return -1


def strip_quoted(text: str) -> str:
    """The customer's own words: an email reply without the quoted thread under it (often the agent's text)."""
    cut = len(text)
    for mark, line_start, anchor, confirm in QUOTE_MARKS:
        i = find(text, mark, anchor, cut)
        if i < 0:
            continue
        start = i + 1 if mark.startswith("\n") else text.rfind("\n", 0, i) + 1
        if start > 0 and text.startswith(line_start, start) and _confirmed(text, mark, start, i, confirm):
            cut = start
    return text[:cut] if cut < len(text) else text


def _confirmed(text: str, mark: str, start: int, i: int, confirm: tuple[str, ...]) -> bool:
    """A header block's next header follows within 300 characters; an attribution line holds an address (it may
    wrap onto the line before the mark: a long name and address do)."""
    if not confirm:
        return True
    if mark.startswith("\n"):
        return any(c in text[i : i + 300] for c in confirm)
    return any(c in text[max(0, text.rfind("\n", 0, start - 1) + 1) : i] for c in confirm)


class Folded(NamedTuple):
    view: str
    match: str
    inserted: tuple[int, ...] = ()


def nfkc(text: str) -> str:
    if text.isascii():
        return text
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
    display = nfkc(text)
    if display.isascii():  # case folding is lower-casing, done by the bytes translation
        encoded = display.encode()
        marks = int.from_bytes(encoded.translate(MARK_BITS), "little")
        if marks & (marks >> 8):  # a mark next to the same mark (each has its own bit)
            display = REPEATED.sub(r"\1", display)
            encoded = display.encode()
        return Folded(" " + display, " " + encoded.translate(TO_MATCH_LOWER).decode())
    display = collapse_punctuation(display)
    encoded = case_fold(display).encode().translate(TO_MATCH)
    if b"\x80a" not in encoded.translate(BYTE_CLASSES):  # no Latin character right after a non-ASCII one
        return Folded(" " + display, " " + encoded.decode())
    match = encoded.decode()
    cuts = [m.start() for m in CJK_THEN_LATIN.finditer(match)]
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
