"""Rendering the digest: subject, HTML (CSS inlined for mail clients) and plain text, with inline charts.

``render(figures, language)`` takes the figures of ``figures.week_figures`` (a pure function of them and the
language; no database access) and returns a ``Rendered``: the HTML refers to its charts as ``cid:`` URLs, as
an email's ``multipart/related`` part needs; ``html_standalone()`` swaps them for ``data:`` URLs for a
browser. CSS is written once in the template's ``<style>`` and inlined onto each element by ``css-inline``
(mail clients drop ``<style>``); media queries stay in a ``<style>`` block for clients that honour them.
The page is tables and inline styles only: no scripts, no web fonts, no remote images.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..notify.contract import InlineImage
from . import charts
from .i18n import Translator
from .weeks import IsoWeek


@dataclass(frozen=True)
class Rendered:
    week: str
    language: str
    subject: str
    html: str
    text: str
    images: tuple[InlineImage, ...]

    def html_standalone(self) -> str:
        """The HTML with each ``cid:`` image as a ``data:`` URL (browser preview, saved files)."""
        html = self.html
        for image in self.images:
            data = base64.b64encode(image.data).decode()
            html = html.replace(f"cid:{image.cid}", f"data:{image.content_type};base64,{data}")
        return html


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("helpdesk_retain", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(figures: dict[str, Any], language: str, *, online_url: str | None = None) -> Rendered:
    tr = Translator(language)
    images = chart_images(figures)
    context = {
        "f": figures,
        "tr": tr,
        "t": tr.t,
        "v": view(figures, tr),
        "img": {key: f"cid:{image.cid}" for key, image in zip(_chart_keys(figures), images, strict=True)},
        "online_url": online_url,
        "lang": language,
    }
    subject = subject_line(figures, tr)
    html = environment().get_template("digest/digest.html").render(subject=subject, **context)
    text = environment().get_template("digest/digest.txt").render(subject=subject, **context)
    return Rendered(figures["week"], language, subject, inline_css(html), _tidy(text), tuple(images))


def inline_css(html: str) -> str:
    import css_inline

    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return inliner.inline(html)


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --- the words and numbers the templates show -------------------------------------------------------------


def week_number(figures: dict[str, Any]) -> int:
    return IsoWeek.parse(figures["week"]).week


def subject_line(figures: dict[str, Any], tr: Translator) -> str:
    """The headline as a subject, in the digest's language: Week 47: 12 saves (USD 4,900 MRR), TAT 94%."""
    week, saves = week_number(figures), figures["saves"]["customers"]
    subject = tr.t("subject.saves", count=saves, week=week) if saves else tr.t("subject.none", week=week)
    amounts = _amounts(figures, tr)
    if amounts:
        subject += tr.t("subject.mrr", amounts=amounts)
    share = figures["tat"]["attainment"]
    if share is not None:
        subject += tr.t("subject.tat", percent=tr.percent(share))
    return subject


def _amounts(figures: dict[str, Any], tr: Translator) -> str:
    """Saved MRR per currency, largest first; more than three currencies end in an ellipsis."""
    # per currency, MRR kept (``save_totals``: each saved customer once, lost saves left out)
    rows = sorted(
        (r for r in figures["saves"]["by_currency"] if r["kept_mrr_minor"]), key=lambda r: -r["kept_mrr_minor"]
    )
    text = " + ".join(tr.money(r["kept_mrr_minor"], r["currency"], whole=True) for r in rows[:3])
    return text + (" + …" if len(rows) > 3 else "")


def view(figures: dict[str, Any], tr: Translator) -> dict[str, Any]:
    """Pre-formatted pieces the templates would otherwise compute (they stay layout only)."""
    week = IsoWeek.parse(figures["week"])
    complaints = figures["complaints"]
    return {
        "week": week.week,
        "range": tr.week_range(week.monday, week.monday + timedelta(days=6)),
        "kept": sorted(figures["saves"]["by_currency"], key=lambda r: (-r["kept_mrr_minor"], r["currency"])),
        "complaint_change": _change(complaints["change_percent"], complaints["previous_average"], tr),
        "categories": [
            {
                **row,
                "label": tr.label("category", row["category"]),
                "color": charts.color(row["category"]),
                "change": _change(row["change_percent"], row["previous_average"], tr),
            }  # fmt: skip
            for row in complaints["by_category"]
        ],
        "at_risk": [_risk_row(c, tr) for c in figures["at_risk"]["customers"]],
        "tat_rows": [
            {**r, "metric_label": tr.label("metric", r["metric"]), "share": tr.percent(r["attainment"])}
            for r in figures["tat"]["items"]
            if r["met"] or r["breached"]
        ],
        "charts": _chart_keys(figures),
    }


def _change(change_percent: float | None, average: float, tr: Translator) -> str:
    if change_percent is None:
        return tr.t("complaints.new") if not average else "–"
    return tr.percent(change_percent / 100, signed=True) if change_percent else "±0%"


def _risk_row(customer: dict[str, Any], tr: Translator) -> dict[str, Any]:
    reasons = []
    for r in customer["reasons"]:
        text = tr.t("at_risk.reason", reason=tr.label("reason", r["kind"]), count=r["count"])
        if r["rule"] == "signal" and r["evidence"]:
            text += tr.t("at_risk.quote", words=_clip(r["evidence"], 80))
        reasons.append(text)
    return {
        "name": customer["name"] or customer["email"] or "–",
        "email": customer["email"] if customer["name"] else None,
        "plan": customer["plan"] or "–",
        "value": tr.money(customer["mrr_minor"], customer["currency"]),
        "reasons": tr.t("at_risk.separator").join(reasons),
    }


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- charts -------------------------------------------------------------------------------------------------


def _chart_keys(figures: dict[str, Any]) -> list[str]:
    """The charts worth drawing: a trend that is all zero or empty shows nothing and is left out."""
    trend = figures["trend"]
    keys = []
    if any(w["saves"] for w in trend):
        keys.append("saves")
    if any(w["complaints"] for w in trend):
        keys.append("complaints")
    if any(w["tat_attainment"] is not None for w in trend):
        keys.append("tat")
    return keys


def chart_images(figures: dict[str, Any]) -> list[InlineImage]:
    trend = figures["trend"]
    labels = [f"W{IsoWeek.parse(w['week']).week:02d}" for w in trend]
    categories = _categories(trend)
    arguments = {
        "saves": (labels, [w["saves"] for w in trend]),
        "complaints": (labels, [w["complaints"] for w in trend], categories),
        "tat": (labels, [w["tat_attainment"] for w in trend]),
    }
    keys, week = _chart_keys(figures), figures["week"].lower()
    drawn = charts.draw([(key, arguments[key]) for key in keys])  # in a child process: see ``charts.draw``
    pairs = zip(keys, drawn, strict=True)
    return [InlineImage(f"{key}-{week}@helpdesk-retain", "image/png", png) for key, png in pairs]


def _categories(trend: list[dict[str, Any]]) -> list[str]:
    """Categories in the legend's order: the known ones first, in the palette's order, then the rest."""
    seen = {c for w in trend for c in w["complaints"]}
    known = [c for c in charts.CATEGORY_COLORS if c in seen]
    return known + sorted(seen - set(known))
