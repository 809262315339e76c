"""The shopper's language, measured on the multilingual development set nobody on the team
wrote (../shared/eval/multilingual: intents, FAQ questions and two-turn order dialogues in ten
languages). Evaluation only: none of it is training data.

- intent accuracy per language, from Rasa's parse on a running server (an off-topic row is
  right when no shop intent is given: out_of_scope or the fallback);
- FAQ hit@1, the share answered directly and wrong answers per language, from the FAQ search
  as action_faq_answer runs it (an off-topic question answered is a wrong answer);
- through the running gateway: every intent and FAQ row as the first message of a new
  conversation, and every dialogue; the language of each bot reply, identified automatically
  (bot.language.identify, which leaves short ones undecided), and whether each dialogue's
  order was verified and answered;
- NLU time per message (p50, sequential, one client).

Run by `make bench`; writes benchmarks/results/multilingual.json.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

from benchmarks.common import fresh_work_dir, print_table, trained_model, write_results
from bot.faq import service as faq
from bot.faq.decide import calibration_for, decide, faq_model
from bot.faq.entries import faq_path
from bot.faq.index import get_index
from bot.language import identify
from bot.settings import PROJECT_ROOT
from bot.stack import Stack, free_port

EVAL = Path(os.environ.get("EVAL_DIR") or PROJECT_ROOT.parent / "shared" / "eval") / "multilingual"
NO_SHOP_INTENT = {"out_of_scope", "nlu_fallback"}
DIALOGUE_ORDER = "10423"
NO_RATE_LIMITS = {
    "RATE_LIMIT_MESSAGES_PER_MINUTE": "100000",
    "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "100000",
}


def rows(name: str) -> list[dict[str, str]]:
    with (EVAL / name).open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def by_language(items: list[tuple[str, bool]]) -> dict[str, float]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for lang, good in items:
        counts[lang][0] += int(good)
        counts[lang][1] += 1
    return {lang: round(good / total, 3) for lang, (good, total) in sorted(counts.items())}


def intents(client: httpx.Client, stack: Stack) -> tuple[dict, list[float], list[dict]]:
    results, times, errors = [], [], []
    url, key = f"{stack.rasa_url}/webhooks/rest/parse", stack.rasa_headers()
    client.post(url, json={"text": "warm up"}, headers=key).raise_for_status()
    for row in rows("intents.csv"):
        started = time.perf_counter()
        parse = client.post(url, json={"text": row["text"]}, headers=key).json()
        times.append((time.perf_counter() - started) * 1000)
        predicted = (parse.get("intent") or {}).get("name") or "nlu_fallback"
        expected = row["intent"]
        good = predicted in NO_SHOP_INTENT if expected == "out_of_scope" else predicted == expected
        results.append((row["lang"], good))
        if not good:
            errors.append(
                {
                    "lang": row["lang"],
                    "text": row["text"],
                    "expected": expected,
                    "predicted": predicted,
                }
            )
    return by_language(results), times, errors


def faq_questions() -> tuple[dict, list[dict]]:
    index = get_index(faq_path(), faq_model())
    per: dict[str, Counter] = defaultdict(Counter)
    errors = []
    for row in rows("faq.csv"):
        lang, expected = row["lang"], row["faq_id"] or None
        matches = index.search(row["text"], 5)
        decision = decide(matches, calibration_for(faq_model(), row["text"]))
        top = matches[0].entry.id if matches else None
        counts = per[lang]
        counts["questions"] += 1
        if expected is None:
            counts["off_topic"] += 1
            counts["wrong"] += decision.kind == "answer"
            continue
        counts["in_scope"] += 1
        counts["hit1"] += top == expected
        answered = decision.kind == "answer"
        counts["direct"] += answered and decision.best.entry.id == expected
        counts["wrong"] += answered and decision.best.entry.id != expected
        if top != expected or not answered:
            errors.append(
                {
                    "lang": lang,
                    "text": row["text"],
                    "expected": expected,
                    "top": top,
                    "decision": decision.kind,
                }
            )
    table = {
        lang: {
            "hit_at_1": round(c["hit1"] / c["in_scope"], 3),
            "answered_directly": round(c["direct"] / c["in_scope"], 3),
            "wrong_answers": round(c["wrong"] / c["questions"], 3),
            "questions": c["questions"],
        }
        for lang, c in sorted(per.items())
    }
    return table, errors


def bot_replies(client: httpx.Client, gateway: str, turns: list[str]) -> list[list[str]]:
    """A new conversation on the gateway's HTTP channel; the bot's replies to each turn."""
    cid = client.post(f"{gateway}/api/conversations").json()["conversation_id"]
    said = []
    for text in turns:
        response = client.post(f"{gateway}/api/conversations/{cid}/messages", json={"text": text})
        response.raise_for_status()
        said.append([m["text"] for m in response.json()["messages"] if m["sender"] == "bot"])
    return said


def reply_languages(lang: str, replies: list[str], tally: Counter, wrong: list[dict]) -> None:
    for text in replies:
        found = identify(text)
        if found is None:
            tally["undecided"] += 1
        elif found.language == lang:
            tally["right"] += 1
        else:
            tally["wrong"] += 1
            wrong.append({"lang": lang, "identified": found.language, "reply": text})


def through_gateway(client: httpx.Client, gateway: str) -> dict:
    tally: dict[str, Counter] = defaultdict(Counter)
    wrong: list[dict] = []
    for row in rows("intents.csv") + rows("faq.csv"):
        (replies,) = bot_replies(client, gateway, [row["text"]])
        reply_languages(row["lang"], replies, tally[row["lang"]], wrong)
    dialogues, failures = [], []
    for row in rows("dialogues.csv"):
        first, second = bot_replies(client, gateway, [row["turn1"], row["turn2"]])
        reply_languages(row["lang"], first + second, tally[row["lang"]], wrong)
        answer = " ".join(second)
        # The proof was taken and the order answered: the number comes back, and neither the
        # proof question nor a mismatch is in the reply (both are said in the same words
        # whatever happened, so the order's own text is what shows it was answered).
        asked_again = any(DIALOGUE_ORDER in text and "@" in text for text in second)
        verified = DIALOGUE_ORDER in answer and not asked_again and len(answer) > 40
        dialogues.append((row["lang"], verified))
        if not verified:
            failures.append({**row, "bot_turn1": first, "bot_turn2": second})
    in_language = {
        lang: {
            "replies": sum(c.values()),
            "in_language": round(c["right"] / max(1, c["right"] + c["wrong"]), 3),
            "undecided": c["undecided"],
        }
        for lang, c in sorted(tally.items())
    }
    return {
        "replies_in_language": in_language,
        "dialogues_verified_and_answered": by_language(dialogues),
        "wrong_language_replies": wrong[:60],
        "dialogue_failures": failures,
    }


def run(model: Path, work: Path) -> dict:
    faq.warm_up()
    env = {"STORE_DATABASE_URL": f"sqlite:///{work / 'store.db'}", **NO_RATE_LIMITS}
    tracker = f"sqlite:///{work / 'tracker.db'}"
    with (
        Stack(model, free_port(), free_port(), free_port(), work, env, tracker) as stack,
        httpx.Client(timeout=120) as client,
    ):
        accuracy, times, intent_errors = intents(client, stack)
        faq_table, faq_errors = faq_questions()
        gateway = through_gateway(client, stack.gateway_url)
    return {
        "intent_accuracy": accuracy,
        "faq": faq_table,
        **{k: gateway[k] for k in ("replies_in_language", "dialogues_verified_and_answered")},
        "nlu_ms": {
            "p50": round(statistics.median(times), 1),
            "p95": round(statistics.quantiles(times, n=20)[18], 1),
            "messages": len(times),
        },
        "targets": "every language: intent accuracy >= 0.92; FAQ hit@1 >= 0.90, >= 0.60 "
        "answered directly, <= 0.02 wrong; replies in language >= 0.98; every dialogue "
        "verified and answered; NLU p50 <= 30 ms",
        "errors": {
            "intents": intent_errors,
            "faq": faq_errors,
            "wrong_language_replies": gateway["wrong_language_replies"],
            "dialogues": gateway["dialogue_failures"],
        },
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    if not (EVAL / "intents.csv").exists():
        print(f"no multilingual evaluation data in {EVAL} (set EVAL_DIR)", file=sys.stderr)
        return 2
    report = run(model, fresh_work_dir("bench-multilingual"))
    written = write_results("multilingual", report, model)
    languages = sorted(report["intent_accuracy"])
    table = []
    for lang in languages:
        f = report["faq"].get(lang, {})
        table.append(
            (
                lang,
                f"intent {report['intent_accuracy'][lang]:.2f}"
                f" | FAQ hit@1 {f.get('hit_at_1', 0):.2f}"
                f" direct {f.get('answered_directly', 0):.2f} wrong {f.get('wrong_answers', 0):.2f}"
                f" | in language {report['replies_in_language'][lang]['in_language']:.2f}"
                f" | dialogues {report['dialogues_verified_and_answered'].get(lang, 0):.2f}",
            )
        )
    table.append(("NLU p50 / p95", f"{report['nlu_ms']['p50']} / {report['nlu_ms']['p95']} ms"))
    print("Multilingual development set")
    print_table(table)
    print(f"written {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
