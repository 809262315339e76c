"""Accuracy on data nobody on the team wrote: Bitext customer-service utterances (mapped to
our intents) and CLINC150 (everyday requests, nearly all out of scope for a shop).

Every query goes through `bot.explain` (Rasa's parse on a running server, the FAQ search,
the dialogue's decision): the code path of `POST /api/explain`. Run by `make bench`;
writes benchmarks/results/external.json and PNG plots. The data stays in ../shared/eval.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import RESULTS, fresh_work_dir, print_table, trained_model, write_results
from bot.explain import FALLBACK, FAQ_ROUTED, explanation, faq_part, route, top_intent
from bot.faq.service import kind_for_intent
from bot.gateway.rasa_client import RasaClient
from bot.settings import PROJECT_ROOT
from bot.stack import Stack, free_port

EVAL = Path(os.environ.get("EVAL_DIR") or PROJECT_ROOT.parent / "shared" / "eval")

# Bitext label -> our intent. Everything not listed is a store question for the FAQ.
BITEXT_TO_OURS = {
    "track_order": "order_status",
    "delivery_period": "shipping_eta",
    "get_refund": "refund",
    "track_refund": "refund",
    "cancel_order": "cancel_order",
    "change_shipping_address": "change_shipping_address",
    "contact_human_agent": "human_handoff",
    "contact_customer_service": "human_handoff",
    "complaint": "complaint",
}
# Bitext intents we answer from the FAQ (none is out of scope for an online shop), with the
# FAQ entries (data/faq/faq.yml) that answer them.
BITEXT_FAQ = {
    "check_cancellation_fee": {"cancellation-fee"},
    "check_invoice": {"invoices"},
    "get_invoice": {"invoices"},
    "check_payment_methods": {"payment-methods"},
    "check_refund_policy": {"refund-policy", "refund-timing", "return-policy"},
    "change_order": {"order-edit"},
    "create_account": {"account-create"},
    "delete_account": {"delete-account"},
    "delivery_options": {
        "delivery-options",
        "shipping-times",
        "express-shipping",
        "international-shipping",
        "shipping-cost",
    },
    "edit_account": {"edit-account", "change-email"},
    "newsletter_subscription": {"newsletter-subscribe", "newsletter-unsubscribe"},
    "payment_issue": {"payment-declined", "charged-twice"},
    "place_order": {"how-to-order"},
    "recover_password": {"password-reset"},
    "registration_problems": {"signup-problems"},
    "review": {"reviews"},
    "set_up_shipping_address": {"saved-addresses"},
    "switch_account": {"account-types"},
}
# CLINC150 intents that are ours; `order` (placing household orders) is left out of both sets.
CLINC_TO_OURS = {
    "greeting": "greet",
    "goodbye": "goodbye",
    "thank_you": "thank",
    "are_you_a_bot": "bot_challenge",
    "yes": "affirm",
    "no": "deny",
    "order_status": "order_status",
}
CLINC_EXCLUDED = {"order"}
ORDER_STATUS_ALSO = {"order_status", "shipping_eta"}
ANSWERED = {"canned_intent", "handoff", "offer_handoff", "faq_answer"}
CANNED = {"canned_intent", "handoff", "offer_handoff"}
FALLBACK_THRESHOLD, AMBIGUITY_THRESHOLD = 0.5, 0.1  # config.yml's FallbackClassifier


def bitext() -> list[tuple[str, str]]:
    with (EVAL / "bitext" / "dev.csv").open(encoding="utf-8") as handle:
        return [(row["utterance"], row["intent"]) for row in csv.DictReader(handle)]


def clinc() -> tuple[list[tuple[str, str]], list[str]]:
    data = json.loads((EVAL / "clinc150" / "dev.json").read_text(encoding="utf-8"))
    return [tuple(pair) for pair in data["val"]], [text for text, _ in data["oos_val"]]


async def explain_all(
    texts: list[str], rasa_url: str, secret: str, concurrency: int = 4
) -> list[dict]:
    client = RasaClient(rasa_url, secret=secret)
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(text: str) -> dict:
        nonlocal done
        async with gate:
            parse = await client.parse(text)
        top, kind = faq_part(text)  # as for a message the NLU did not call a store question
        done += 1
        if done % 500 == 0:
            print(f"  {done}/{len(texts)}", flush=True)
        return {
            "parse": parse,
            "faq_top": top,
            "faq_strict": kind,
            "faq_kind": faq_kind_for(parse, top, kind),
        }

    try:
        return await asyncio.gather(*(one(t) for t in texts))
    finally:
        await client.aclose()


def faq_kind_for(parse: dict, top: list[dict], strict: str, intent: str | None = None) -> str:
    """The FAQ decision action_faq_answer takes, given the intent it was reached with."""
    intent = intent or (parse.get("intent") or {}).get("name")
    return kind_for_intent(strict, bool(top), intent)


def decision_at(item: dict, threshold: float, ambiguity: float = AMBIGUITY_THRESHOLD) -> str:
    """The decision if the fallback threshold were `threshold` (FallbackClassifier's rule)."""
    intent, confidence = top_intent(item["parse"])
    ranking = [r for r in item["parse"].get("intent_ranking") or [] if r["name"] != FALLBACK]
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    if confidence < threshold or confidence - second < ambiguity:
        intent = FALLBACK
    return route(intent, faq_kind_for(item["parse"], item["faq_top"], item["faq_strict"], intent))


def predicted_intent(item: dict) -> str:
    intent = (item["parse"].get("intent") or {}).get("name") or FALLBACK
    return "(FAQ route)" if intent in FAQ_ROUTED else intent


def f1_table(pairs: list[tuple[str, str]], labels: list[str]) -> dict:
    per = {}
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": tp + fn,
        }
    macro = sum(v["f1"] for v in per.values()) / len(per)
    accuracy = sum(1 for t, p in pairs if t == p) / len(pairs)
    return {"accuracy": round(accuracy, 3), "macro_f1": round(macro, 3), "per_intent": per}


