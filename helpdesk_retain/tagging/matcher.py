"""Tag one text in one pass of the automaton, then read each candidate match in its sentence.

A candidate (a rule's term, or a near-pair) counts unless: a veto word of the rule is in its sentence; a
negator precedes it closely in the same clause ("not disappointed at all", "没有不满意"); it is a soft rule
inside an information question ("how do I cancel ...?", "请问退款政策在哪里看"), while a rhetorical question
("why was I charged twice?") stays a complaint; or, for medium/weak complaint cues, a "resolved" marker
follows ("... but it works now"). A complaint needs a score of 1: one strong or medium cue, or two weak ones;
a cue inside another counts once. Only a complaint's text is scanned a second time, for topic words that
pick its category.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .compile import (
    BREAK,
    COMPLAINT,
    INFO,
    NEAR_A,
    NEAR_B,
    NEG,
    NEUTRAL,
    RESOLVED,
    RHET,
    TERM,
    UNLESS,
    Compiled,
    CompiledRule,
)
from .normalize import fold

TERMINATORS = ("!", "?", "。", "\n", ". ")
#: how far a sentence is looked for around a position (a longer run without a terminator is cut there)
SENTENCE_REACH = 600
CLAUSE_CHARS = ",;:、"
TOKEN = re.compile(r"[0-9a-z_'$%]+|[^\s0-9a-z_'$%]")
QUESTION_ENDS = frozenset("?吗呢么嗎麼")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9.&+-]*")
EVIDENCE_CHARS = 120
#: words longer than this are not words the windows count on
MAX_TOKEN_CHARS = 24
#: signals that are a complaint in themselves: nobody threatens legal action over a question
COMPLAINT_SIGNALS = frozenset({"legal_threat"})
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TextTags:
    """What the rules found in one text. ``evidence`` and signal evidence are the customer's own words."""

    complaint: bool = False
    score: float = 0.0
    category: str | None = None
    evidence: tuple[str, ...] = ()
    signals: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: the category scores behind ``category`` (a ticket sums them over its texts)
    categories: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


NOTHING = TextTags()


def near_enough(text: str, start: int, end: int, limit: int) -> bool:
    """At most ``limit`` words (or CJK characters) between two offsets."""
    if end - start > (limit + 1) * MAX_TOKEN_CHARS:
        return False
    segment = text[start:end]
    if segment.isascii():
        return len(segment.split()) <= limit
    return len(TOKEN.findall(segment)) <= limit


def _within(hits: list[Span], start: int, end: int) -> list[Span]:
    return hits[bisect_left(hits, (start, -1)) : bisect_left(hits, (end, -1))]


