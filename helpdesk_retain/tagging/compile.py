"""Compile rule packs into one Aho-Corasick automaton: every term of every pack, in every script variant.

One key may carry several meanings (a negator in one pack, part of a rule in another). A term that starts
with a letter or digit is stored with a leading space (the folded text starts with one and has punctuation as
spaces), so the automaton itself enforces the left word boundary; each meaning records whether the right one
is needed. Matching is leftmost-longest, so a longer term swallows the shorter ones inside it ("not working"
wins over "not", "refund policy" over "refund"), except that rule meanings inside a longer key are inherited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ahocorasick_rs

from .normalize import term_form
from .packs import Pack, Rule, SignalRule
from .variants import to_simplified, variants

# meaning kinds
NEG, BREAK, INFO, RHET, RESOLVED, NEUTRAL, TERM, NEAR_A, NEAR_B, UNLESS, SOFT_NEG = range(11)
COMPLAINT = "complaint"
WEIGHTS = {"strong": 1.0, "medium": 1.0, "weak": 0.5}

Meaning = tuple[int, int, bool]  # kind, ref (rule index / category index), right word boundary needed
Placed = tuple[int, int, bool, int, int]  # a meaning at (start, end) offsets inside the matched key
INHERITED = frozenset({TERM, NEAR_A, NEAR_B, UNLESS})
LEXICON = frozenset({NEG, BREAK, INFO, RHET, RESOLVED, SOFT_NEG})
#: a meaning as the matcher buckets it: (slot, right word boundary needed, start offset, end offset in the key)
Entry = tuple[int, bool, int, int]
KINDS = SOFT_NEG + 1  # a slot is kind + KINDS * ref, so each rule has one per kind


def slot(kind: int, ref: int) -> int:
    """The bucket of a meaning: ``~ref`` for a rule's term (candidates keep one ordered list), the kind for a
    lexicon word, ``kind + KINDS * ref`` for a rule's near-list or veto word."""
    if kind == TERM:
        return ~ref
    return kind if kind in LEXICON else kind + KINDS * ref


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    kind: str  # "complaint" or a signal name
    weight: float
    category: str | None
    drop_in_questions: bool
    drop_when_resolved: bool
    negatable: bool
    negation_window: int
    window: int
    any_order: bool
    same_clause: bool
    has_unless: bool
    unless_window: int | None
    name_after: bool


@dataclass(frozen=True)
class Compiled:
    patterns: list[str]
    meanings: list[tuple[Placed, ...]]
    rules: list[CompiledRule]
    categories: tuple[str, ...]
    not_names: frozenset[str]
    #: topic words per category, matched in a second pass only over texts that are complaints
    topic_patterns: list[str]
    topic_meanings: list[tuple[Placed, ...]]
    #: the characters a word boundary is about (see ``is_word_char``), as a set for fast lookups
    word_chars: frozenset[str]
    plans: Plans
    #: keys that can hide others (``matcher.unhidden``): more than one word, ending in a word character
    hiders: frozenset[int] = frozenset()


def is_word_char(ch: str) -> bool:
    """Latin, Greek, Cyrillic letters and digits: the characters a word boundary is about (not CJK)."""
    return ch.isalnum() and ch < "\u2e80"


def has_cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


