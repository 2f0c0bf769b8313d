"""Geometry of the overview's small charts, drawn as inline SVG by the templates (no image rendering per
request, no script). Input is the digest's 8-week ``trend``; the colours are the digest's, so a category
looks the same in the email and on the page. Each chart also has its numbers as a table for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..digest.charts import CATEGORY_COLORS, FALLBACK_COLOR
from ..digest.weeks import IsoWeek

WIDTH, HEIGHT, PAD_TOP, PAD_BOTTOM = 320, 120, 14, 18
SLOT = WIDTH / 8


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    value: Any
    label: str = ""


@dataclass
class Chart:
    labels: list[str]
    bars: list[Bar] = field(default_factory=list)
    points: str = ""
    dots: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    #: (week label, value) for the table that carries the same numbers as text
    rows: list[tuple[str, Any]] = field(default_factory=list)


def week_labels(trend: list[dict[str, Any]]) -> list[str]:
    return [f"W{IsoWeek.parse(w['week']).week:02d}" for w in trend]


def _scale(peak: float) -> float:
    return (HEIGHT - PAD_TOP - PAD_BOTTOM) / peak if peak else 0.0


def saves_chart(trend: list[dict[str, Any]]) -> Chart:
    chart = Chart(week_labels(trend))
    values = [w["saves"] for w in trend]
    k = _scale(max(values, default=0))
    for i, v in enumerate(values):
        h = v * k
        color = "#0F7B4F" if i == len(values) - 1 else "#7FBF9F"
        chart.bars.append(Bar(i * SLOT + SLOT * 0.2, HEIGHT - PAD_BOTTOM - h, SLOT * 0.6, h, color, v))
    chart.rows = list(zip(chart.labels, values, strict=True))
    return chart


def complaints_chart(trend: list[dict[str, Any]]) -> Chart:
    chart = Chart(week_labels(trend))
    seen = {c for w in trend for c in w["complaints"]}
    categories = [c for c in CATEGORY_COLORS if c in seen] + sorted(seen - set(CATEGORY_COLORS))
    totals = [sum(w["complaints"].values()) for w in trend]
    k = _scale(max(totals, default=0))
    for i, week in enumerate(trend):
        bottom = HEIGHT - PAD_BOTTOM
        for category in categories:
            n = week["complaints"].get(category, 0)
            if n:
                color = CATEGORY_COLORS.get(category, FALLBACK_COLOR)
                chart.bars.append(Bar(i * SLOT + SLOT * 0.2, bottom - n * k, SLOT * 0.6, n * k, color, n, category))
                bottom -= n * k
    chart.legend = [(c, CATEGORY_COLORS.get(c, FALLBACK_COLOR)) for c in categories]
    chart.rows = list(zip(chart.labels, totals, strict=True))
    return chart


def tat_chart(trend: list[dict[str, Any]]) -> Chart:
    """Attainment per week on a 0-100% scale; weeks without clocks leave a gap."""
    chart = Chart(week_labels(trend))
    k = HEIGHT - PAD_TOP - PAD_BOTTOM
    points = []
    for i, week in enumerate(trend):
        share = week["tat_attainment"]
        if share is None:
            continue
        x, y = i * SLOT + SLOT / 2, HEIGHT - PAD_BOTTOM - share * k
        points.append(f"{x:.1f},{y:.1f}")
        chart.dots.append(Bar(x, y, 0, 0, "#1D4ED8", share))
    chart.points = " ".join(points)
    chart.rows = [(label, week["tat_attainment"]) for label, week in zip(chart.labels, trend, strict=True)]
    return chart


def charts(figures: dict[str, Any]) -> dict[str, Chart]:
    trend = figures["trend"]
    return {"saves": saves_chart(trend), "complaints": complaints_chart(trend), "tat": tat_chart(trend)}
