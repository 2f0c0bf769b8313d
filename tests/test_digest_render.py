"""Rendering the digest: subject, HTML and text in en and zh-Hans, charts, and a calm empty week."""

from __future__ import annotations

import copy
import re
import string
import subprocess
import sys
from html.parser import HTMLParser
from typing import Any

import pytest

from helpdesk_retain.db import session_scope
from helpdesk_retain.digest.i18n import LANGUAGES, Translator, catalog
from helpdesk_retain.digest.render import render
from tests.test_digest_figures import Seed, berlin, digest_runtime, figures_of, seeded  # noqa: F401 (fixtures)

#: acronyms and names the Chinese digest keeps as they are (as Chinese business writing does)
KEPT_IN_ZH = {"TAT", "MRR", "ARR", "helpdesk", "retain"}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_catalog_key_has_an_entry_in_every_language_with_the_same_placeholders():
    english = catalog("en")
    for language in LANGUAGES:
        other = catalog(language)
        assert set(other) == set(english), language
        for key, value in english.items():
            forms = value.values() if isinstance(value, dict) else [value]
            theirs = other[key].values() if isinstance(other[key], dict) else [other[key]]
            assert {frozenset(fields(v)) for v in theirs} == {frozenset(fields(v)) for v in forms}, (language, key)


