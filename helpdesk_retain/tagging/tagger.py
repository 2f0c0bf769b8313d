"""The tagger: rule packs compiled once per configuration, then ``tag(text)`` per text.

Nothing is loaded at import. ``tagger_for(settings)`` builds the tagger on first use and keeps it for every
runtime with the same ``[tagging]`` section (the tagger is immutable, so sharing it is safe across threads).
"""

from __future__ import annotations

from functools import lru_cache

import ahocorasick_rs

from ..config import Settings, TaggingSettings
from .compile import Compiled, compile_packs
from .matcher import TextTags, scan_text
from .normalize import strip_quoted
from .packs import CATEGORIES, Pack, builtin_pack, load_pack, team_pack

#: texts up to this size are cached by content (a ticket's earlier comments are re-read on every event)
CACHE_MAX_CHARS = 8192


class Tagger:
    def __init__(self, packs: list[Pack]) -> None:
        self.compiled: Compiled = compile_packs(packs, CATEGORIES)
        self._automaton = ahocorasick_rs.AhoCorasick(
            self.compiled.patterns,
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            # a contiguous NFA: as fast here as the DFA (2 KB messages, ~8,500 patterns) in a third of the memory
            # (~12 MB against ~35 MB for the rules), which every web worker and scheduler holds
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )
        self._topics = ahocorasick_rs.AhoCorasick(
            self.compiled.topic_patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )
        # recent texts: a help desk resends a ticket's texts with each update; ~1,000 of ~2 KB stay a few MB
        self._cached = lru_cache(maxsize=1024)(self._tag)

    def _tag(self, text: str) -> TextTags:
        return scan_text(self.compiled, self._automaton, self._topics, strip_quoted(text))

    def tag(self, text: str | None) -> TextTags:
        """Complaint verdict, category, evidence and risk signals of one text (subject, description, comment)."""
        if not text:
            return TextTags()
        if len(text) <= CACHE_MAX_CHARS:
            return self._cached(text)
        return self._tag(text)


def build_tagger(settings: TaggingSettings) -> Tagger:
    """Load and validate the packs the settings name (``ConfigError`` names the file and key)."""
    packs = [builtin_pack(name) for name in settings.packs]
    packs += [load_pack(path) for path in settings.extra_packs]
    packs.append(team_pack(settings.complaint_terms, settings.risk_terms, settings.competitors))
    return Tagger(packs)


@lru_cache(maxsize=8)
def _tagger_from_json(tagging_json: str) -> Tagger:
    return build_tagger(TaggingSettings.model_validate_json(tagging_json))


#: id(settings.tagging) -> (that section, its tagger): sections are frozen, so the same object means the same
#: rules, and the hot path (every ingested event) skips serialising the section to find its tagger
_BY_SECTION: dict[int, tuple[TaggingSettings, Tagger]] = {}


def tagger_for(settings: Settings) -> Tagger:
    section = settings.tagging
    known = _BY_SECTION.get(id(section))
    if known is not None and known[0] is section:
        return known[1]
    tagger = _tagger_from_json(section.model_dump_json())
    if len(_BY_SECTION) >= 64:  # runtimes built and dropped (tests): keep the map small
        _BY_SECTION.clear()
    _BY_SECTION[id(section)] = (section, tagger)  # the section is held, so its id is not reused meanwhile
    return tagger
