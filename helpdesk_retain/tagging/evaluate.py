"""Precision and recall of the rules on a labeled set (``helpdesk-retain eval-tagging FILE``).

The set is JSON lines: ``{"id", "lang": "en"|"zh", "text", "complaint": bool, "category": str|null,
"signals": [str, ...]}``. Complaints are scored per language; each risk signal over the whole set (and per
language). Category accuracy is measured over the complaints both the labels and the rules agree on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import ConfigError, format_errors
from .packs import SIGNALS, Category, Signal
from .tagger import Tagger

TEXT_SIGNALS = tuple(s for s in SIGNALS)


class Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    lang: Literal["en", "zh"]
    text: str
    complaint: bool
    category: Category | None = None
    signals: list[Signal] = []


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, expected: bool) -> None:
        self.tp += predicted and expected
        self.fp += predicted and not expected
        self.fn += expected and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


@dataclass
class Report:
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    complaints: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    category_hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    signals: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    signals_by_lang: dict[tuple[str, str], Counts] = field(default_factory=lambda: defaultdict(Counts))
    errors: list[str] = field(default_factory=list)


def load_items(path: str | Path) -> list[Item]:
    items, problems = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                items.append(Item.model_validate(json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not JSON: {exc}")
            except ValidationError as exc:
                problems.extend(f"{path}:{number}: {p}" for p in format_errors(exc))
    if problems:
        raise ConfigError(problems)
    return items


def evaluate(tagger: Tagger, items: list[Item]) -> Report:
    report = Report()
    for item in items:
        tags = tagger.tag(item.text)
        report.items[item.lang] += 1
        report.complaints[item.lang].add(tags.complaint, item.complaint)
        if tags.complaint and item.complaint:
            report.category_hits[item.lang] += tags.category == item.category
        if tags.complaint != item.complaint or (tags.complaint and tags.category != item.category):
            report.errors.append(
                f"{item.id} complaint {tags.complaint}/{tags.category} expected {item.complaint}/{item.category}"
                f" {list(tags.evidence)}: {item.text[:100]!r}"
            )
        for signal in TEXT_SIGNALS:
            predicted, expected = signal in tags.signals, signal in item.signals
            report.signals[signal].add(predicted, expected)
            report.signals_by_lang[(signal, item.lang)].add(predicted, expected)
            if predicted != expected:
                found = tags.signals.get(signal)
                report.errors.append(
                    f"{item.id} {signal} {predicted} expected {expected} {found!r}: {item.text[:100]!r}"
                )
    return report


def format_report(report: Report) -> str:
    lines = ["complaints      items  complaints  precision  recall  category-accuracy"]
    for lang in sorted(report.complaints):
        c = report.complaints[lang]
        accuracy = report.category_hits[lang] / c.tp if c.tp else 1.0
        lines.append(
            f"  {lang:<12}{report.items[lang]:>7}{c.support:>12}{c.precision:>11.3f}{c.recall:>8.3f}{accuracy:>19.3f}"
        )
    lines.append("")
    lines.append("risk signals         support  precision  recall   recall-en  recall-zh")
    for signal in TEXT_SIGNALS:
        c = report.signals[signal]
        by_lang = [report.signals_by_lang[(signal, lang)] for lang in ("en", "zh")]
        per_lang = "".join(f"{x.recall:>11.3f}" if x.support else f"{'-':>11}" for x in by_lang)
        lines.append(f"  {signal:<19}{c.support:>8}{c.precision:>11.3f}{c.recall:>8.3f}{per_lang}")
    return "\n".join(lines)


def run_eval_command(path: Path, config_file: str | None, competitors: tuple[str, ...], show_errors: bool) -> str:
    """What ``helpdesk-retain eval-tagging`` prints: [tagging] from the config (if any) plus ``competitors``."""
    from ..config import TaggingSettings, config_path, load_settings
    from .tagger import build_tagger

    found = config_path(config_file)
    settings = load_settings(found).tagging if config_file or found.exists() else TaggingSettings()
    if competitors:
        settings = settings.model_copy(update={"competitors": [*settings.competitors, *competitors]})
    report = evaluate(build_tagger(settings), load_items(path))
    text = format_report(report)
    return text + ("\n\n" + "\n".join(report.errors) if show_errors and report.errors else "")
