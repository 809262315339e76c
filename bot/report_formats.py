"""The insights report as plain text (for a terminal) and CSV (for a spreadsheet)."""

from __future__ import annotations

import csv
import io
from typing import Any


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def minutes(figure: dict[str, Any]) -> str:
    if figure["median_minutes"] is None:
        return "n/a (no tickets)"
    return f"{figure['median_minutes']} min median over {figure['tickets']} tickets"


def rating(average: float | None) -> str:
    return "n/a" if average is None else f"{average:.2f}"


def csat_line(label: str, figures: dict[str, Any]) -> str:
    return (
        f"  {label:<22}{figures['asked']:>6}{figures['rated']:>6}"
        f"{percent(figures['response_rate']):>10}{percent(figures['satisfied_rate']):>11}"
        f"{rating(figures['average_rating']):>9}"
    )


def csat_text(csat: dict[str, Any]) -> list[str]:
    """CSAT overall, bot alone, handoffs, then per agent, channel, language and day (days with
    surveys; every day is in the CSV), and the comments, newest first."""
    lines = [
        "How did we do? (CSAT; surveys asked in the period)",
        f"  {'':<22}{'asked':>6}{'rated':>6}{'responded':>10}{'4-5 (sat.)':>11}{'average':>9}",
        csat_line("overall", csat["overall"]),
        csat_line("the bot alone", csat["bot"]),
        csat_line("handoffs", csat["handoffs"]),
    ]
    for title, rows, key in (
        ("by agent (handoffs)", csat["by_agent"], "agent"),
        ("by channel", csat["by_channel"], "channel"),
        ("by language", csat["by_language"], "language"),
    ):
        lines.append(f"  {title}")
        lines += [csat_line(f"  {row[key]}", row) for row in rows] or ["    (none)"]
    lines.append("  by day asked")
    lines += [csat_line(f"  {day['date']}", day) for day in csat["daily"] if day["asked"]] or [
        "    (none)"
    ]
    lines += ["", "CSAT comments, newest first"]
    for c in csat["comments"]:
        about = f"ticket H-{c['ticket_id']}" if c["ticket_id"] else "the bot"
        where = f"conversation {c['conversation_id']}"
        lines.append(
            f"  {c['rating'] or '-'}/5  {c['at'][:16].replace('T', ' ')}  {c['channel']}, "
            f"{c['language']}, {c['agent'] or 'no agent'}, {about}, {where}"
        )
        lines.append(f"        {c['comment']}")
    if not csat["comments"]:
        lines.append("  (none)")
    return lines


def trends_text(trends: dict[str, Any]) -> list[str]:
    lines = ["Tickets opened per week, by reason"]
    for week in trends["weeks"]:
        reasons = ", ".join(f"{r} {n}" for r, n in week["by_reason"].items() if n)
        lines.append(
            f"  {week['week']} (from {week['starts']}) {week['tickets']:>4}"
            + (f": {reasons}" if reasons else "")
        )
    return lines


