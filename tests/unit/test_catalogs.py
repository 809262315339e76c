"""Every shipped language is complete: each message id in the code and in domain.yml's
responses has a translation in every catalog, keeping every `{placeholder}`; and the widget,
dates and money come out in the shopper's language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import catalog_path, languages, texts
from bot.settings import PROJECT_ROOT

FIELD = re.compile(r"\{(\w*)\}")
SHIPPED = [code for code in languages() if code != "en"]


def message_ids() -> set[str]:
    """What `make catalogs-update` extracts (babel.cfg), read from the code as it is now."""
    with (PROJECT_ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(PROJECT_ROOT, method_map, options_map, keywords=keywords)
    return {message for _file, _line, message, _comments, _context in found}


def test_ten_languages_besides_english_are_shipped():
    assert {"tr", "es", "de", "fr", "pt", "ru", "ar", "he", "ko", "it"} <= set(SHIPPED)


@pytest.mark.parametrize("code", SHIPPED)
def test_every_message_is_translated_and_keeps_its_placeholders(code):
    with catalog_path(code).open("rb") as source:
        catalog = read_po(source, locale=code)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(message_ids() - translated.keys())
    assert not missing, f"{code}: {len(missing)} untranslated, e.g. {missing[:3]}"
    for msgid, msgstr in translated.items():
        assert sorted(FIELD.findall(msgid)) == sorted(FIELD.findall(msgstr)), (code, msgid)


def test_the_code_and_the_template_agree():
    """messages.pot is regenerated with the code (make catalogs-update), so translators see
    every message."""
    with (PROJECT_ROOT / "bot" / "locale" / "messages.pot").open("rb") as source:
        template = {m.id for m in read_po(source) if m.id}
    assert message_ids() == template


def test_dates_money_and_hours_follow_the_locale():
    day = date(2026, 11, 26)
    assert texts("tr").day(day) == "26 Kas Per"
    assert texts("de").money(Decimal("1234.5"), "USD") == "1.234,50\xa0$"
    assert texts("en").money(Decimal("1234.5"), "USD") == "$1,234.50"
    assert texts("he").direction == "rtl" and texts("ko").direction == "ltr"


def test_a_value_ending_in_a_dot_does_not_double_the_sentence_dot():
    _ = texts("fr")
    sentence = _("It was delivered on {day}.", day=_.day(date(2026, 12, 2)))
    assert sentence.endswith(".") and not sentence.endswith("..")


def test_an_unknown_language_falls_back_to_english():
    assert texts("xx").language == "en" and texts("pt-BR").language == "pt"
