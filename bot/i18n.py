"""Every word a shopper reads, in the shopper's language.

Message ids are the English text, marked in code with `_()` (or `N_()` where the text is a
constant translated later) and collected with `pybabel extract` into `bot/locale/messages.pot`;
each language is a gettext catalog, `bot/locale/<code>/LC_MESSAGES/messages.po`, compiled to
`.mo` by `make catalogs`. A language is shipped when its catalog exists: adding one is a
catalog (plus NLU examples and FAQ translations), no code.

Placeholders are `{name}` fields filled with `str.format` after translation, so a translation
may reorder them but must keep every one (tests/unit/test_catalogs.py checks).
Dates, times, money and numbers are formatted for the locale by Babel (CLDR data).
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_skeleton,
    format_time,
    get_day_names,
    get_timezone_location,
)
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from bot.policy import SupportHours

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"  # the language the message ids are written in


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated where it is shown."""
    return message


def catalog_path(language: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The shipped languages: English, then every language with a catalog."""
    found = sorted(p.name for p in LOCALE_DIR.iterdir() if catalog_path(p.name).is_file())
    return (SOURCE_LANGUAGE, *(code for code in found if code != SOURCE_LANGUAGE))


def supported(language: str | None) -> str | None:
    """`language` (a code like "pt-BR" or "tr_TR") as one of ours, or None."""
    if not language:
        return None
    base = language.replace("_", "-").split("-")[0].strip().lower()
    return base if base in languages() else None


@lru_cache(maxsize=32)
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog; compiled in memory from the .po when `make catalogs` has not
    run (or the .po is newer), so an edited catalog is never silently ignored."""
    po, mo = catalog_path(language), catalog_path(language, ".mo")
    if language == SOURCE_LANGUAGE or not po.is_file():
        return gettext.NullTranslations()
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Texts:
    """The shopper-facing text of one language: `_("Order {number} is late.", number=...)`."""

    def __init__(self, language: str | None):
        self.language = supported(language) or SOURCE_LANGUAGE
        self.locale = _locale(self.language)
        self._catalog = translations(self.language)

    def __call__(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        if not values:
            return text
        for name, value in values.items():
            # A value that ends a sentence with its own dot ("sam. 28 nov.") takes its place.
            if str(value).endswith("."):
                field = "{" + name + "}"
                text = text.replace(field + ".", field)
        return text.format(**values)

    def day(self, value: date | datetime) -> str:
        """A short date with its weekday, in the locale's order: "Thu, Nov 28", "28 Kas Per"."""
        return format_skeleton("MMMEd", value, locale=self.locale)

    def money(self, amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)

    def join(self, items: list[str]) -> str:
        """ "a, b and c" in the locale's words."""
        return format_list(items, locale=self.locale)

    def hours(self, hours: SupportHours) -> str:
        """Support hours in the locale's words: "Mon–Fri 9:00 AM–5:00 PM (New York)"."""
        names = get_day_names("abbreviated", locale=self.locale)
        days = sorted(hours.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            day_text = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            day_text = format_list([names[d] for d in days], locale=self.locale)
        opening = format_time(hours.open, "short", locale=self.locale)
        closing = format_time(hours.close, "short", locale=self.locale)
        span = f"{opening}–{closing}"
        place = get_timezone_location(hours.timezone, locale=self.locale, return_city=True)
        return f"{day_text} {span} ({place})"

    @property
    def direction(self) -> str:
        """From CLDR, so a new right-to-left language needs no code."""
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"


@lru_cache(maxsize=32)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


@lru_cache(maxsize=32)
def texts(language: str | None) -> Texts:
    return Texts(language)


def language_name(language: str, in_language: str | None = None) -> str:
    """The language's name in `in_language` (default: in itself, capitalised: "Türkçe");
    a code CLDR does not know stays as it is."""
    if in_language and in_language != language:
        return _locale(in_language).languages.get(language) or language
    try:
        name = Locale.parse(language).get_display_name(language) or language
    except (UnknownLocaleError, ValueError):
        return language
    return name[:1].upper() + name[1:]