class Compiler:
    def __init__(self, categories: tuple[str, ...]) -> None:
        self.keys: dict[str, list[Meaning]] = defaultdict(list)
        self.topic_keys: dict[str, list[Meaning]] = defaultdict(list)
        self.rules: list[CompiledRule] = []
        self.categories = categories
        self.not_names: set[str] = set()

    def add(self, term: str, kind: int, ref: int = 0, *, topic: bool = False) -> None:
        key = term_form(term.strip("*"))
        if not key:
            return
        pad = " " if not term.startswith("*") and is_word_char(key[0]) else ""
        right = not term.endswith("*") and is_word_char(key[-1])
        spellings = variants(to_simplified(key)) if has_cjk(key) else _typed(key)
        keys = self.topic_keys if topic else self.keys
        for spelling in spellings:
            meaning = (kind, ref, right)
            if meaning not in keys[pad + spelling]:
                keys[pad + spelling].append(meaning)

    def add_pack(self, pack: Pack, integration_words: list[str]) -> None:
        lex = pack.lexicon
        for words, kind in (
            (lex.negators, NEG),
            (lex.soft_negators, SOFT_NEG),
            (lex.clause_breaks, BREAK),
            (lex.info_questions, INFO),
            (lex.rhetorical, RHET),
            (lex.resolved, RESOLVED),
            (lex.neutral, NEUTRAL),
        ):
            for word in words:
                self.add(word, kind)
        self.not_names.update(w.casefold() for w in lex.not_names)
        for category, words in pack.topics.items():
            for word in words:
                self.add(word, TERM, self.categories.index(category), topic=True)
        for rule in pack.complaint:
            strength = rule.strength
            self._add_rule(rule, pack, COMPLAINT, WEIGHTS[strength], rule.category, strength != "strong", [])
        for signal in pack.signal:
            unless = integration_words if signal.signal == "competitor_mention" and not signal.unless else []
            self._add_rule(signal, pack, signal.signal, 0.0, None, signal.questions == "drop", unless)

    def _add_rule(
        self, rule: Rule, pack: Pack, kind: str, weight: float, category: str | None, soft: bool, unless: list[str]
    ) -> None:
        index = len(self.rules)
        extra_unless = list(unless)
        self.rules.append(
            CompiledRule(
                index=index,
                kind=kind,
                weight=weight,
                category=category,
                drop_in_questions=soft,
                drop_when_resolved=kind == COMPLAINT and soft,
                negatable=rule.negatable,
                negation_window=pack.negation_window,
                window=rule.window,
                any_order=rule.any_order,
                same_clause=rule.same_clause,
                has_unless=bool(rule.unless or extra_unless),
                unless_window=rule.unless_window if rule.unless else (2 if extra_unless else None),
                name_after=isinstance(rule, SignalRule) and rule.name_after,
            )
        )
        for term in rule.terms:
            self.add(term, TERM, index)
        if rule.near is not None:
            for term in rule.near[0]:
                self.add(term, NEAR_A, index)
            for term in rule.near[1]:
                self.add(term, NEAR_B, index)
        for term in (*rule.unless, *extra_unless):
            self.add(term, UNLESS, index)

    def build(self) -> Compiled:
        patterns = list(self.keys)
        meanings = inherit_meanings(patterns, [self.keys[p] for p in patterns])
        topics = list(self.topic_keys)
        topic_meanings = [tuple((*m, _pad(t), len(t)) for m in self.topic_keys[t]) for t in topics]
        hiders = frozenset(i for i, p in enumerate(patterns) if " " in p[1:] and is_word_char(p[-1]))
        return Compiled(
            patterns,
            meanings,
            self.rules,
            self.categories,
            frozenset(self.not_names),
            topics,
            topic_meanings,
            frozenset(ch for ch in map(chr, range(0x2E80)) if is_word_char(ch)),
            plans(meanings, {i: len(patterns[i]) for i in hiders}),
            hiders,
        )


def _typed(key: str) -> list[str]:
    """A Latin key as written, and as typed without the apostrophe of its "n't" ("doesnt work", "wont load"):
    customers drop it as often as not. A key that is only the ending ("*n't") is left alone."""
    i = key.find("n't")
    return [key, key.replace("n't", "nt")] if i > 0 and key[i - 1].isalpha() else [key]