class Scan:
    """The matches of one text, bucketed by meaning, and the questions asked about them."""

    def __init__(self, compiled: Compiled, view: str, text: str, inserted: tuple[int, ...]) -> None:
        self.c = compiled
        self.view, self.text, self.n, self.inserted = view, text, len(text), inserted
        self.lex: dict[int, list[Span]] = {k: [] for k in (NEG, BREAK, INFO, RHET, RESOLVED)}
        self.terms: list[tuple[int, int, int]] = []
        self.near_a: dict[int, list[Span]] = defaultdict(list)
        self.near_b: dict[int, list[Span]] = defaultdict(list)
        self.unless: dict[int, list[Span]] = defaultdict(list)
        self._sentences: dict[int, Span] = {}
        self._questions: dict[int, list[Span]] = {}

    def collect(self, found: list[tuple[int, int, int]]) -> None:
        """Bucket every match by meaning (the hot loop: locals only, no calls)."""
        meanings, words, text, n = self.c.meanings, self.c.word_chars, self.text, self.n
        terms, near_a, near_b, unless, lex = self.terms, self.near_a, self.near_b, self.unless, self.lex
        for index, at, _stop in found:
            for kind, ref, right, offset, stop in meanings[index]:
                end = at + stop
                if right and end < n and text[end] in words:
                    continue
                if kind == TERM:
                    terms.append((ref, at + offset, end))
                elif kind == NEAR_A:
                    near_a[ref].append((at + offset, end))
                elif kind == NEAR_B:
                    near_b[ref].append((at + offset, end))
                elif kind == UNLESS:
                    unless[ref].append((at + offset, end))
                elif kind != NEUTRAL:
                    lex[kind].append((at + offset, end))

    # --- sentences -------------------------------------------------------------------------------

    def sentence(self, pos: int) -> Span:
        """(start, end) of the sentence holding ``pos``; ``end`` is its terminator's index (or the text's end).

        Found around ``pos`` with bounded str.rfind/find (C speed), only for the few positions asked about."""
        found = self._sentences.get(pos)
        if found is None:
            view, low, high = self.view, max(0, pos - SENTENCE_REACH), min(self.n, pos + SENTENCE_REACH)
            start, end = low, high
            for mark in TERMINATORS:
                i = view.rfind(mark, low, pos)
                if i >= 0 and i + len(mark) > start:
                    start = i + len(mark)
                j = view.find(mark, pos, end)
                if j >= 0:
                    end = j
            found = self._sentences[pos] = (start, end)
        return found

    def info_question(self, sentence: Span, pos: int) -> bool:
        """Is ``pos`` inside a question asking for information?

        The whole sentence is one when it opens with a question word ("how do I ...", "请问 ..."); a sentence
        that only ends as a question ("..., 能帮忙看一下吗?") covers just the clauses holding a question word,
        so a complaint stated before the question still counts. A rhetorical word ("why") makes it no question.
        """
        start, end = sentence
        known = self._questions.get(start)
        if known is None:
            asked = _within(self.lex[INFO], start, end)
            known = asked if asked and not _within(self.lex[RHET], start, end) else []
            self._questions[start] = known
        if not known:
            return False
        if near_enough(self.text, start, known[0][0], 3):
            return True
        tail = self.view[start:end].rstrip()
        if not ((end < self.n and self.view[end] == "?") or tail[-1:] in QUESTION_ENDS):
            return False
        lo, hi = self.clause(pos, start, end)
        return bool(_within(known, lo, hi))

    def clause(self, pos: int, start: int, end: int) -> Span:
        view = self.view
        lo = max((view.rfind(ch, start, pos) for ch in CLAUSE_CHARS), default=-1)
        highs = [i for ch in CLAUSE_CHARS if (i := view.find(ch, pos, end)) >= 0]
        return (max(lo + 1, start), min(highs, default=end))

    # --- reading one candidate -------------------------------------------------------------------

    def negated(self, pos: int, sentence_start: int, window: int) -> bool:
        negs = self.lex[NEG]
        i = bisect_right(negs, (pos, -1)) - 1
        if i < 0:
            return False
        n_start, n_end = negs[i]
        if n_start < sentence_start or n_end > pos or not near_enough(self.text, n_end, pos, window):
            return False
        if _breaks_clause(self.view, n_end, pos):
            return False
        return not _within(self.lex[BREAK], n_end, pos)

    def vetoed(self, rule: CompiledRule, start: int, end: int, sentence: Span) -> bool:
        """A veto word of the rule in the sentence, or within ``unless_window`` tokens of the same clause."""
        hits = self.unless.get(rule.index)
        if not hits:
            return False
        hits.sort()
        inside = _within(hits, sentence[0], sentence[1])
        if not inside or rule.unless_window is None:
            return bool(inside)
        i = bisect_left(inside, (start, -1))
        before = next((h for h in reversed(inside[:i]) if h[1] <= start), None)
        if before is not None and self._close(before[1], start, rule.unless_window):
            return True
        after = next((h for h in inside[i:] if h[0] >= end), None)
        return after is not None and self._close(end, after[0], rule.unless_window)

    def _close(self, lo: int, hi: int, window: int) -> bool:
        return near_enough(self.text, lo, hi, window) and not _breaks_clause(self.view, lo, hi)

    def resolved_later(self, sentence_start: int) -> bool:
        marks = self.lex[RESOLVED]
        return bool(marks) and marks[-1][0] >= sentence_start

    def name_end(self, end: int) -> int | None:
        """Where the vendor-like name right after ``end`` ends ("switching to Acme"), or None."""
        ahead = self.view[end : end + 40]
        at = end + len(ahead) - len(ahead.lstrip())
        match = NAME.match(self.view, at)
        if match is None:
            return None
        word = match.group().rstrip(".")
        cjk_context = end > 0 and not self.text[end - 1].isascii()
        if (word[0].isupper() or cjk_context) and word.casefold() not in self.c.not_names:
            return at + len(word)
        return None

    def counts(self, rule: CompiledRule, start: int, end: int) -> bool:
        sentence = self.sentence(start)
        if rule.has_unless and self.vetoed(rule, start, end, sentence):
            return False
        if rule.negatable and self.negated(start, sentence[0], rule.negation_window):
            return False
        if rule.drop_in_questions and self.info_question(sentence, start):
            return False
        if rule.drop_when_resolved and self.resolved_later(sentence[0]):
            return False
        return not rule.name_after or self.name_end(end) is not None

    # --- candidates ------------------------------------------------------------------------------

    def near_pairs(self) -> list[tuple[int, int, int]]:
        """Near-rule pairs: a first-list match with a second-list match close enough in the same sentence."""
        pairs = []
        for index, firsts in self.near_a.items():
            seconds = self.near_b.get(index)
            if seconds:
                seconds.sort()
                rule = self.c.rules[index]
                for a_start, a_end in firsts:
                    span = self.pair(rule, a_start, a_end, seconds)
                    if span is not None:
                        pairs.append((index, *span))
        return pairs

    def pair(self, rule: CompiledRule, start: int, end: int, seconds: list[Span]) -> Span | None:
        i = bisect_left(seconds, (end, -1))
        if i < len(seconds) and self._near(end, seconds[i][0], rule.window):
            return start, seconds[i][1]
        if rule.any_order:
            before = next((h for h in reversed(seconds[:i]) if h[1] <= start), None)
            if before is not None and self._near(before[1], start, rule.window):
                return before[0], end
        return None

    def _near(self, lo: int, hi: int, window: int) -> bool:
        return near_enough(self.text, lo, hi, window) and not _crosses_sentence(self.view, lo, hi)

    def evaluate(self, topics: Any) -> TextTags:  # noqa: ANN401 - the topic automaton (ahocorasick_rs)
        cues: list[tuple[int, int, CompiledRule]] = []
        found: dict[str, list[Span]] = defaultdict(list)
        for index, start, end in sorted((*self.terms, *self.near_pairs()), key=lambda t: (t[1], -t[2])):
            rule = self.c.rules[index]
            if not self.counts(rule, start, end):
                continue
            if rule.kind == COMPLAINT or rule.kind in COMPLAINT_SIGNALS:
                cues.append((start, end, rule))
            if rule.kind != COMPLAINT:
                found[rule.kind].append((start, (self.name_end(end) or end) if rule.name_after else end))
        signals = {kind: self.evidence(*merged(hits)[0]) for kind, hits in found.items()}
        score, spans = 0.0, []
        categories: dict[str, float] = defaultdict(float)
        for start, end, rule in outermost(cues):
            weight = rule.weight if rule.kind == COMPLAINT else 1.0
            score += weight
            if rule.category:
                categories[rule.category] += 2 * weight
            spans.append((start, end))
        if score < 1.0:
            return TextTags(score=score, signals=MappingProxyType(signals))
        self.add_topics(topics, categories, [self.sentence(start) for start, _end in spans])
        return TextTags(
            complaint=True,
            score=score,
            category=best(categories, self.c.categories),
            evidence=tuple(dict.fromkeys(self.evidence(a, b) for a, b in merged(spans)))[:8],
            signals=MappingProxyType(signals),
            categories=MappingProxyType(dict(categories)),
        )

    def add_topics(self, topics: Any, categories: dict[str, float], cue_sentences: list[Span]) -> None:  # noqa: ANN401
        """Each topic word in a sentence holding a complaint cue weighs 1 for its category."""
        text, n, words, meanings = self.text, self.n, self.c.word_chars, self.c.topic_meanings
        for lo, hi in merged(cue_sentences):
            for index, _at, stop in topics.find_matches_as_indexes(text[lo:hi]):
                for _kind, ref, right, _offset, _stop in meanings[index]:
                    if not (right and lo + stop < n and text[lo + stop] in words):
                        categories[self.c.categories[ref]] += 1.0

    def evidence(self, start: int, end: int) -> str:
        words = self.view[start:end]
        if self.inserted and start < self.inserted[-1]:
            words = "".join(ch for i, ch in enumerate(words, start) if i not in self.inserted)
        words = words.strip()
        if len(words) > EVIDENCE_CHARS:
            words = words[: EVIDENCE_CHARS - 1].rstrip() + "…"
        return words


