"""Rule packs: one TOML data file per language, validated with pydantic when loaded.

A pack holds a lexicon (negators, question words, ...), topic words per complaint category, complaint rules
and risk-signal rules. A rule matches either any of its ``terms`` or, with ``near = [[A...], [B...]]``, an A
term followed by a B term within ``window`` tokens of the same sentence (a token is a word, or one CJK
character). Terms are matched case-insensitively on whole words; ``*`` at either end drops that word boundary
(``cancel*`` also matches "cancelled"). Chinese terms are written in Simplified script: Traditional and Taiwan
spellings are added when the pack is compiled. An invalid pack raises ``ConfigError`` naming the file and key.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import TAGGING_CATEGORIES, TAGGING_SIGNALS, ConfigError, format_errors

CATEGORIES = TAGGING_CATEGORIES
SIGNALS = TAGGING_SIGNALS
BUILTIN_PACKS = ("en", "zh")
Category = Literal["product_defect", "service_quality", "billing", "delivery", "pricing", "usability", "other"]
Signal = Literal[
    "cancel_intent",
    "refund_request",
    "data_export",
    "billing_change",
    "downgrade",
    "competitor_mention",
    "legal_threat",
    "repeat_contact",
]


def _term(value: str) -> str:
    core = value.strip().strip("*")
    if not core.strip() or "*" in core:
        raise ValueError(f"{value!r}: a term needs text, and '*' only at its ends")
    return value.strip()


Term = Annotated[str, AfterValidator(_term)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lexicon(Strict):
    """Words that shape how rule matches are read (see each field)."""

    #: a negator up to ``negation_window`` tokens before a match cancels it ("not disappointed")
    negators: list[Term] = []
    #: negators that cancel complaint cues only: "I cannot get a refund" still asks for one, while "it cannot be
    #: called slow" is no complaint (a negator ending a near-list word, "isn't", reads the same way)
    soft_negators: list[Term] = []
    #: end a negation's reach inside a sentence ("not great, but ..."); , ; : always do
    clause_breaks: list[Term] = []
    #: a sentence holding one of these (as a question) asks for information ("how do i", "请问")
    info_questions: list[Term] = []
    #: ... unless it also holds one of these ("why", "为什么"): then the question is a complaint
    rhetorical: list[Term] = []
    #: a problem reported as solved ("works now", "已解决") cancels medium and weak complaint cues before it
    resolved: list[Term] = []
    #: phrases that swallow the terms inside them ("no problem", "refund policy", "不断")
    neutral: list[Term] = []
    #: next to a competitor's name, these make it an integration, not a rival ("the Zendesk integration")
    integration_words: list[Term] = []
    #: capitalised words that are not a vendor after "switch to" and the like ("the", "Annual", "Pro")
    not_names: list[str] = []


class Rule(Strict):
    terms: list[Term] = []
    near: tuple[list[Term], list[Term]] | None = None
    window: int = Field(3, ge=0, le=30)
    any_order: bool = False
    #: a near pair must sit in one clause (no "," ";" ":" "、" between): "扣了我两次钱，客服说会退" pairs nothing
    same_clause: bool = False
    #: any of these in the same sentence (or within ``unless_window`` tokens) vetoes the match
    unless: list[Term] = []
    unless_window: int | None = Field(None, ge=0, le=30)
    negatable: bool = True

    @model_validator(mode="after")
    def _one_shape(self) -> Rule:
        if bool(self.terms) == bool(self.near):
            raise ValueError("give either terms or near, not both or neither")
        if self.near is not None and not (self.near[0] and self.near[1]):
            raise ValueError("near needs two non-empty lists of terms")
        return self


class ComplaintRule(Rule):
    #: strong cues (real negative sentiment) count in any sentence; medium cues (failure statements) and weak
    #: ones (half weight) do not count inside information questions or before a "resolved" marker
    strength: Literal["strong", "medium", "weak"] = "medium"
    category: Category | None = None


class SignalRule(Rule):
    signal: Signal
    #: "drop": a match inside an information question does not count ("what is your refund policy?")
    questions: Literal["keep", "drop"] = "keep"
    #: the match must be followed by a vendor-like name ("switching to Acme")
    name_after: bool = False


class Pack(Strict):
    language: str
    #: tokens between a negator and the match it cancels
    negation_window: int = Field(2, ge=0, le=10)
    lexicon: Lexicon = Lexicon()
    topics: dict[Category, list[Term]] = {}
    complaint: list[ComplaintRule] = []
    signal: list[SignalRule] = []


def parse_pack(data: Any, origin: str) -> Pack:
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{origin}: {p}" for p in format_errors(exc)]) from None


def load_pack(path: str | Path) -> Pack:
    """Read and validate a pack file; ``ConfigError`` names the file and the key on any problem."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read rule pack: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    return parse_pack(data, str(path))


def builtin_pack(name: str) -> Pack:
    ref = resources.files("helpdesk_retain.tagging").joinpath("rules", f"{name}.toml")
    return parse_pack(tomllib.loads(ref.read_text("utf-8")), f"helpdesk_retain/tagging/rules/{name}.toml")


def team_pack(complaint_terms: dict[str, list[str]], risk_terms: dict[str, list[str]], competitors: list[str]) -> Pack:
    """The ``[tagging]`` additions from config as one more pack (competitor names become a signal rule)."""
    data: dict[str, Any] = {
        "language": "team",
        "complaint": [{"category": c, "terms": t} for c, t in complaint_terms.items() if t],
        "signal": [{"signal": s, "terms": t} for s, t in risk_terms.items() if t],
    }
    if competitors:
        data["signal"].append({"signal": "competitor_mention", "terms": competitors})
        # moving to a rival is leaving, besides naming one ("we're switching to Acme when our contract ends")
        data["signal"].append(
            {
                "signal": "cancel_intent",
                "near": [LEAVING_FOR, competitors],
                "window": 2,
                "unless": NOT_LEAVING,
                "unless_window": 3,
            }
        )
    return parse_pack(data, "[tagging]")


#: moving to another vendor, in English and Chinese (the team pack has no language of its own)
LEAVING_FOR = [
    "switching to", "switch to", "switched to", "moving to", "move to", "moved to", "migrating to", "migrate to",
    "migrated to", "going with", "go with", "went with", "replace you with", "replacing you with",
    "replaced you with", "leaving for", "leave you for", "changing to", "change to", "moving over to",
    "switching over to", "换成", "换到", "换", "改用", "转用", "迁移到", "迁到", "转到", "搬到", "转去", "换去",
]  # fmt: skip
#: an integration with the rival, a hypothetical, or weighing the rival (a mention, not yet leaving) is no leaving
NOT_LEAVING = [
    "integration", "integrations", "integrate", "integrates", "connector", "plugin", "plug-in", "add-on", "app",
    "sync", "api", "webhook", "widget", "集成", "对接", "串接", "插件", "接口", "同步", "if we ever", "if i ever",
    "what if we", "what happens if", "in the future", "如果以后", "以后如果", "假如", "万一", "将来", "considering",
    "consider", "thinking about", "thinking of", "evaluating", "looking at", "comparing", "考虑", "在看", "看看",
    "评估", "比较", "对比", "试用", "谂紧", "諗緊", "未决定", "还没决定", "not decided", "haven't decided",
]  # fmt: skip
