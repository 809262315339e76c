"""What the assistant would do with a message, without touching any conversation: Rasa's
intent ranking and entities, the FAQ's top matches, and the decision the dialogue rules take
on them. Used by `POST /api/explain`, the console's "try a message" box and the benchmarks.

The decision is for a message out of context (no form running, nothing pending)."""

from __future__ import annotations

from typing import Any

from bot.faq import service as faq
from bot.gateway.rasa_client import RasaClient
from bot.intents import FALLBACK, FAQ_ROUTED


def top_intent(parse: dict[str, Any]) -> tuple[str, float]:
    """The classifier's own best intent and confidence, before the fallback threshold."""
    for ranked in parse.get("intent_ranking") or []:
        if ranked.get("name") != FALLBACK:
            return ranked["name"], float(ranked.get("confidence") or 0.0)
    intent = parse.get("intent") or {}
    return intent.get("name") or FALLBACK, float(intent.get("confidence") or 0.0)


def route(intent: str, faq_kind: str) -> str:
    """The dialogue's decision for an intent (and the FAQ decision, if it goes there)."""
    if intent in FAQ_ROUTED or intent == "faq_choice":
        return {"answer": "faq_answer", "suggest": "faq_suggestions"}.get(faq_kind, "fallback")
    if intent == "human_handoff":
        return "handoff"
    if intent == "complaint":
        return "offer_handoff"
    return "canned_intent"


def faq_part(text: str, intent: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The FAQ's top matches and its decision (as `action_faq_answer` takes it)."""
    matches, decision = faq.search_with_matches(text)
    decision = faq.for_intent(decision, matches, intent, text)
    top = [
        {"id": m.entry.id, "question": m.entry.question, "score": round(m.score, 4)}
        for m in matches
    ]
    return top, decision.kind


def explanation(parse: dict[str, Any], faq_top: list[dict[str, Any]], faq_kind: str) -> dict:
    intent = (parse.get("intent") or {}).get("name") or FALLBACK
    return {
        "text": parse.get("text"),
        "intent": {
            "name": intent,
            "confidence": round(float((parse.get("intent") or {}).get("confidence") or 0), 4),
        },
        "intent_ranking": [
            {"name": r["name"], "confidence": round(float(r.get("confidence") or 0), 4)}
            for r in (parse.get("intent_ranking") or [])[:5]
        ],
        "entities": [
            {"entity": e.get("entity"), "value": e.get("value")}
            for e in parse.get("entities") or []
        ],
        "faq": {"top": faq_top, "decision": faq_kind},
        "decision": route(intent, faq_kind),
    }


async def explain(text: str, rasa: RasaClient) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    parse = await rasa.parse(text)
    intent = (parse.get("intent") or {}).get("name")
    faq_top, faq_kind = await run_in_threadpool(faq_part, text, intent)
    return explanation(parse, faq_top, faq_kind)
