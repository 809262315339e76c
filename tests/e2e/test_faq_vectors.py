"""On the running stack: a FAQ answer does not encode the message twice (issue #19). Rasa's
featurizer sends the message's vectors to the action server in the parse data; the answers are
the ones encoding there gives; neither the tracker store nor the channel's `/parse` keeps or
returns the vectors."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bot.faq.encoders import PARSE_KEY

QUESTIONS = {
    "do you ship to canada?": "international-shipping",
    "Kanada'ya gönderim yapıyor musunuz?": "international-shipping",
    "İade politikanız nedir?": "return-policy",
    "אתם שולחים לקנדה?": "international-shipping",
    "מה מדיניות ההחזרות שלכם?": "return-policy",
}
ROUNDS = 3
# Rasa encodes every long number as the same one ("10000"): the vectors it sends are not for
# this text, so the action server encodes it itself, as it did for every message before.
NOT_THE_SAME_TEXT = " (order 10423)"


def outcomes(replies: list[dict]) -> list[dict]:
    """What the turn did, from the hidden outcome messages."""
    return [(m.get("custom") or {}).get("outcome") for m in replies if m.get("custom")]


def answered(replies: list[dict]) -> list[str]:
    """The FAQ entries a turn answered with."""
    return [o.get("faq_id") for o in outcomes(replies) if o and o.get("outcome") == "faq_answer"]


def cpu_seconds(pid: int) -> float:
    """Time on a CPU of a process's threads and of every process under it (Sanic serves from a
    child), from the scheduler's nanosecond counts."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # a thread or process that just ended
    return total / 1e9


def through_rasa(stack, client: httpx.Client, question: str, sender: str) -> list[dict]:
    reply = client.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": question},
        headers=stack.rasa_headers(),
    )
    reply.raise_for_status()
    return reply.json()


def test_faq_answers_come_from_rasas_vectors(stack):
    """The answers are those encoding in the action server gives (tests/unit/
    test_faq_vectors.py compares the scores), and the action server's work for one is a
    fraction of what it spends when it has to encode the question (e5 is most of that)."""
    actions = stack.processes["actions"].pid
    spent = {"vectors": 0.0, "encoded": 0.0}
    with httpx.Client(timeout=60) as client:
        for question in QUESTIONS:  # warm
            through_rasa(stack, client, question + NOT_THE_SAME_TEXT, uuid.uuid4().hex)
        for _ in range(ROUNDS):
            for question, entry in QUESTIONS.items():
                started = cpu_seconds(actions)
                replies = through_rasa(stack, client, question, uuid.uuid4().hex)
                middle = cpu_seconds(actions)
                assert answered(replies) == [entry]
                other = through_rasa(stack, client, question + NOT_THE_SAME_TEXT, uuid.uuid4().hex)
                spent["encoded"] += cpu_seconds(actions) - middle
                spent["vectors"] += middle - started
                assert outcomes(other), "the FAQ action did not run"
    assert spent["vectors"] < 0.7 * spent["encoded"], spent


def test_the_tracker_store_and_parse_keep_no_vectors(stack):
    sender = f"stored-{uuid.uuid4().hex}"
    with httpx.Client(timeout=60) as client:
        for question, entry in QUESTIONS.items():
            assert answered(through_rasa(stack, client, question, sender)) == [entry]
        parse = client.post(
            f"{stack.rasa_url}/webhooks/rest/parse",
            json={"text": "do you ship to canada?"},
            headers=stack.rasa_headers(),
        )
    assert parse.json()["intent"]["name"] == "faq"
    assert PARSE_KEY not in parse.json() and len(parse.content) < 3000
    engine = create_engine(stack.tracker_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT type_name, data FROM events WHERE sender_id = :sender"),
            {"sender": sender},
        ).all()
    engine.dispose()
    user_events = [json.loads(data) for kind, data in rows if kind == "user"]
    assert len(user_events) == len(QUESTIONS)
    for event in user_events:
        assert event["parse_data"]["intent"]["name"] == "faq"
        assert PARSE_KEY not in event["parse_data"]
    # As small as before: the vectors alone would be 4.8 kB of base64 each.
    assert all(PARSE_KEY not in data and len(data) < 3000 for _, data in rows)