def share(items: list, test) -> float:
    return round(sum(1 for item in items if test(item)) / len(items), 3) if items else 0.0


def faq_correctness(labels: list[str], results: list[dict]) -> dict:
    """For the Bitext store questions: did the FAQ give (or offer) an entry that answers it?"""
    rows = [
        (BITEXT_FAQ[label], r)
        for label, r in zip(labels, results, strict=True)
        if label in BITEXT_FAQ
    ]
    decided = [(good, explanation(r["parse"], r["faq_top"], r["faq_kind"])) for good, r in rows]
    return {
        "retrieval_hit_at_1": share(rows, lambda x: x[1]["faq_top"][0]["id"] in x[0]),
        "retrieval_hit_at_3": share(
            rows, lambda x: bool({m["id"] for m in x[1]["faq_top"][:3]} & x[0])
        ),
        "answered_right_entry": share(
            decided,
            lambda x: x[1]["decision"] == "faq_answer" and x[1]["faq"]["top"][0]["id"] in x[0],
        ),
        "answered_wrong_entry": share(
            decided,
            lambda x: x[1]["decision"] == "faq_answer" and x[1]["faq"]["top"][0]["id"] not in x[0],
        ),
        "suggested_right_entry": share(
            decided,
            lambda x: (
                x[1]["decision"] == "faq_suggestions"
                and bool({m["id"] for m in x[1]["faq"]["top"][:3]} & x[0])
            ),
        ),
    }


def point(threshold: float, ood: list[dict], in_scope: list[dict]) -> dict:
    """Both sides of the trade-off at one fallback threshold."""
    ood_decisions = [decision_at(r, threshold) for r in ood]
    in_scope_decisions = [decision_at(r, threshold) for r in in_scope]
    return {
        "threshold": threshold,
        "ood_not_answered": share(ood_decisions, lambda d: d not in ANSWERED),
        "ood_not_canned": share(ood_decisions, lambda d: d not in CANNED),
        "in_scope_answered": share(in_scope_decisions, lambda d: d in ANSWERED),
        "in_scope_handled": share(in_scope_decisions, lambda d: d != "fallback"),
    }


