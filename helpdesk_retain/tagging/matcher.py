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
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from .compile import (
    BREAK,
    COMPLAINT,
    INFO,
    KINDS,
    NEAR_A,
    NEAR_B,
    NEG,
    RESOLVED,
    RHET,
    SOFT_NEG,
    UNLESS,
    Compiled,
    CompiledRule,
    Entry,
)
from .normalize import fold

#: sentence terminators: ! ? 。 newline and ". " (they share no character, so occurrences never overlap); the last
#: one before a position is the first one in the reversed text, found by one search instead of an rfind per mark
TERMINATOR = re.compile(r"[!?。\n]|\. ")
TERMINATOR_REVERSED = re.compile(r"[!?。\n]| \.")
#: how far a sentence is looked for around a position (a longer run without a terminator is cut there)
SENTENCE_REACH = 600
CLAUSE_CHARS = ",;:、"
CLAUSE_BREAK = re.compile("[,;:、]")
TOKEN = re.compile(r"[0-9a-z_'$%]+|[^\s0-9a-z_'$%]")
QUESTION_ENDS = frozenset("?吗呢么嗎麼")
#: a name after at most 40 characters of white space (``\s`` is what ``str.isspace`` calls white space)
NAME = re.compile(r"\s{0,40}([A-Za-z][A-Za-z0-9.&+-]*)")
EVIDENCE_CHARS = 120
#: words longer than this are not words the windows count on
MAX_TOKEN_CHARS = 24
#: signals that are a complaint in themselves: nobody threatens legal action over a question
COMPLAINT_SIGNALS = frozenset({"legal_threat"})
Span = tuple[int, int]
Found = list[tuple[int, int, int]]  # (key index, start, end) from the automaton


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
    """The matches of one text, bucketed by meaning, and the questions asked about them.

    Rule terms, first near-lists and lexicon words are bucketed for every match; second near-lists only for
    the rules whose first list matched, veto words when a candidate asks, and a sentence is found only for a
    candidate that a check actually has to place (most candidates fail or pass before that).
    """

    __slots__ = (
        "c", "view", "text", "n", "inserted", "found", "terms", "buckets",
        "negs", "breaks", "infos", "rhets", "resolveds", "_vetoes", "_reversed", "_sentences", "_questions",
        "hiding", "soft_negs", "_complaint_negs",
    )  # fmt: skip

    def __init__(self, compiled: Compiled, view: str, text: str, inserted: tuple[int, ...], found: Found) -> None:
        self.c = compiled
        self.view, self.text, self.n, self.inserted, self.found = view, text, len(text), inserted, found
        self.terms: list[tuple[int, int, int]] = []
        #: lexicon words by kind, first near-list matches by ``NEAR_A + KINDS * rule`` (see ``compile.slot``)
        self.buckets: dict[int, list[Span]] = defaultdict(list)
        self._vetoes: dict[int, list[Span]] = {}
        self._reversed: str | None = None
        self._sentences: dict[int, Span] = {}
        self._questions: dict[int, list[Span]] = {}

    def collect(self) -> None:
        """Bucket the eager meanings of every match (the hot loop: locals only, no calls)."""
        plans, words, text, n, hiders = self.c.plans.eager, self.c.word_chars, self.text, self.n, self.c.hiders
        terms, buckets = self.terms, self.buckets
        hiding = False
        for index, at, key_end in self.found:
            for slot, right, offset, stop in plans[index]:
                end = at + stop
                if right and end < n and text[end] in words:
                    # the whole key ends inside a word: it may hide a key that starts within it (``unhidden``)
                    hiding = hiding or (end == key_end and index in hiders)
                    continue
                if slot < 0:
                    terms.append((~slot, at + offset, end))
                else:
                    buckets[slot].append((at + offset, end))
        self.hiding = hiding
        get = buckets.get
        self.negs, self.breaks, self.infos = get(NEG, []), get(BREAK, []), get(INFO, [])
        self.soft_negs, self._complaint_negs = get(SOFT_NEG, []), None
        self.rhets, self.resolveds = get(RHET, []), get(RESOLVED, [])

    def vetoes(self, ref: int) -> list[Span]:
        """The matches of rule ``ref``'s veto words, found on first use (usually none of the keys that hold them
        matched at all, which one set operation tells)."""
        slot = UNLESS + KINDS * ref
        hits = self._vetoes.get(slot)
        if hits is None:
            hits = self._vetoes[slot] = []
            keys = self.c.plans.veto_keys.get(slot)
            if keys is not None and not keys.isdisjoint(map(itemgetter(0), self.found)):
                for index, at, _stop in self.found:
                    if index in keys:
                        hits += self.hits(self.c.plans.vetoes[index], at, slot)
        return hits

    def hits(self, entries: tuple[Entry, ...], at: int, slot: int) -> list[Span]:
        """The hits of ``slot`` among the veto ``entries`` of a key matched at ``at``."""
        words, text, n = self.c.word_chars, self.text, self.n
        return [
            (at + offset, at + stop)
            for entry_slot, right, offset, stop in entries
            if entry_slot == slot and not (right and at + stop < n and text[at + stop] in words)
        ]

    def seconds(self, rules: int) -> dict[int, list[Span]]:
        """The second near-list matches of the rules with a bit in ``rules``, by slot (one pass over the matches,
        looking only into keys that hold one of them)."""
        plans, words, text, n = self.c.plans, self.c.word_chars, self.text, self.n
        masks, entries = plans.second_rules, plans.seconds
        out: dict[int, list[Span]] = defaultdict(list)
        for index, at, _stop in self.found:
            if masks[index] & rules:
                for slot, right, offset, stop in entries[index]:
                    end = at + stop
                    if rules >> (slot // KINDS) & 1 and not (right and end < n and text[end] in words):
                        out[slot].append((at + offset, end))
        return out

    # --- sentences -------------------------------------------------------------------------------

    def sentence(self, pos: int) -> Span:
        """(start, end) of the sentence holding ``pos``; ``end`` is its terminator's index (or the text's end).

        Looked for at most ``SENTENCE_REACH`` characters each way, only for the few positions asked about."""
        found = self._sentences.get(pos)
        if found is None:
            n = self.n
            low, high = max(0, pos - SENTENCE_REACH), min(n, pos + SENTENCE_REACH)
            if self._reversed is None:
                self._reversed = self.view[::-1]
            before = TERMINATOR_REVERSED.search(self._reversed, n - pos, n - low)
            after = TERMINATOR.search(self.view, pos, high)
            found = (low if before is None else n - before.start(), high if after is None else after.start())
            self._sentences[pos] = found
        return found

    def info_question(self, pos: int) -> bool:
        """Is ``pos`` inside a question asking for information?

        The whole sentence is one when it opens with a question word ("how do I ...", "请问 ..."); a sentence
        that only ends as a question ("..., 能帮忙看一下吗?") covers just the clauses holding a question word,
        so a complaint stated before the question still counts. A rhetorical word ("why") makes it no question.
        """
        start, end = self.sentence(pos)
        known = self._questions.get(start)
        if known is None:
            asked = _within(self.infos, start, end)
            known = asked if asked and not _within(self.rhets, start, end) else []
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

    def negators(self, rule: CompiledRule) -> list[Span]:
        """The negators that can cancel a candidate of ``rule``: a negator ending a near-list word ("isn't") cancels
        complaint cues only ("it isn't broken"; "I can't get a refund" stays a request)."""
        if rule.kind != COMPLAINT or not self.soft_negs:
            return self.negs
        if self._complaint_negs is None:
            self._complaint_negs = sorted(self.negs + self.soft_negs)
        return self._complaint_negs

    def negated(self, pos: int, window: int, negs: list[Span]) -> bool:
        i = bisect_right(negs, (pos, -1)) - 1
        if i < 0:
            return False
        n_start, n_end = negs[i]
        if n_end > pos or not near_enough(self.text, n_end, pos, window) or n_start < self.sentence(pos)[0]:
            return False
        if _breaks_clause(self.view, n_end, pos):
            return False
        return not _within(self.breaks, n_end, pos)

    def vetoed(self, rule: CompiledRule, start: int, end: int) -> bool:
        """A veto word of the rule in the sentence, or within ``unless_window`` tokens of the same clause."""
        hits = self.vetoes(rule.index)
        if not hits:
            return False
        hits.sort()
        sentence = self.sentence(start)
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

    def resolved_later(self, pos: int) -> bool:
        """A "resolved" marker anywhere after the start of ``pos``'s sentence (the start is at most ``pos``)."""
        last = self.resolveds[-1][0]
        return last >= pos or last >= self.sentence(pos)[0]

    def name_end(self, end: int) -> int | None:
        """Where the vendor-like name right after ``end`` ends ("switching to Acme"), or None."""
        match = NAME.match(self.view, end)
        if match is None:
            return None
        at, word = match.start(1), match.group(1).rstrip(".")
        cjk_context = end > 0 and not self.text[end - 1].isascii()
        if (word[0].isupper() or cjk_context) and word.casefold() not in self.c.not_names:
            return at + len(word)
        return None

    def counts(self, rule: CompiledRule, start: int, end: int) -> bool:
        """Every check must pass; they are pure, so the cheap and selective ones go first, and a check whose
        words are absent from the text is not asked."""
        return not (
            (rule.name_after and self.name_end(end) is None)
            or (rule.has_unless and self.vetoed(rule, start, end))
            or (rule.negatable and (negs := self.negators(rule)) and self.negated(start, rule.negation_window, negs))
            or (rule.drop_in_questions and self.infos and self.info_question(start))
            or (rule.drop_when_resolved and self.resolveds and self.resolved_later(start))
        )

    # --- candidates ------------------------------------------------------------------------------

    def near_pairs(self) -> list[tuple[int, int, int]]:
        """Near-rule pairs: a first-list match with a second-list match close enough in the same sentence."""
        near = [(slot // KINDS, firsts) for slot, firsts in self.buckets.items() if slot % KINDS == NEAR_A]
        if not near:
            return []
        seconds = self.seconds(sum(1 << index for index, _firsts in near))
        pairs = []
        for index, firsts in near:
            rule_seconds = seconds.get(NEAR_B + KINDS * index)
            if rule_seconds:
                rule_seconds.sort()
                rule = self.c.rules[index]
                for a_start, a_end in firsts:
                    span = self.pair(rule, a_start, a_end, rule_seconds)
                    if span is not None:
                        pairs.append((index, *span))
        return pairs

    def pair(self, rule: CompiledRule, start: int, end: int, seconds: list[Span]) -> Span | None:
        i = bisect_left(seconds, (end, -1))
        if i < len(seconds) and self._near(end, seconds[i][0], rule):
            return start, seconds[i][1]
        if rule.any_order:
            before = next((h for h in reversed(seconds[:i]) if h[1] <= start), None)
            if before is not None and self._near(before[1], start, rule):
                return before[0], end
        return None

    def _near(self, lo: int, hi: int, rule: CompiledRule) -> bool:
        return (
            near_enough(self.text, lo, hi, rule.window)
            and TERMINATOR.search(self.view, lo, hi) is None
            and not (rule.same_clause and _breaks_clause(self.view, lo, hi))
        )

    def candidates(self) -> list[tuple[int, int, int]]:
        """Terms and near pairs by start, longest first (terms already come in that order)."""
        pairs = self.near_pairs()
        if not pairs:
            return self.terms
        return sorted((*self.terms, *pairs), key=lambda t: (t[1], -t[2]))

    def evaluate(self, topics: Any) -> TextTags:  # noqa: ANN401 - the topic automaton (ahocorasick_rs)
        rules, cues, signal_hits = self.c.rules, [], {}
        for index, start, end in self.candidates():
            rule = rules[index]
            if not self.counts(rule, start, end):
                continue
            kind = rule.kind
            if kind == COMPLAINT:
                cues.append((start, end, rule))
                continue
            if kind in COMPLAINT_SIGNALS:
                cues.append((start, end, rule))
            signal_hits.setdefault(kind, []).append((start, (self.name_end(end) or end) if rule.name_after else end))
        signals = MappingProxyType({kind: self.evidence(*merged(hits)[0]) for kind, hits in signal_hits.items()})
        score, spans = 0.0, []
        categories: dict[str, float] = defaultdict(float)
        weak_seen: set[str] = set()
        for start, end, rule in outermost(cues):
            weight = rule.weight if rule.kind == COMPLAINT else 1.0
            if weight < 1.0:  # two weak cues make a complaint, not one weak word said twice ("已经 ... 已经")
                word = self.text[start:end]
                if word in weak_seen:
                    continue
                weak_seen.add(word)
            score += weight
            if rule.category:
                categories[rule.category] += 2 * weight
            spans.append((start, end))
        if score < 1.0:
            return TextTags(score=score, signals=signals)
        self.add_topics(topics, categories, [self.sentence(start) for start, _end in spans])
        return TextTags(
            complaint=True,
            score=score,
            category=best(categories, self.c.categories),
            evidence=tuple(dict.fromkeys(self.evidence(a, b) for a, b in merged(spans)))[:8],
            signals=signals,
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
        return words if len(words) <= EVIDENCE_CHARS else words[: EVIDENCE_CHARS - 1].rstrip() + "…"


def _breaks_clause(view: str, start: int, end: int) -> bool:
    return CLAUSE_BREAK.search(view, start, end) is not None


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
    scan = Scan(compiled, view, folded, inserted, found)
    scan.collect()
    if scan.hiding and (more := unhidden(automaton, folded, found, compiled)):
        scan = Scan(compiled, view, folded, inserted, more)
        scan.collect()
        # the matches overlap now: put each list back in the order the checks bisect on
        scan.terms.sort(key=lambda t: (t[1], -t[2]))
        for hits in scan.buckets.values():
            hits.sort()
    if not (scan.terms or any(slot % KINDS == NEAR_A for slot in scan.buckets)):
        return NOTHING  # only modifiers (negators, question words ...) and no rule to modify
    return scan.evaluate(topics)


def unhidden(automaton: Any, text: str, found: Found, compiled: Compiled) -> Found | None:  # noqa: ANN401
    """``found`` with the matches that leftmost-longest matching hid behind a key ending inside a word, or None
    when nothing was hidden.

    The automaton takes the longest key at the leftmost position and resumes after it, so a key that ends inside
    a word (" let me down" in "let me download all our data", whose meanings need the word to end there) hides
    the keys starting within it (" download all"). Those start at one of its inner spaces (a key starting with a
    letter starts with its boundary space), so the rest of the text is searched again from its first inner
    space, and what is found there replaces the matches after it (overlapping it, which it keeps for the
    meanings inside it). Only keys of several words can hide one (``Compiled.hiders``), and ``scan_text`` asks
    only when ``Scan.collect`` saw one end inside a word (a few texts in a hundred)."""
    words, hiders, n = compiled.word_chars, compiled.hiders, len(text)
    changed, i = False, 0
    while i < len(found):
        index, at, end = found[i]
        if index in hiders and end < n and text[end] in words:
            space = text.find(" ", at + 1, end)  # (each search starts further on: this ends)
            again = automaton.find_matches_as_indexes(text[space:])
            found = found[: i + 1] + [(k, space + a, space + b) for k, a, b in again]
            changed = True
        i += 1
    return found if changed else None
