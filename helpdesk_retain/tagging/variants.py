"""Chinese script variants, built once from OpenCC's tables (the ``opencc-python-reimplemented`` package).

Converting every incoming text from Traditional to Simplified character by character costs more than the
whole matching budget (tens of microseconds per 2 KB in CPython), so the matcher goes the other way: each rule
term is written in Simplified Chinese and, at load time, expanded into the Traditional and Taiwan spellings
that OpenCC knows (``退款`` -> ``退款``; ``数据`` -> ``數據``, ``資料``). ``to_simplified`` converts the other
direction for short strings (rule terms a team wrote in Traditional, evidence keys).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick_rs

#: Simplified characters that Simplified text itself spells two ways (账号 / 帐号); OpenCC keeps them apart
SIMPLIFIED_TWINS = {"账": "帐", "帐": "账"}
MAX_VARIANTS = 64


@dataclass(frozen=True)
class Tables:
    t2s: dict[int, str]
    s2t: dict[str, tuple[str, ...]]
    tw_phrases: ahocorasick_rs.AhoCorasick
    tw_pairs: list[tuple[str, str]]


def _read(name: str) -> Iterator[tuple[str, list[str]]]:
    text = resources.files("opencc").joinpath("dictionary", name).read_text("utf-8")
    for line in text.splitlines():
        key, _, values = line.partition("\t")
        if key and values.strip():
            yield key, values.split()


@cache
def tables() -> Tables:
    """OpenCC's character maps and Taiwan phrase table, read on first use (never at import)."""
    t2s = {ord(t): ss[0] for t, ss in _read("TSCharacters.txt") if len(t) == 1 and len(ss[0]) == 1}
    tw_variant = {t: tws[0] for t, tws in _read("TWVariants.txt") if len(t) == 1}
    for t, tw in tw_variant.items():
        if ord(t) in t2s:
            t2s.setdefault(ord(tw), t2s[ord(t)])
    s2t: dict[str, tuple[str, ...]] = {}
    for s, ts in _read("STCharacters.txt"):
        if len(s) == 1:
            options = [t for t in ts if len(t) == 1]
            options += [tw_variant[t] for t in options if t in tw_variant]
            s2t[s] = tuple(dict.fromkeys(options))
    for s, twin in SIMPLIFIED_TWINS.items():
        s2t[s] = tuple(dict.fromkeys((*s2t.get(s, ()), twin, *s2t.get(twin, ()))))
    pairs = [(t, tws[0]) for t, tws in _read("TWPhrases.txt")]
    phrases = ahocorasick_rs.AhoCorasick([t for t, _ in pairs], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    return Tables(t2s, s2t, phrases, pairs)


def to_simplified(text: str) -> str:
    """Character-level Traditional -> Simplified (OpenCC's first choice for each character)."""
    return text.translate(tables().t2s)


def variants(term: str, limit: int = MAX_VARIANTS) -> list[str]:
    """``term`` (Simplified) and its Traditional / Taiwan spellings, the term itself first, at most ``limit``.

    Characters with several Traditional forms multiply; past ``limit`` only the main form of each is kept.
    """
    tab = tables()
    options = [(ch, *tab.s2t.get(ch, ())) for ch in term]
    for width in (4, 2, 1):
        trimmed = [tuple(dict.fromkeys(o[: width + 1])) for o in options]
        size = 1
        for o in trimmed:
            size *= len(o)
        if size <= limit or width == 1:
            break
    spelled = ["".join(p) for p in itertools.islice(itertools.product(*trimmed), limit)]
    out = dict.fromkeys(spelled)
    for spelling in spelled:
        taiwan = spelling
        for index, _start, _end in tab.tw_phrases.find_matches_as_indexes(spelling):
            taiwan = taiwan.replace(*tab.tw_pairs[index])
        out.setdefault(taiwan)
    return list(out)[: limit + 8]