class TextOf(HTMLParser):
    """Visible text and alt/title attributes of an HTML page (not the style sheet)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip = tag == "style"
        self.parts += [v or "" for k, v in attrs if k in ("alt", "title")]

    def handle_endtag(self, tag: str) -> None:
        self.skip = False

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = TextOf()
    parser.feed(html)
    return " ".join(parser.parts)


def words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text))


def data_words(value: Any) -> set[str]:
    """Words that come from the data (names, phrases, policy names, zones), not from the templates."""
    if isinstance(value, dict):
        return set().union(*(data_words(v) | words(str(k)) for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(data_words(v) for v in value)) if value else set()
    return words(str(value)) if isinstance(value, str) else set()


def test_the_zh_hans_digest_has_no_english_words_from_the_templates(seeded):  # noqa: F811
    figures = figures_of(seeded)
    english = set().union(*(words(v if isinstance(v, str) else " ".join(v.values())) for v in catalog("en").values()))
    url = "https://retain.example.com/digest/2026-W47"
    rendered = render(figures, "zh-Hans", online_url=url)
    for output in (rendered.subject, rendered.text, visible_text(rendered.html)):
        leftover = (words(output) & english) - data_words(figures) - words(url) - KEPT_IN_ZH
        assert not leftover, leftover
    assert "挽回 2 位客户" in rendered.text and "风险客户" in rendered.text and "在浏览器中打开本简报" in rendered.text


def test_the_subject_carries_saves_saved_revenue_and_attainment(seeded):  # noqa: F811
    figures = figures_of(seeded)
    assert render(figures, "en").subject == "Week 47: 2 saves (USD 49 + EUR 10 MRR), TAT 60%"
    assert render(figures, "zh-Hans").subject == "第 47 周：挽回 2 位客户（USD 49 + EUR 10 MRR），TAT 达成率 60%"


def test_the_subject_formats_thousands_in_the_locale(digest_runtime):  # noqa: F811
    figures = copy.deepcopy(figures_of(digest_runtime))
    figures["saves"].update(count=12, customers=12, by_currency=[_money_row("USD", 12, 490000)])
    figures["tat"]["attainment"] = 0.94
    assert render(figures, "en").subject == "Week 47: 12 saves (USD 4,900 MRR), TAT 94%"
    figures["saves"].update(count=1, customers=1, by_currency=[_money_row("JPY", 1, 4900)])
    assert render(figures, "en").subject == "Week 47: 1 save (JPY 4,900 MRR), TAT 94%"


def _money_row(currency: str, count: int, mrr: int) -> dict[str, Any]:
    return {"currency": currency, "count": count, "mrr_minor": mrr, "arr_minor": mrr * 12, "held_mrr_minor": 0,
            "lost_mrr_minor": 0, "customers": count, "kept_mrr_minor": mrr, "kept_arr_minor": mrr * 12}  # fmt: skip


def test_customers_saved_and_money_kept_count_each_customer_once_and_leave_lost_saves_out(digest_runtime):  # noqa: F811
    """Ana: two tickets saved for one USD 49/month subscription; Bo: saved, then cancelled the same week (lost);
    a USD 1/year save without a customer (MRR 8, ARR 100). Kept: 2 customers, MRR 49.08, ARR 588 + 1 = 589."""
    with session_scope(digest_runtime.sessions) as session:
        seed = Seed(session)
        ana = seed.customer("ana@example.com", "Ana", 4900, "USD")
        bo = seed.customer("bo@example.com", "Bo", 4900, "USD")
        for hour in (10, 11):
            seed.save(seed.ticket(berlin(11, 17, 9), ana), berlin(11, 17, hour), 4900, "USD", customer_id=ana)
        lost = seed.ticket(berlin(11, 16, 9), bo)
        seed.save(lost, berlin(11, 16, 10), 4900, "USD", outcome="lost", verified_at=berlin(11, 18), customer_id=bo)
        seed.save(seed.ticket(berlin(11, 17, 9)), berlin(11, 17, 12), 100, "USD", interval="year")
    figures = figures_of(digest_runtime)
    saves = figures["saves"]
    assert (saves["count"], saves["lost"], saves["customers"]) == (4, 1, 2)
    [usd] = saves["by_currency"]
    assert (usd["customers"], usd["kept_mrr_minor"], usd["kept_arr_minor"]) == (2, 4908, 58900)
    assert saves["clv"]["by_currency"] == [{"currency": "USD", "mrr_minor": 4908, "clv_minor": 4908 * 24}]
    rendered = render(figures, "en")
    assert rendered.subject == "Week 47: 2 saves (USD 49 MRR)"
    for output in (rendered.text, visible_text(rendered.html)):
        assert "2 customers saved" in output
        assert "$49.08 MRR kept · $589.00 ARR" in output


def test_an_empty_week_renders_a_calm_digest_without_charts(digest_runtime):  # noqa: F811
    rendered = render(figures_of(digest_runtime), "en")
    assert rendered.subject == "Week 47: no saves"
    for output in (rendered.text, visible_text(rendered.html)):
        assert "No complaints this week." in output
        assert "No saves recorded this week" in output
        assert "No customer is at risk this week." in output
    assert rendered.images == () and "cid:" not in rendered.html
    assert render(figures_of(digest_runtime), "zh-Hans").subject == "第 47 周：本周无挽回"


def test_the_html_is_mail_safe_tables_with_inlined_css_and_no_script(seeded):  # noqa: F811
    html = render(figures_of(seeded), "en").html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert re.search(r'<td class="hero" style="[^"]*background: #ECFDF5', html)
    # the headline (saves and saved revenue) comes before every table
    assert html.index("2 customers saved") < html.index("<th")
    assert html.index("$49.00 MRR kept") < html.index("Complaints")


def test_charts_are_png_images_referenced_by_content_id(seeded):  # noqa: F811
    rendered = render(figures_of(seeded), "en")
    assert [i.cid.split("-")[0] for i in rendered.images] == ["saves", "complaints", "tat"]
    for image in rendered.images:
        assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and image.content_type == "image/png"
        assert f'src="cid:{image.cid}"' in rendered.html
    assert "cid:" not in rendered.html_standalone()


def test_money_numbers_and_dates_follow_the_locale():
    from datetime import date

    en, zh = Translator("en"), Translator("zh-Hans")
    assert (en.money(490000, "USD"), zh.money(490000, "USD")) == ("$4,900.00", "US$4,900.00")
    assert en.money(4900, "JPY") == "¥4,900" and en.money(12500, "KWD") == "KWD12.500"
    assert en.week_range(date(2026, 11, 16), date(2026, 11, 22)) == "Nov 16\u2009–\u200922, 2026"
    # CLDR's own interval pattern: "至" in older CLDR data, a thin-spaced dash in Babel 2.19's (CLDR 49)
    assert zh.week_range(date(2026, 11, 16), date(2026, 11, 22)) in {
        "2026年11月16日至22日",
        "2026年11月16日\u2009–\u200922日",
    }
    assert (en.percent(0.945), en.percent(0.152, signed=True), en.percent(None)) == ("94.5%", "+15%", "–")
    assert en.t("headline.saves", count=1) == "1 customer saved" and zh.t("headline.saves", count=3) == "挽回 3 位客户"


@pytest.mark.parametrize(
    "module", ["helpdesk_retain.digest.send", "helpdesk_retain.web_app", "helpdesk_retain.scheduler"]
)
def test_matplotlib_is_not_imported_until_a_chart_is_drawn(module):
    code = f"import sys, {module}; import helpdesk_retain.digest.render; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


def test_charts_are_drawn_in_a_child_process_so_the_server_never_holds_matplotlib():
    """matplotlib and numpy take ~60 MB; a web worker or the scheduler that drew one digest would keep them."""
    import subprocess
    import sys

    code = (
        "import sys; from helpdesk_retain.digest import charts;"
        " pngs = charts.draw([('saves', (['W46', 'W47'], [1, 2])), ('tat', (['W46', 'W47'], [0.5, None]))]);"
        " assert all(p.startswith(b'\\x89PNG') for p in pngs) and len(pngs) == 2, pngs;"
        " assert 'matplotlib' not in sys.modules, 'drawn in this process'; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