def evaluate(results: dict[str, list[dict]], gold: dict[str, list[str]]) -> dict:
    mapped = [
        (g, predicted_intent(r))
        for g, r in zip(gold["bitext"], results["bitext"], strict=True)
        if g
    ]
    labels = sorted(set(BITEXT_TO_OURS.values()))
    nlu = f1_table(mapped, labels)
    faq_type = [r for g, r in zip(gold["bitext"], results["bitext"], strict=True) if not g]
    bitext_all = results["bitext"]
    ood = results["clinc_ood"]
    decided = lambda r: explanation(r["parse"], r["faq_top"], r["faq_kind"])["decision"]  # noqa: E731
    # CLINC's order_status includes "when will my order arrive", which our more specific
    # shipping_eta answers (the same verified order lookup): both count as right.
    small_talk = [
        (g, g if g == "order_status" and p in ORDER_STATUS_ALSO else p)
        for g, p in (
            (g, predicted_intent(r))
            for g, r in zip(gold["clinc_ours"], results["clinc_ours"], strict=True)
        )
    ]
    chit_chat = [(g, p) for g, p in small_talk if g != "order_status"]
    curve = [point(t / 100, ood, bitext_all) for t in range(0, 101, 2)]
    return {
        "bitext_mapped": {
            **nlu,
            "utterances": len(mapped),
            "confusion": Counter(f"{t} -> {p}" for t, p in mapped if t != p).most_common(40),
        },
        "bitext_faq_questions": {
            **faq_correctness(gold["bitext_raw"], results["bitext"]),
            "utterances": len(faq_type),
            "answered_from_faq": share(faq_type, lambda r: decided(r) == "faq_answer"),
            "suggestions": share(faq_type, lambda r: decided(r) == "faq_suggestions"),
            "fallback": share(faq_type, lambda r: decided(r) == "fallback"),
            "given_a_canned_intent": share(faq_type, lambda r: decided(r) in CANNED),
        },
        "in_scope_answered": share(bitext_all, lambda r: decided(r) in ANSWERED),
        "in_scope_handled": share(bitext_all, lambda r: decided(r) != "fallback"),
        "clinc_ood": {
            "queries": len(ood),
            "not_answered": share(ood, lambda r: decided(r) not in ANSWERED),
            "not_canned": share(ood, lambda r: decided(r) not in CANNED),
            "faq_answer": share(ood, lambda r: decided(r) == "faq_answer"),
            "oos_val_not_canned": share(
                results["clinc_oos_val"], lambda r: decided(r) not in CANNED
            ),
        },
        "clinc_small_talk": f1_table(small_talk, sorted(set(CLINC_TO_OURS.values())))
        | {"utterances": len(small_talk)},
        # The six small-talk intents alone (greeting, goodbye, thanks, yes, no, are-you-a-bot).
        "clinc_chit_chat": f1_table(
            chit_chat, sorted(set(CLINC_TO_OURS.values()) - {"order_status"})
        )
        | {"utterances": len(chit_chat)},
        "tradeoff": curve,
        "configured_threshold": FALLBACK_THRESHOLD,
    }


