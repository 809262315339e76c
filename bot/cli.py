"""`bot` command line: the store database, staff accounts, the FAQ search, the insights
report and a shopper's data (export, erase, retention)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path

from bot.faq.entries import FaqError
from bot.settings import Settings, get_settings


def main(argv: list[str] | None = None) -> int:
    try:
        settings = get_settings()
    except ValueError as error:  # a setting that does not parse
        print(f"error: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="bot", description="Storefront Assist tools")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the store database (STORE_DATABASE_URL)")
    db.add_argument(
        "action",
        choices=["init", "upgrade", "reset"],
        help="init: upgrade and seed if empty; upgrade: bring the schema to the newest revision, "
        "keeping every row (no seeding); reset: drop everything and seed the demo shop again",
    )

    accounts = sub.add_parser("staff", help="staff accounts for the support console")
    accounts.add_argument("action", choices=["add", "password", "list"])
    accounts.add_argument("username", nargs="?")
    accounts.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking (for scripts)",
    )

    faq = sub.add_parser("faq", help="the FAQ search (model: FAQ_MODEL)")
    faq_sub = faq.add_subparsers(dest="faq_command", required=True)
    build = faq_sub.add_parser("build", help="build (or load) the index of a FAQ file or folder")
    build.add_argument("path", nargs="?", type=Path, default=Path(settings.faq_path))
    ask = faq_sub.add_parser("ask", help="the top entries for a question, and the decision")
    ask.add_argument("question")
    ask.add_argument("--faq", type=Path, default=Path(settings.faq_path))
    ask.add_argument("--k", type=int, default=5)
    evaluate = faq_sub.add_parser(
        "eval", help="hit@1, hit@3, MRR and decisions on a CSV with columns query,expected_id"
    )
    evaluate.add_argument("queries", type=Path)
    evaluate.add_argument("--faq", type=Path, default=Path(settings.faq_path))
    evaluate.add_argument("--out", type=Path, help="JSON file (default: var/faq-eval/NAME.json)")

    report = sub.add_parser(
        "report", help="what the assistant solved, handed off and could not answer"
    )
    report.add_argument("--since", default="7d", help="7d, 24h, 2w or a date (default 7d)")
    report.add_argument("--until", help="a date; default now")
    report.add_argument("--channel", choices=["web", "api", "telegram", "whatsapp"])
    report.add_argument("--format", choices=["text", "json", "csv"], default="text")

    private = sub.add_parser("privacy", help="a shopper's data: export, erase; retention purge")
    private.add_argument("action", choices=["export", "erase", "purge"])
    who = private.add_mutually_exclusive_group()
    for kind in ("email", "phone", "telegram", "conversation"):
        who.add_argument(f"--{kind}", help=f"the shopper, found by {kind}")
    private.add_argument("--out", type=Path, help="export: write the JSON here (default: stdout)")
    private.add_argument("--yes", action="store_true", help="erase without asking")
    private.add_argument(
        "--days", type=int, help="purge: older than this (default: RETENTION_DAYS)"
    )

    shop = sub.add_parser("shop", help="the demo shop: move an order on, as a platform would")
    shop.add_argument("action", choices=["advance"])
    shop.add_argument("order", help="the order number, e.g. 10402")
    shop.add_argument("step", choices=["ship", "out-for-delivery", "deliver", "delay", "refund"])
    shop.add_argument("--reason", help="delay: what to tell the shopper")
    shop.add_argument(
        "--gateway",
        default="http://127.0.0.1:8000",
        help="the running gateway told of the change (default %(default)s)",
    )

    sub.add_parser(
        "stack",
        help="start the assistant: `bot stack run [--gateways N] [--rasa N]` (bot/stack.py)",
    )
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["stack"]:  # all its arguments are bot/stack.py's
        from bot import stack as processes

        return processes.main(given[1:])

    args = parser.parse_args(argv)
    try:
        if args.command == "db":
            return run_db(args.action, settings)
        if args.command == "staff":
            return run_staff(args, settings)
        if args.command == "report":
            return run_report(args)
        if args.command == "privacy":
            return run_privacy(args, settings)
        if args.command == "shop":
            return run_shop(args, settings)
        return run_faq(args, settings)
    except (FaqError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_shop(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from bot import demo_shop
    from bot.store.db import get_engine

    status = demo_shop.advance(
        args.order, args.step, args.reason, get_engine(settings.store_database_url)
    )
    print(f"order {args.order.lstrip('#')} is now {status}")
    try:
        answer = demo_shop.notify_gateway(args.gateway, args.order.lstrip("#"), args.step)
    except httpx.HTTPError as error:
        print(f"the gateway at {args.gateway} was not told ({error}); is it running?")
        return 1
    print("the gateway was told" if answer.get("accepted") else f"gateway: {answer}")
    return 0


def run_db(action: str, settings: Settings) -> int:
    from sqlalchemy import func, select

    from bot.store.db import create_store_engine, ensure_database, reset_database, session_scope
    from bot.store.migrations import UnknownSchemaError, current_revision, upgrade_to_head
    from bot.store.models import Order

    engine = create_store_engine(settings.store_database_url)
    try:
        before = current_revision(engine)
        if action == "upgrade":
            upgrade_to_head(engine)  # the schema only: no seeding, a shop's own data stays its own
        elif action == "reset":
            reset_database(engine)
        else:
            ensure_database(engine)
        after = current_revision(engine)
        with session_scope(engine) as session:
            orders = session.scalar(select(func.count(Order.id)))
    except UnknownSchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    change = "" if after == before else f" (was {before or 'not recorded'})"
    where = engine.url.render_as_string(hide_password=True)
    print(f"{where}: {orders} orders, schema at revision {after}{change}")
    return 0


def run_staff(args: argparse.Namespace, settings: Settings) -> int:
    from bot import staff

    if args.action == "list":
        for name in staff.usernames():
            print(name)
        return 0
    if not args.username:
        raise ValueError(f"`bot staff {args.action}` needs a username")
    password = read_password(args.password_stdin, settings.staff_password)
    if args.action == "add":
        staff.create_user(args.username, password)
        print(f"created staff account {args.username!r}; log in at /console")
    else:
        staff.set_password(args.username, password)
        print(f"password changed for {args.username!r}; their sessions were ended")
    return 0


def read_password(from_stdin: bool, preset: str = "") -> str:
    """From stdin (one line) or `preset` (`STAFF_PASSWORD`), else asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if preset:
        return preset
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def run_report(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clock import utcnow
    from bot.report import Period, build_report, parse_since
    from bot.report_formats import as_csv, as_text

    now = utcnow() + timedelta(seconds=1)  # stored times are whole seconds: include this one
    until = parse_since(args.until, now) if args.until else now
    report = build_report(Period(parse_since(args.since, now), until, args.channel))
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(as_csv(report) if args.format == "csv" else as_text(report))
    return 0


def run_privacy(args: argparse.Namespace, settings: Settings) -> int:
    from bot import privacy
    from bot.store.db import get_engine

    engine, trackers = get_engine(), settings.tracker_database_url
    if args.action == "purge":
        days = settings.retention_days if args.days is None else args.days
        counts = privacy.purge(days, engine, trackers)
        print(json.dumps({"older_than_days": days, "deleted": counts}, indent=2))
        return 0
    kinds = [kind for kind in privacy.KINDS if getattr(args, kind)]
    if not kinds:
        raise ValueError("say who: --email, --phone, --telegram or --conversation")
    subject = privacy.Subject(kinds[0], getattr(args, kinds[0]))
    if args.action == "export":
        document = json.dumps(
            privacy.export(subject, engine, trackers, "cli"), indent=2, ensure_ascii=False
        )
        if args.out:
            args.out.write_text(document + "\n")
            print(f"written: {args.out}", file=sys.stderr)
        else:
            print(document)
        return 0
    found = len(privacy.conversation_ids(subject, engine))
    if not args.yes:
        answer = input(f"Erase {found} conversations and everything about this shopper? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    counts = privacy.erase(subject, engine, trackers, "cli")
    print(json.dumps({"erased": counts}, indent=2))
    return 0


def run_faq(args: argparse.Namespace, settings: Settings) -> int:
    from bot.faq.decide import calibration, calibration_for, decide
    from bot.faq.evaluate import evaluate, read_queries
    from bot.faq.index import FaqIndex

    model = settings.faq_model
    path = args.path if args.faq_command == "build" else args.faq
    if args.faq_command == "build" and "FAQ_ENCODER_THREADS" not in os.environ:
        # Nothing else runs beside a build: every core encodes (the servers keep one each).
        os.environ["FAQ_ENCODER_THREADS"] = str(os.cpu_count() or 1)
        get_settings.cache_clear()
    started = time.perf_counter()
    index = FaqIndex.load_or_build(path, model)
    if args.faq_command == "build":
        print(
            f"{path}: {len(index.entries)} entries, {len(index.phrasings)} phrasings, "
            f"model {model}, ready in {time.perf_counter() - started:.1f} s"
        )
        return 0
    if args.faq_command == "ask":
        matches = index.search(args.question, args.k)
        for match in matches:
            print(f"{match.score:.3f}  {match.entry.id:<28} {match.entry.question}")
        decision = decide(matches, calibration_for(model, args.question))
        ids = ", ".join(m.entry.id for m in decision.matches)
        print(
            f"decision: {decision.kind}"
            + (f" ({ids})" if ids else "")
            + f", probability the best entry is right {decision.probability:.2f}"
        )
        return 0
    calibrated = calibration(model)
    result = evaluate(index, read_queries(args.queries), calibrated)
    result = {
        "queries_file": str(args.queries),
        "faq": str(path),
        "model": model,
        "calibration": calibrated.__dict__,
        **result,
    }
    out = args.out or Path("var") / "faq-eval" / f"{args.queries.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
