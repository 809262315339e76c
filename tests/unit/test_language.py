"""The conversation's language: explicit choices, the text, hints and the shop's default; and
order numbers, emails and postcodes in any script."""

from __future__ import annotations

import pytest

from bot.channels.web import widget_text
from bot.language import CHOICE, DEFAULT, HINT, TEXT, asked_for, decide, identify
from bot.order_numbers import find_order_numbers, first_order_number
from bot.verify import parse_order_number, parse_proof


def test_a_sentence_decides_the_language():
    assert decide("siparişim nerede kaldı acaba", None, None, None, "en") == (
        decide("siparişim nerede kaldı acaba", None, None, None, "en")
    )
    decision = decide("Wo ist meine Bestellung, bitte?", None, None, None, "en")
    assert (decision.language, decision.source) == ("de", TEXT)


@pytest.mark.parametrize("text", ["ok", "10423", "zoe.mueller@example.com", "👍", "#10423"])
def test_messages_that_say_nothing_change_nothing(text):
    decision = decide(text, "tr", TEXT, None, "en")
    assert (decision.language, decision.source) == ("tr", TEXT)
    assert identify(text) is None or identify(text).short


def test_a_script_only_one_language_uses_decides_even_one_word():
    assert identify("네").language == "ko"
    assert identify("שלום").language == "he"
    assert decide("مرحبا", "en", TEXT, None, "en").language == "ar"


def test_a_short_latin_message_does_not_overrule_the_conversation():
    """ "thanks" in a Turkish conversation is still a Turkish conversation."""
    assert decide("thanks", "tr", TEXT, None, "en").language == "tr"
    # ...but it does decide a conversation nothing else has decided yet
    assert decide("Merci beaucoup", "en", DEFAULT, None, "en").language == "fr"


def test_a_shopper_who_switches_language_is_answered_in_the_new_one():
    decision = decide("Actually, can you tell me where my parcel is?", "tr", TEXT, None, "en")
    assert (decision.language, decision.source) == ("en", TEXT)


def test_the_hint_comes_before_the_default_and_a_short_message():
    assert decide("ok", None, None, "pt-BR", "en") == decide("ok", None, None, "pt", "en")
    assert decide("ok", None, None, "pt-BR", "en").source == HINT
    assert decide("ok", None, None, "xx-YY", "de").language == "de"  # not ours: the default
    assert decide("ok", None, None, None, "de").source == DEFAULT


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("English please", "en"),
        ("Türkçe konuşalım", "tr"),
        ("auf Deutsch bitte", "de"),
        ("¿hablas español?", "es"),
        ("можно по-русски?", "ru"),
        ("한국어로 해주세요", "ko"),
        ("אפשר בעברית?", "he"),
    ],
)
def test_asking_for_a_language_is_a_choice(text, language):
    assert asked_for(text) == language
    decision = decide(text, "fr", TEXT, None, "en")
    assert (decision.language, decision.source, decision.asked_for) == (language, CHOICE, True)


@pytest.mark.parametrize(
    "text",
    [
        "do you ship to germany",
        "the instructions that came with the jacket were only in German, not English",
        "Liefert ihr auch nach Deutschland?",
    ],
)
def test_naming_a_language_or_country_in_passing_is_not_a_choice(text):
    assert asked_for(text) is None


def test_a_choice_holds_until_the_shopper_makes_another():
    assert decide("siparişim nerede kaldı acaba", "en", CHOICE, None, "en").language == "en"
    assert decide("", "en", CHOICE, None, "en", chosen="tr").language == "tr"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("제 주문 어디쯤 왔나요? 주문번호 #10423입니다.", "10423"),
        ("10423'ün kargosu nerede", "10423"),
        ("Заказ №10423 ещё не пришёл", "10423"),
        ("وين طلبي رقم ١٠٤٢٣", "10423"),
        ("איפה ההזמנה ל-10423?", "10423"),
        ("Bestellnr. 10423", "10423"),
        ("10423번 주문", "10423"),
    ],
)
def test_order_numbers_are_found_whatever_surrounds_them(text, number):
    assert first_order_number(text) == number
    assert parse_order_number(text) == number


@pytest.mark.parametrize(
    "text",
    ["zoe10423@example.com", "CEP 04538-132", "total 12345.50", "+49 170 1234567"],
)
def test_numbers_that_are_not_orders_are_left_alone(text):
    assert find_order_numbers(text) == []


@pytest.mark.parametrize(
    ("text", "proof"),
    [
        ("E-posta adresim zoe.mueller@example.com", ("email", "zoe.mueller@example.com")),
        ("PLZ 10115", ("postcode", "10115")),
        ("posta kodum 34394", ("postcode", "34394")),
        ("الرمز البريدي ١٢٢٧١", ("postcode", "12271")),
        ("SW1A 2AA", ("postcode", "SW1A2AA")),
        ("my postcode is 97205", ("postcode", "97205")),
    ],
)
def test_emails_and_postcodes_in_any_language(text, proof):
    assert parse_proof(text) == proof


def test_the_widget_speaks_the_page_language_and_turns_around_for_hebrew():
    hebrew = widget_text("he-IL")
    assert hebrew["language"] == "he" and hebrew["direction"] == "rtl"
    assert hebrew["text"]["send"] != widget_text("en")["text"]["send"]
    assert {"code": "ko", "name": "한국어"} in hebrew["languages"]
    assert widget_text("xx")["language"] == "en"
