"""The shopper's language through the running stack (gateway, Rasa with its NLG endpoint, the
action server): every reply in the conversation's language, an order verified in Turkish and
Korean, a switch mid-conversation, an explicit choice, and the console showing the language."""

from __future__ import annotations

import httpx
import pytest

from bot import conversations
from bot.language import identify
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation
from tests.conftest import Agent, Shopper, new_agent, seed_order, ticket_of

pytestmark = pytest.mark.e2e


class Speaker(Shopper):
    """A shopper whose every bot reply is kept, to check its language."""

    def __init__(self, stack, hint: str | None = None) -> None:
        self.http = httpx.Client(base_url=stack.gateway_url, timeout=60)
        body = {"channel": "web", **({"language": hint} if hint else {})}
        started = self.http.post("/api/conversations", json=body)
        assert started.status_code == 201
        self.key = started.json()["conversation_id"]
        self.id = conversations.stored_id(self.key)
        self.last = 0
        self.replies: list[str] = []

    def says(self, text: str, payload: str | None = None) -> str:
        body = {"text": text, **({"payload": payload} if payload else {})}
        response = self.http.post(f"/api/conversations/{self.key}/messages", json=body)
        response.raise_for_status()
        self.mode = response.json()["mode"]
        self.language = response.json()["language"]
        said = [m["text"] for m in response.json()["messages"]]
        self.replies += said
        return " ".join(said)

    def replies_in(self, language: str) -> bool:
        guesses = [identify(text) for text in self.replies]
        return all(g is None or g.language == language for g in guesses) and any(guesses)


def conversation_language(stack, cid: str) -> tuple[str | None, str | None]:
    with session_scope(get_engine(stack.db_url)) as session:
        conversation = session.get(Conversation, cid)
        return conversation.language, conversation.language_source


def test_an_order_question_in_turkish_is_verified_and_answered_in_turkish(stack):
    order = seed_order("10423")
    shopper = Speaker(stack)
    asked = shopper.says("Merhaba, 10423 numaralı siparişim ne durumda acaba?")
    assert "#10423" in asked and "e-posta" in asked.lower()  # the proof, asked in Turkish
    answer = shopper.says(f"E-posta adresim {order['email']}")
    assert "#10423" in answer and "numaralı sipariş" in answer
    assert shopper.replies_in("tr")
    assert conversation_language(stack, shopper.id) == ("tr", "text")


def test_a_korean_order_number_with_its_particle_and_the_email_given_at_once(stack):
    order = seed_order("10423")
    shopper = Speaker(stack)
    # The number glued to its particle is read, and the email in the same message is taken:
    # nothing is asked again.
    answer = shopper.says(
        f"제 주문 어디쯤 왔나요? 주문번호 #10423입니다. 이메일은 {order['email']}"
    )
    assert "#10423" in answer and "@" not in answer
    assert shopper.replies_in("ko")


def test_a_shopper_who_switches_language_is_answered_in_the_new_one(stack):
    shopper = Speaker(stack)
    shopper.says("Hola, ¿cuánto cuesta el envío a mi casa?")
    assert shopper.language == "es"
    shopper.replies.clear()
    shopper.says("Sorry, I'd rather continue in English: how much is shipping?")
    assert shopper.language == "en" and shopper.replies_in("en")


def test_asking_for_a_language_is_answered_in_it_and_holds(stack):
    shopper = Speaker(stack, hint="de-DE")
    confirmed = shopper.says("auf Deutsch bitte")
    assert shopper.language == "de" and identify(confirmed).language == "de"
    shopper.replies.clear()
    shopper.says("where is my order?")  # English words, but the shopper chose German
    assert shopper.replies_in("de")
    assert conversation_language(stack, shopper.id) == ("de", "choice")


def test_the_widget_menu_choice_and_a_page_hint(stack):
    shopper = Speaker(stack, hint="fr-CA")
    assert conversation_language(stack, shopper.id) == ("fr", "hint")
    url = f"/api/conversations/{shopper.key}/language"
    chosen = shopper.http.post(url, json={"language": "it"})
    assert (
        chosen.status_code == 200
        and identify(chosen.json()["messages"][0]["text"]).language == "it"
    )
    refused = shopper.http.post(
        f"/api/conversations/{shopper.key}/language", json={"language": "xx"}
    )
    assert refused.status_code == 400
    assert conversation_language(stack, shopper.id) == ("it", "choice")


def test_the_handoff_notice_is_in_the_shoppers_language_and_the_console_shows_it(stack):
    shopper = Speaker(stack)
    shopper.says("Здравствуйте, соедините меня, пожалуйста, с живым сотрудником")
    assert shopper.mode == "human" and "H-" in shopper.replies[-1]
    assert shopper.replies_in("ru")
    engine = get_engine(stack.db_url)
    ticket = ticket_of(engine, shopper.id)
    agent: Agent = new_agent(stack)
    assert agent.ticket(ticket.id)["language"] == "ru"
    html = {"accept": "text/html"}
    page = agent.http.get(f"/console/tickets/{ticket.id}", headers=html).text
    assert "Русский (ru)" in page and 'dir="auto"' in page
    assert 'title="Русский (ru)"' in agent.http.get("/console", headers=html).text


def test_an_faq_answer_comes_in_the_shoppers_language(stack):
    shopper = Speaker(stack)
    shopper.says("Quanto costa la spedizione standard? Ci sono spese di spedizione?")
    assert shopper.replies_in("it")


def test_a_saved_reply_is_offered_in_the_tickets_language(stack):
    shopper = Speaker(stack)
    shopper.says("Merhaba, bir yetkiliyle görüşmek istiyorum lütfen")
    assert shopper.mode == "human"
    ticket = ticket_of(get_engine(stack.db_url), shopper.id)
    agent = new_agent(stack)
    delayed = "Your parcel is delayed by the carrier; it should arrive within two days."
    gecikme = "Kargonuz kargo firması nedeniyle gecikti; iki gün içinde ulaşması bekleniyor."
    for language, text in (("en", delayed), ("tr", gecikme)):
        saved = agent.post("/console/replies", name="carrier delay", language=language, text=text)
        assert saved.status_code == 201
    agent.post("/console/replies", name="thanks for waiting", language="en", text="Thanks!")
    assert agent.post("/console/replies", name="x", language="xx", text="y").status_code == 400
    offered = {v["name"]: v for v in agent.ticket(ticket.id)["saved_replies"]}
    assert (
        offered["carrier delay"]["language"] == "tr" and offered["carrier delay"]["text"] == gecikme
    )
    assert offered["thanks for waiting"]["language"] == "en"  # no Turkish version: the shop's
    page = agent.http.get(f"/console/tickets/{ticket.id}", headers={"accept": "text/html"}).text
    assert "carrier delay (tr)" in page