def _crosses_sentence(view: str, start: int, end: int) -> bool:
    gap = view[start:end]
    return any(mark in gap for mark in TERMINATORS)


def _breaks_clause(view: str, start: int, end: int) -> bool:
    gap = view[start:end]
    return any(ch in gap for ch in CLAUSE_CHARS)


def outermost(hits: list[tuple[int, int, CompiledRule]]) -> list[tuple[int, int, CompiledRule]]:
    """Drop hits inside another hit (sorted by start, longest first): "yet again" counts once, not twice."""
    kept, reach = [], -1
    for hit in hits:
        if hit[1] <= reach:
            continue
        kept.append(hit)
        reach = hit[1]
    return kept


def merged(spans: list[Span]) -> list[Span]:
    """Overlapping spans joined ("Please cancel" + "cancel my subscription" -> one piece of evidence)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def best(scores: Mapping[str, float], order: tuple[str, ...], default: str | None = "other") -> str | None:
    """The highest-scoring category; ties go to the earlier one in ``order``."""
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return default
    return next(name for name in order if scores.get(name, 0.0) == top)


def scan_text(compiled: Compiled, automaton: Any, topics: Any, text: str) -> TextTags:  # noqa: ANN401
    """Tag ``text``: ``automaton`` holds ``compiled.patterns`` and ``topics`` its topic patterns, in order."""
    view, folded, inserted = fold(text)
    found = automaton.find_matches_as_indexes(folded)
    if not found:
        return NOTHING
    scan = Scan(compiled, view, folded, inserted)
    scan.collect(found)
    if not (scan.terms or scan.near_a):
        return NOTHING  # only modifiers (negators, question words ...) and no rule to modify
    return scan.evaluate(topics)