def inherit_meanings(patterns: list[str], own: list[list[Meaning]]) -> list[tuple[Placed, ...]]:
    """Each key's meanings, plus the rule meanings of every key found inside it, at their offsets.

    Leftmost-longest matching reports one key per span, so "charged twice" would hide the "charged" of a
    near-rule. Inheriting lets both count, while neutral keys ("refund policy") still swallow what they hold
    and modifiers inside a cue ("not" in "not working", "resolved" in "not resolved") stay inert. A key that
    is only part of near-rules ("don't need" of "don't need ... subscription") is no cue of its own: a negator
    inside it, before its last word, still negates what follows ("we don't need a refund"); one that is its last
    word negates complaint cues only (``SOFT_NEG``: "it isn't broken", while "I can't get a refund" is a refund
    request).
    """
    finder = ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
    placed: list[tuple[Placed, ...]] = []
    for index, key in enumerate(patterns):
        mine = [(*m, _pad(key), len(key)) for m in own[index]]
        only_near = all(m[0] in (NEAR_A, NEAR_B, UNLESS) for m in own[index])
        if not any(m[0] == NEUTRAL for m in own[index]):
            for inner, start, end in finder.find_matches_as_indexes(key, overlapping=True):
                if inner == index:
                    continue
                pad = _pad(patterns[inner])
                kinds = INHERITED | {NEG} if only_near and end < len(key) else INHERITED
                mine += [(*m, start + pad, end) for m in own[inner] if m[0] in kinds]
                if only_near and end == len(key):
                    mine += [(SOFT_NEG, ref, right, start + pad, end) for kind, ref, right in own[inner] if kind == NEG]
        placed.append(tuple(dict.fromkeys(mine)))
    return placed


@dataclass(frozen=True)
class Plans:
    """Each key's meanings as the matcher buckets them, by when they are read (neutral meanings need none)."""

    #: for every match: rule terms (sorted by start, longest first, so a text's terms come out in the order the
    #: matcher reads candidates in: matches are disjoint and reported left to right), first near-lists, lexicon
    eager: list[tuple[Entry, ...]]
    #: second near-lists, read only for the rules whose first list matched: ``second_rules[key]`` has bit
    #: ``1 << rule`` for each rule whose second list the key holds
    seconds: list[tuple[Entry, ...]]
    second_rules: list[int]
    #: veto words, read when a candidate of the rule asks, and for each veto slot the keys that hold it
    vetoes: list[tuple[Entry, ...]]
    veto_keys: dict[int, frozenset[int]]


def plans(meanings: list[tuple[Placed, ...]], hider_ends: dict[int, int]) -> Plans:
    """``hider_ends``: the length of each key that can hide others (``Compiled.hiders``). Each gets an eager entry
    ending where it ends and needing the word to end there (a neutral one if it has none), so that the matcher,
    which checks eager entries only, sees every such key that ends inside a word."""

    def entries(placed: list[Placed]) -> tuple[Entry, ...]:
        return tuple((slot(k, ref), right, offset, stop) for k, ref, right, offset, stop in placed)

    eager, seconds, second_rules, vetoes = [], [], [], []
    veto_keys: dict[int, set[int]] = defaultdict(set)
    for index, placed in enumerate(meanings):
        terms = sorted((m for m in placed if m[0] == TERM), key=lambda m: (m[3], -m[4]))
        read = entries([*terms, *(m for m in placed if m[0] in LEXICON or m[0] == NEAR_A)])
        end = hider_ends.get(index)
        if end is not None and not any(right and stop == end for _slot, right, _offset, stop in read):
            read += ((slot(NEUTRAL, 0), True, 0, end),)  # bucketed under NEUTRAL, which nothing reads
        eager.append(read)
        seconds.append(entries([m for m in placed if m[0] == NEAR_B]))
        second_rules.append(sum({1 << m[1] for m in placed if m[0] == NEAR_B}))
        vetoes.append(entries([m for m in placed if m[0] == UNLESS]))
        for entry in vetoes[-1]:
            veto_keys[entry[0]].add(index)
    return Plans(eager, seconds, second_rules, vetoes, {s: frozenset(k) for s, k in veto_keys.items()})


def _pad(key: str) -> int:
    """1 when the key starts with its word-boundary space (the word itself starts one further)."""
    return 1 if key.startswith(" ") else 0


def compile_packs(packs: list[Pack], categories: tuple[str, ...]) -> Compiled:
    integration_words = [w for p in packs for w in p.lexicon.integration_words]
    compiler = Compiler(categories)
    for pack in packs:
        compiler.add_pack(pack, integration_words)
    return compiler.build()