def as_text(report: dict[str, Any]) -> str:
    period = report["period"]
    lines = [
        f"Support insights {period['since']} to {period['until']}, channel {period['channel']}",
        "",
        f"Conversations          {report['conversations']}",
        "Messages               "
        + ", ".join(f"{n} from {who}" for who, n in report["messages"].items()),
        f"Contained by the bot   {report['contained']} ({percent(report['containment_rate'])})",
        f"Handoffs               {report['handoffs']['total']}",
    ]
    lines += [f"  {reason:<21}{n}" for reason, n in report["handoffs"]["by_reason"].items()]
    lines += [
        f"First agent reply      {minutes(report['first_reply_wait'])}",
        f"Resolution time        {minutes(report['resolution_time'])}",
        f'"Don\'t know" answers   {report["dont_know_answers"]}',
        "",
        'By language (conversations / contained / "don\'t know" answers)',
    ]
    lines += [
        f"  {row['language']:<10}{row['conversations']:>5} {row['contained']:>5} "
        f"{row['dont_know_answers']:>5}"
        for row in report["languages"]
    ] or ["  (none)"]
    lines += ["", "Intents by volume"]
    lines += [f"  {intent:<24}{n}" for intent, n in report["intents"].items()] or ["  (none)"]
    lines += ["", "FAQ answers (answered / helped / did not help)"]
    lines += [
        f"  {row['faq_id']:<28}{row['answered']:>4} {row['helped']:>4} {row['did_not_help']:>4}"
        for row in report["faq_answers"]
    ] or ["  (none)"]
    lines += ["", '"Did that help?" by intent (helped / did not help)']
    lines += [
        f"  {intent:<24}{c['helped']:>4} {c['did_not_help']:>4}"
        for intent, c in report["feedback_by_intent"].items()
    ] or ["  (none)"]
    updates = report["order_updates"]
    lines += [
        "",
        f"Order updates sent     {updates['sent']} "
        + "("
        + ", ".join(f"{n} as {how}" for how, n in updates["sent_as"].items())
        + ")",
    ]
    lines += [
        f"  {kind:<21}" + ", ".join(f"{n} on {channel}" for channel, n in by_channel.items())
        for kind, by_channel in updates["sent_by_kind"].items()
    ]
    lines += [
        f"  not delivered        {updates['failed']} "
        + " ".join(f"({n} on {c})" for c, n in updates["failed_by_channel"].items()),
        f"  waiting              {updates['waiting']}",
        f"  asked where it is after an update: {updates['asked_where_after']} of "
        f"{updates['shoppers_updated']} shoppers ({percent(updates['asked_where_after_rate'])})",
    ]
    lines += ["", *csat_text(report["csat"]), "", *trends_text(report["ticket_trends"])]
    lines += ["", f"FAQ gaps ({report['gap_messages']} unanswered messages), largest first"]
    for group in report["faq_gaps"]:
        lines.append(f"  {group['size']:>3} x [{group['language']}] {group['question']}")
        lines += [f"        - {example}" for example in group["examples"][1:]]
    if not report["faq_gaps"]:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def as_csv(report: dict[str, Any]) -> str:
    """One figure per row: section, name, value (and a detail where there is one)."""
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["section", "name", "value", "detail"])
    period = report["period"]
    rows.writerow(["period", "since", period["since"], ""])
    rows.writerow(["period", "until", period["until"], ""])
    rows.writerow(["period", "channel", period["channel"], ""])
    rows.writerow(["volume", "conversations", report["conversations"], ""])
    for who, n in report["messages"].items():
        rows.writerow(["volume", f"messages_{who}", n, ""])
    rows.writerow(["containment", "contained", report["contained"], ""])
    rows.writerow(["containment", "rate", report["containment_rate"], ""])
    rows.writerow(["handoffs", "total", report["handoffs"]["total"], ""])
    for reason, n in report["handoffs"]["by_reason"].items():
        rows.writerow(["handoffs", reason, n, ""])
    for name in ("first_reply_wait", "resolution_time"):
        figure = report[name]
        rows.writerow(["tickets", f"{name}_median_minutes", figure["median_minutes"], ""])
    rows.writerow(["faq", "dont_know_answers", report["dont_know_answers"], ""])
    for row in report["languages"]:
        detail = f"contained {row['contained']}, don't know {row['dont_know_answers']}"
        rows.writerow(["languages", row["language"], row["conversations"], detail])
    for intent, n in report["intents"].items():
        rows.writerow(["intents", intent, n, ""])
    for row in report["faq_answers"]:
        detail = f"helped {row['helped']}, did not help {row['did_not_help']}"
        rows.writerow(["faq_answers", row["faq_id"], row["answered"], detail])
    for intent, c in report["feedback_by_intent"].items():
        rows.writerow(
            ["feedback_by_intent", intent, c["helped"], f"did not help {c['did_not_help']}"]
        )
    for day in report["daily"]:
        detail = f"contained {day.get('contained', 0)}, handed off {day.get('handed_off', 0)}"
        rows.writerow(["daily", day["date"], day["conversations"], detail])
    updates = report["order_updates"]
    for kind, by_channel in updates["sent_by_kind"].items():
        for channel, n in by_channel.items():
            rows.writerow(["order_updates", f"sent_{kind}", n, channel])
    for channel, n in updates["failed_by_channel"].items():
        rows.writerow(["order_updates", "failed", n, channel])
    rows.writerow(["order_updates", "waiting", updates["waiting"], ""])
    detail = f"of {updates['shoppers_updated']} shoppers updated"
    rows.writerow(["order_updates", "asked_where_after", updates["asked_where_after"], detail])
    csat_csv(rows, report["csat"])
    for week in report["ticket_trends"]["weeks"]:
        rows.writerow(["ticket_trends", "tickets", week["tickets"], week["week"]])
        for reason, n in week["by_reason"].items():
            rows.writerow(["ticket_trends", reason, n, week["week"]])
    for group in report["faq_gaps"]:
        examples = " | ".join(group["examples"])
        rows.writerow(
            ["faq_gaps", group["question"], group["size"], f"{group['language']}: {examples}"]
        )
    return out.getvalue()


CSAT_FIGURES = ("asked", "rated", "response_rate", "satisfied", "satisfied_rate", "average_rating")


def csat_csv(rows: Any, csat: dict[str, Any]) -> None:
    """Section csat (detail: overall, bot or handoffs), csat_by_agent / _channel / _language,
    csat_daily (detail: who or which day); one figure per row. Comments: the time, the rating
    and what it was about with the comment."""
    for scope in ("overall", "bot", "handoffs"):
        for name in CSAT_FIGURES:
            rows.writerow(["csat", name, csat[scope][name], scope])
    for section, key in (
        ("by_agent", "agent"),
        ("by_channel", "channel"),
        ("by_language", "language"),
        ("daily", "date"),
    ):
        for row in csat[section]:
            for name in CSAT_FIGURES:
                rows.writerow([f"csat_{section}", name, row[name], row[key]])
    for c in csat["comments"]:
        about = f"ticket H-{c['ticket_id']}" if c["ticket_id"] else "bot"
        detail = (
            f"{c['channel']}, {c['language']}, {c['agent'] or 'no agent'}, {about}, "
            f"conversation {c['conversation_id']}: {c['comment']}"
        )
        rows.writerow(["csat_comments", c["at"], c["rating"], detail])
