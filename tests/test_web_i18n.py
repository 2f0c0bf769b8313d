"""Every string of the dashboard has a Chinese translation, and the catalog compiles at run time."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from helpdesk_retain.web.i18n import LABELS, translations

PACKAGE = Path(__file__).parent.parent / "helpdesk_retain"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("web/**.py", "python"), ("templates/web/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def used_msgids() -> set[str]:
    """What the code and templates ask gettext for (the same extraction ``pybabel extract`` does)."""
    found = extract_from_dir(
        str(PACKAGE),
        method_map=METHODS,
        options_map={"templates/web/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def catalog():  # noqa: ANN201
    path = resources.files("helpdesk_retain.web").joinpath("translations", "zh_Hans", "LC_MESSAGES", "messages.po")
    with path.open("rb") as fh:
        return read_po(fh, locale="zh_Hans")


def test_every_ui_string_has_a_chinese_translation_and_none_is_left_over():
    zh = catalog()
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in zh if m.id}
    used = used_msgids()
    assert len(used) > 250
    missing = sorted(m for m in used if not translated.get(m) or translated[m] in ("", ("",)))
    assert missing == [], "add these to translations/zh_Hans/LC_MESSAGES/messages.po"
    assert sorted(set(translated) - used) == []


def test_translations_keep_every_placeholder():
    for message in catalog():
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(ids[-1])), message.id


def test_the_catalog_compiles_in_memory_and_translates():
    zh = translations("zh_Hans")
    assert zh.gettext("Tickets") == "工单"
    assert zh.ngettext("%(num)d ticket", "%(num)d tickets", 3) == "%(num)d 个工单"
    assert translations("en").gettext("Tickets") == "Tickets"


def test_every_vocabulary_label_is_a_translated_message():
    zh = translations("zh_Hans")
    for group, values in LABELS.items():
        for value, msgid in values.items():
            assert zh.gettext(msgid) != msgid, (group, value)
