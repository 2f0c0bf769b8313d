"""The digest's charts as PNG bytes: complaints per week by category, TAT attainment per week, saves per week.

Charts carry no words, only week numbers and values: titles and the category legend are in the (translated)
HTML around them, so a chart reads the same in every language and needs no CJK font on the server. Category
colours (``CATEGORY_COLORS``, colour-blind safe) are shared with the HTML swatches.

matplotlib is imported when a chart is drawn, never when the package is imported, and figures are drawn on
an explicit Agg canvas (``FigureCanvasAgg``) instead of through ``pyplot``: no global backend switch, no
figure registry, safe in the web server's threads. ``draw`` draws a digest's charts in a child process:
matplotlib and numpy take ~60 MB that a web worker or the scheduler would otherwise hold for good after its
first digest (their ceilings are 150 and 120 MB); a digest is drawn once a week, the child costs about a second.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

CATEGORY_COLORS = {
    "product_defect": "#D55E00",
    "service_quality": "#0072B2",
    "billing": "#E69F00",
    "delivery": "#009E73",
    "pricing": "#CC79A7",
    "usability": "#56B4E9",
    "other": "#8C8C8C",
}
FALLBACK_COLOR = "#B0B0B0"
INK, MUTED, GRID = "#1F2937", "#6B7280", "#E5E7EB"
SAVE_GREEN, SAVE_LIGHT, TAT_BLUE = "#0F7B4F", "#A7D7C0", "#1D4ED8"
WIDTH_IN, HEIGHT_IN, DPI = 6.0, 2.0, 200


def color(category: str) -> str:
    return CATEGORY_COLORS.get(category, FALLBACK_COLOR)


def _figure() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=8, length=0)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout(pad=0.4)
    fig.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def _ticks(ax: Any, labels: Sequence[str]) -> None:
    ax.set_xticks(range(len(labels)), labels)
    ax.get_xticklabels()[-1].set_color(INK)
    ax.get_xticklabels()[-1].set_fontweight("bold")


def _integers(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, min_n_ticks=1))
    ax.set_ylim(bottom=0)


def complaints_chart(labels: Sequence[str], weekly: Sequence[dict[str, int]], categories: Sequence[str]) -> bytes:
    """Stacked bars: complaints per week, one colour per category (the last week is the digest's)."""
    fig, ax = _figure()
    bottoms = [0] * len(labels)
    for category in categories:
        values = [week.get(category, 0) for week in weekly]
        ax.bar(range(len(labels)), values, bottom=bottoms, width=0.62, color=color(category), linewidth=0)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for x, total in enumerate(bottoms):
        if total:
            ax.annotate(str(total), (x, total), ha="center", va="bottom", fontsize=7, color=MUTED, xytext=(0, 2),
                        textcoords="offset points")  # fmt: skip
    _ticks(ax, labels)
    _integers(ax)
    ax.set_ylim(top=max(bottoms + [1]) * 1.18)
    return _png(fig)


def tat_chart(labels: Sequence[str], shares: Sequence[float | None]) -> bytes:
    """Line: share of clocks that met their target per week, in percent; weeks without clocks are gaps."""
    from matplotlib.ticker import PercentFormatter

    fig, ax = _figure()
    values = [float("nan") if s is None else s * 100 for s in shares]
    ax.plot(range(len(labels)), values, color=TAT_BLUE, linewidth=2, marker="o", markersize=4)
    if values and shares[-1] is not None:
        ax.plot([len(values) - 1], [values[-1]], marker="o", markersize=7, color=TAT_BLUE)
        ax.annotate(f"{values[-1]:.0f}%", (len(values) - 1, values[-1]), ha="center", va="bottom", fontsize=8,
                    color=INK, fontweight="bold", xytext=(0, 6), textcoords="offset points")  # fmt: skip
    known = [v for v in values if v == v]  # NaN != NaN: the weeks without clocks
    floor = max(0, min(int(min(known, default=0) - 10) // 20 * 20, 80))
    ax.set_ylim(floor - 4, 106)  # a little room so markers at 0% and 100% are not cut
    ax.set_yticks(range(floor, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    _ticks(ax, labels)
    return _png(fig)


def saves_chart(labels: Sequence[str], counts: Sequence[int]) -> bytes:
    """Bars: saves per week; the digest's week in full green."""
    fig, ax = _figure()
    colors = [SAVE_LIGHT] * (len(counts) - 1) + [SAVE_GREEN]
    ax.bar(range(len(labels)), counts, width=0.62, color=colors, linewidth=0)
    for x, n in enumerate(counts):
        if n:
            ax.annotate(str(n), (x, n), ha="center", va="bottom", fontsize=7, color=MUTED, xytext=(0, 2),
                        textcoords="offset points")  # fmt: skip
    _ticks(ax, labels)
    _integers(ax)
    ax.set_ylim(top=max(list(counts) + [1]) * 1.2)
    return _png(fig)


#: what ``draw`` can be asked for, by name (a child process gets names and arguments, not functions)
CHARTS = {"complaints": complaints_chart, "tat": tat_chart, "saves": saves_chart}
#: seconds a child may take (it imports matplotlib first: ~0.5 s)
DRAW_TIMEOUT = 120


def draw(requests: Sequence[tuple[str, tuple[Any, ...]]]) -> list[bytes]:
    """PNG bytes of each (chart name in ``CHARTS``, its arguments), drawn in one child process that exits after
    (started with "spawn": a fork of a threaded server could copy a held lock). Nothing asked, no child."""
    if not requests:
        return []
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_draw_all, list(requests)).result(timeout=DRAW_TIMEOUT)


def _draw_all(requests: list[tuple[str, tuple[Any, ...]]]) -> list[bytes]:
    return [CHARTS[name](*args) for name, args in requests]
