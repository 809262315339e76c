"""Live alerts for staff, and an email when a ticket opens.

Two events, told to every open console (GET /console/events, Server-Sent Events):
- `new_ticket` (id, reason, channel, language) when a handoff opens a ticket;
- `shopper_wrote` (ticket id, assignee id) when a shopper writes in a conversation a person
  has; only the assignee's consoles are told.
The console's script (static/alerts.js) shows them at once: the queue refreshes, a banner, a
browser notification and a beep.

Alerts travel through the shared state (bot/gateway/shared.py): with several gateways, a
console hears of what happened on any of them, numbered in one sequence. Each gateway keeps
the last events a few minutes, so a browser reconnecting (it sends the last event id, to
whichever gateway) misses nothing in between.

The email (SMTP_HOST and ALERT_EMAIL_TO set) goes out from a worker thread, never on the event
loop, and says nothing a shopper wrote: only the ticket's reason, channel, language and its
path in the console. A failure is logged and the shopper's turn goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import smtplib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import staff, tickets
from bot.gateway.hub import Hub
from bot.gateway.shared import MemoryShared
from bot.settings import Settings
from bot.store.models import Conversation

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
SESSION_CHECK_SECONDS = 15.0  # a logged-out or expired session's streams end within this
RETRY_MILLISECONDS = 3000  # how soon a browser reconnects a stream that ended
KEPT_EVENTS = 200
KEPT_SECONDS = 300.0  # replayed to a reconnecting browser only if this recent
EVENT_ID = re.compile(r"(?P<boot>[0-9a-f]{8})-(?P<seq>[0-9]{1,18})")  # boot, then number
STREAMS_PER_STAFF = 8  # one per console tab; all of them count in STREAMS_TOTAL too
SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Alert:
    seq: int
    kind: str
    data: dict[str, Any]
    for_user: int | None = None  # None: every staff member
    at: float = field(default_factory=time.monotonic)

    def sse(self, boot: str) -> str:
        return f"id: {boot}-{self.seq}\ndata: {json.dumps({'type': self.kind, **self.data})}\n\n"


class Alerts:
    """The broadcaster and the mailer of one gateway process (the relay holds it)."""

    def __init__(
        self, settings: Settings, engine: Engine | None = None, shared: MemoryShared | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.shared = shared or MemoryShared()
        self.shared.on("alerts", self._heard)
        self._kept: deque[Alert] = deque(maxlen=KEPT_EVENTS)
        self._seq = 0
        self._changed = asyncio.Event()
        self.closed = False
        self._mailer: ThreadPoolExecutor | None = None  # started with the first email

    # --- what happened (called by the relay; never fails the shopper's turn) ----------------
    def ticket_opened(
        self, ticket_id: int, reason: str, before: Conversation
    ) -> Future[None] | None:
        """A handoff gave `ticket_id`; `before` is the conversation as it was before it. One
        that a person already had kept its active ticket: that is no new ticket. Returns the
        email's future, if one is sent."""
        if before.mode == "human":
            return None
        label = tickets.REASONS.get(reason, reason)
        self.publish(
            "new_ticket",
            {
                "ticket": ticket_id,
                "reason": reason,
                "reason_label": label,
                "channel": before.channel,
                "language": before.language,
            },
        )
        try:
            return self.email_new_ticket(ticket_id, label, before.channel, before.language)
        except Exception:  # e.g. a malformed ALERT_EMAIL_FROM: the handoff itself is done
            logger.exception("alert email for H-%s not sent", ticket_id)
            return None

    def shopper_wrote(self, conversation_id: str) -> None:
        """A shopper wrote in a conversation a person has: its assignee's consoles are told."""
        try:
            ticket = tickets.active_ticket(conversation_id, self.engine)
        except Exception:  # the message is stored; only the alert is lost
            logger.exception("alert for a shopper's message not sent")
            return
        if ticket is None or ticket.assignee_id is None:
            return  # nobody's yet: the open queue shows it
        self.publish(
            "shopper_wrote",
            {"ticket": ticket.id, "assignee": ticket.assignee_id},
            for_user=ticket.assignee_id,
        )

    @property
    def boot(self) -> str:
        """In event ids, so a browser's Last-Event-ID from before a restart is not misread."""
        return self.shared.boot

    def publish(self, kind: str, data: dict[str, Any], for_user: int | None = None) -> None:
        """Told to every gateway's consoles (this one's too, as it hears it back)."""
        self.shared.broadcast("alerts", {"kind": kind, "data": data, "for_user": for_user})

    def _heard(self, seq: int, message: dict[str, Any]) -> None:
        self._seq = max(self._seq, seq)
        self._kept.append(Alert(seq, message["kind"], message["data"], message["for_user"]))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # --- who listens ------------------------------------------------------------------------
    def listen(self) -> asyncio.Event:
        """Call before `since`, then wait on the event if nothing was new (as Hub.listen)."""
        return self._changed

    def since(self, seq: int, user_id: int) -> tuple[int, list[Alert]]:
        """(the newest seq, the alerts after `seq` that are for `user_id`)."""
        recent = time.monotonic() - KEPT_SECONDS
        fresh = [a for a in self._kept if a.seq > seq and a.at >= recent]
        mine = [a for a in fresh if a.for_user in (None, user_id)]
        return max([seq, *(a.seq for a in fresh)]), mine

    def resume_point(self, last_event_id: str | None) -> int:
        """Where a stream starts: after the browser's last event if it had one from this
        process, everything kept if it had one from before a restart, else from now.
        ValueError if it is no event id of ours (a browser only sends back what it got)."""
        if last_event_id is None:
            return self._seq
        match = EVENT_ID.fullmatch(last_event_id)
        if match is None:
            raise ValueError("Last-Event-ID is not an event id of this stream")
        if match["boot"] != self.boot:
            return 0
        return min(int(match["seq"]), self._seq)

    def close(self) -> None:
        """The gateway stops: streams end, emails already queued still go."""
        self.closed = True
        self._changed.set()
        if self._mailer is not None:
            self._mailer.shutdown(wait=False)

    # --- email ------------------------------------------------------------------------------
    def email_new_ticket(
        self, ticket_id: int, label: str, channel: str | None, language: str | None
    ) -> Future[None] | None:
        settings = self.settings
        if not (settings.smtp_host and settings.alert_email_to) or self.closed:
            return None
        message = new_ticket_email(settings, ticket_id, label, channel, language)
        if self._mailer is None:
            self._mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-email")
        return self._mailer.submit(send_logged, settings, message, ticket_id)