def plots(report: dict, mapped_pairs: list[tuple[str, str]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    labels = sorted(set(BITEXT_TO_OURS.values()))
    columns = labels + sorted({p for _, p in mapped_pairs} - set(labels))
    counts = [
        [sum(1 for t, p in mapped_pairs if t == row and p == col) for col in columns]
        for row in labels
    ]
    fig, ax = plt.subplots(figsize=(10, 6.5))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    color="white" if value > max(map(max, counts)) / 2 else "black",
                )
    nlu = report["bitext_mapped"]
    scores = f"accuracy {nlu['accuracy']:.3f}, macro-F1 {nlu['macro_f1']:.3f}"
    ax.set_title(f"Bitext dev, mapped intents: {scores}")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (mapped)")
    fig.tight_layout()
    path = out / "external-confusion.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    curve = report["tradeoff"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs = [c["threshold"] for c in curve]
    lines = {
        "ood_not_canned": "CLINC out-of-domain: not given a canned intent",
        "ood_not_answered": "CLINC out-of-domain: not answered (canned or FAQ)",
        "in_scope_handled": "Bitext in-scope: handled (answered, or FAQ entries offered)",
        "in_scope_answered": "Bitext in-scope: answered (canned or FAQ)",
    }
    for key, label in lines.items():
        ax.plot(xs, [c[key] for c in curve], label=label)
    configured = next(c for c in curve if abs(c["threshold"] - FALLBACK_THRESHOLD) < 1e-9)
    for key in lines:
        ax.scatter([FALLBACK_THRESHOLD], [configured[key]], color="black", zorder=3)
    ax.axvline(
        FALLBACK_THRESHOLD,
        color="grey",
        linestyle="--",
        label=f"configured threshold {FALLBACK_THRESHOLD}",
    )
    ax.axhline(0.95, color="red", linestyle=":", linewidth=1, label="target 0.95")
    ax.set_xlabel("NLU fallback threshold")
    ax.set_ylabel("share of queries")
    ax.set_ylim(0, 1.02)
    ax.set_title("Out-of-scope rejection vs in-scope answers over the fallback threshold")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = out / "external-tradeoff.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def run(model: Path, work: Path) -> dict:
    bitext_rows = bitext()
    clinc_val, oos_val = clinc()
    clinc_ours = [(t, CLINC_TO_OURS[i]) for t, i in clinc_val if i in CLINC_TO_OURS]
    clinc_ood = [t for t, i in clinc_val if i not in CLINC_TO_OURS and i not in CLINC_EXCLUDED]
    sets = {
        "bitext": [t for t, _ in bitext_rows],
        "clinc_ours": [t for t, _ in clinc_ours],
        "clinc_ood": clinc_ood + oos_val,
        "clinc_oos_val": oos_val,
    }
    faq_part("warm up")  # load the FAQ models before timing anything
    env = {"STORE_DATABASE_URL": f"sqlite:///{work / 'store.db'}"}
    with Stack(
        model, free_port(), free_port(), None, work, env, f"sqlite:///{work / 'tracker.db'}"
    ) as stack:
        results = {}
        for name, texts in sets.items():
            if name == "clinc_oos_val":
                results[name] = results["clinc_ood"][len(clinc_ood) :]
                continue
            started = time.perf_counter()
            print(f"{name}: {len(texts)} queries", flush=True)
            secret = stack.env["RASA_SECRET"]
            results[name] = asyncio.run(explain_all(texts, stack.rasa_url, secret))
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    gold = {
        "bitext": [BITEXT_TO_OURS.get(intent) for _, intent in bitext_rows],
        "bitext_raw": [intent for _, intent in bitext_rows],
        "clinc_ours": [i for _, i in clinc_ours],
    }
    (work / "items.json").write_text(
        json.dumps(
            {
                name: [{"text": t, **r} for t, r in zip(sets[name], results[name], strict=True)]
                for name in ("bitext", "clinc_ood", "clinc_ours")
            }
        )
    )
    report = evaluate(results, gold)
    mapped_pairs = [
        (g, predicted_intent(r))
        for g, r in zip(gold["bitext"], results["bitext"], strict=True)
        if g
    ]
    report["plots"] = [
        str(p.relative_to(PROJECT_ROOT)) for p in plots(report, mapped_pairs, RESULTS)
    ]
    errors = [
        {"text": t, "true": g, "predicted": predicted_intent(r)}
        for t, g, r in zip(sets["bitext"], gold["bitext"], results["bitext"], strict=True)
        if g and predicted_intent(r) != g
    ]
    ood_canned = [
        {"text": t, "predicted": predicted_intent(r)}
        for t, r in zip(sets["clinc_ood"], results["clinc_ood"], strict=True)
        if explanation(r["parse"], r["faq_top"], r["faq_kind"])["decision"] in CANNED
    ]
    (work / "errors.json").write_text(
        json.dumps({"bitext": errors, "clinc_ood_canned": ood_canned}, indent=1)
    )
    return report


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    if not (EVAL / "bitext" / "dev.csv").exists():
        print(f"no evaluation data in {EVAL} (set EVAL_DIR)", file=sys.stderr)
        return 2
    work = fresh_work_dir("bench-external")
    RESULTS.mkdir(parents=True, exist_ok=True)  # the plots go there first
    report = run(model, work)
    written = write_results("external", report, model)
    nlu, faq_q, ood = report["bitext_mapped"], report["bitext_faq_questions"], report["clinc_ood"]
    rows = [
        (
            "Bitext mapped intents: accuracy / macro-F1",
            f"{nlu['accuracy']:.3f} / {nlu['macro_f1']:.3f} on {nlu['utterances']}",
        ),
        (
            "Bitext store questions answered from the FAQ",
            f"{faq_q['answered_from_faq']:.3f} of {faq_q['utterances']} "
            f"(canned by mistake {faq_q['given_a_canned_intent']:.3f})",
        ),
        (
            "Bitext in scope: answered / handled",
            f"{report['in_scope_answered']:.3f} / {report['in_scope_handled']:.3f}",
        ),
        (
            "CLINC out-of-domain: not canned / not answered",
            f"{ood['not_canned']:.3f} / {ood['not_answered']:.3f} of {ood['queries']}",
        ),
        ("CLINC small talk (ours): accuracy", f"{report['clinc_small_talk']['accuracy']:.3f}"),
        ("CLINC the six chit-chat intents", f"{report['clinc_chit_chat']['accuracy']:.3f}"),
    ]
    print_table(rows)
    print(f"written: {written}, errors in {work / 'errors.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