def new_ticket_email(
    settings: Settings, ticket_id: int, label: str, channel: str | None, language: str | None
) -> EmailMessage:
    """No shopper text or personal data: only what the ticket is and where to find it."""
    message = EmailMessage()
    message["Subject"] = f"New ticket H-{ticket_id}: {label}"
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(settings.alert_email_to)
    message.set_content(
        "A shopper is waiting for a person.\n\n"
        f"Ticket: H-{ticket_id}\n"
        f"Reason: {label}\n"
        f"Channel: {channel or '?'}\n"
        f"Language: {language or '?'}\n\n"
        f"Open it in the support console: /console/tickets/{ticket_id}\n"
    )
    return message


def send_logged(settings: Settings, message: EmailMessage, ticket_id: int) -> None:
    """In the worker thread: send, and log a failure (never with the password)."""
    try:
        send(settings, message)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if settings.smtp_password:
            reason = reason.replace(settings.smtp_password, "***")
        logger.warning(
            "alert email for H-%s not sent through %s:%s: %s",
            ticket_id,
            settings.smtp_host,
            settings.smtp_port,
            reason,
        )
    else:
        logger.info("alert email for H-%s sent", ticket_id)


class PlainLoginRefused(Exception):
    """SMTP_STARTTLS is on but the server offers no STARTTLS: the password is not sent in
    clear (turn SMTP_STARTTLS off to allow that, e.g. for a relay on the same host)."""


def send(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.ehlo()
        secure = False
        if settings.smtp_starttls and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            secure = True
        if settings.smtp_username:
            if settings.smtp_starttls and not secure:
                raise PlainLoginRefused(PlainLoginRefused.__doc__)
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


# --- the stream -----------------------------------------------------------------------------
async def events(request: Request) -> Response:
    """The alerts for the logged-in staff member, as Server-Sent Events, one stream per console
    tab. It ends when the session does (logout, expiry) or the gateway stops."""
    # Imported here: both import bot.gateway.requests, which imports the relay, which imports
    # this module.
    from bot.channels.web import CappedStream
    from bot.gateway.security import SESSION_COOKIE

    gateway = request.app.state.gateway
    token = request.cookies.get(SESSION_COOKIE)
    session = staff.find_session(token, gateway.engine)
    if session is None:
        return JSONResponse({"error": "login required"}, status_code=401)
    alerts: Alerts = gateway.alerts
    user_id = session.user_id
    try:
        start = alerts.resume_point(request.headers.get("last-event-id"))
    except ValueError as bad:
        return JSONResponse({"error": str(bad)}, status_code=400)

    async def stream() -> AsyncIterator[str]:
        last = start
        checked = time.monotonic()
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while not alerts.closed:
            changed = alerts.listen()
            last, mine = alerts.since(last, user_id)
            for alert in mine:
                yield alert.sse(alerts.boot)
            if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                if staff.find_session(token, gateway.engine) is None:
                    yield "event: logout\ndata: {}\n\n"
                    return
                checked = time.monotonic()
            if not mine:
                await Hub.wait(changed, min(KEEPALIVE_SECONDS, SESSION_CHECK_SECONDS))
                if not changed.is_set():
                    yield ": keep-alive\n\n"

    return CappedStream(
        stream(),
        gateway.hub,
        f"staff:{user_id}",
        per_conversation=STREAMS_PER_STAFF,
        total=request.app.state.settings.streams_total,
    )


routes = [Route("/console/events", events, methods=["GET"])]
