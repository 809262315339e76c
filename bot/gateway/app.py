"""The gateway's ASGI app: `uvicorn bot.gateway.app:create_app --factory`.

Telegram and WhatsApp start with the app when their settings are present (see
bot/channels/telegram.py and whatsapp.py); without them they are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot import language, privacy, replies
from bot.channels import telegram, web, whatsapp
from bot.gateway import (
    alerts,
    console,
    explain_api,
    insights,
    order_webhooks,
    privacy_console,
    shopper_api,
)
from bot.gateway.body_limit import BodyLimit
from bot.gateway.order_updates import OrderUpdates
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.gateway.security import SecurityHeaders
from bot.gateway.shared import shared_state
from bot.i18n import supported, texts
from bot.settings import Settings, get_settings
from bot.store.db import database_reachable, get_engine

logger = logging.getLogger(__name__)


KEY_IN_PATH = re.compile(r"/[A-Za-z0-9_-]{20,}")
RETENTION_PERIOD_SECONDS = 24 * 3600


async def health(request: Request) -> JSONResponse:
    state = request.app.state
    channels = ["api", "web"] + [
        name for name in ("telegram", "whatsapp") if getattr(state, name, None) is not None
    ]
    if not database_reachable(state.gateway.engine):
        return JSONResponse(
            {"status": "degraded", "database": "unreachable", "channels": channels},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "channels": channels})


async def store_down(request: Request, exc: Exception) -> JSONResponse:
    """The database is locked or unreachable: say so plainly (no stack trace, no half-done
    work: every write is one transaction) and let the client or platform retry."""
    cause = getattr(exc, "orig", exc)
    path = KEY_IN_PATH.sub("/…", request.url.path)  # conversation ids are shoppers' keys
    logger.warning("%s %s: database unavailable: %s", request.method, path, cause)
    # The conversation's language is in the database that is down: the browser's it is.
    accepted = request.headers.get("accept-language", "").split(",")[0].split(";")[0]
    _ = texts(supported(accepted) or get_settings().shop_language)
    return JSONResponse(
        {"error": _(replies.STORE_DOWN)}, status_code=503, headers={"Retry-After": "30"}
    )


def proxy_headers(settings: Settings) -> list[Middleware]:
    """X-Forwarded-For/-Proto believed only from `TRUSTED_PROXIES` (uvicorn runs with
    --no-proxy-headers): anyone else could name any address and dodge the per-address limits."""
    if not settings.trusted_proxies:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))]


async def purge_daily(settings: Settings, engine: Engine) -> None:
    """RETENTION_DAYS: what is older is deleted now and then once a day (bot/privacy.py), in a
    thread so shoppers are not kept waiting. Several gateways may all do it: it is idempotent."""
    while settings.retention_days > 0:
        try:
            counts = await asyncio.to_thread(
                privacy.purge, settings.retention_days, engine, settings.tracker_database_url
            )
            logger.info("retention purge: %s", counts)
        except Exception:
            logger.exception("retention purge failed; trying again tomorrow")
        await asyncio.sleep(RETENTION_PERIOD_SECONDS)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Starlette:
    """`settings` default to the environment's; `engine` to the store's (it must be reachable
    at start: tables, seed)."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings.store_database_url)
    shared = shared_state(settings)
    gateway = Gateway(RasaClient(settings.rasa_urls), engine, settings, shared)
    updates = OrderUpdates(gateway, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        # The language identifier loads its models in the background, not on a first message.
        threading.Thread(target=language.warm_up, name="language-warm-up", daemon=True).start()
        await shared.start()
        started = []
        telegram_settings = telegram.TelegramSettings.from_settings(settings)
        if telegram_settings:
            app.state.telegram = telegram.TelegramChannel(gateway, telegram_settings)
            started.append(app.state.telegram)
        whatsapp_settings = whatsapp.WhatsAppSettings.from_settings(settings)
        if whatsapp_settings:
            app.state.whatsapp = whatsapp.WhatsAppChannel(gateway, whatsapp_settings)
            started.append(app.state.whatsapp)
        for channel in started:
            await channel.start()
            logger.info("channel %s started", type(channel).__name__)
        retention = asyncio.create_task(purge_daily(settings, gateway.engine))
        sending_updates = asyncio.create_task(updates.run())
        retrying = asyncio.create_task(gateway.delivery.run())
        try:
            yield
        finally:
            gateway.alerts.close()  # staff alert streams still open end; queued emails go
            retention.cancel()
            sending_updates.cancel()
            retrying.cancel()
            await updates.aclose()
            for channel in reversed(started):
                await channel.stop()
            await gateway.rasa.aclose()
            await shared.aclose()

    app = Starlette(
        routes=[
            Route("/health", health),
            *shopper_api.routes,
            *web.routes,
            *telegram.routes,
            *whatsapp.routes,
            *console.routes,
            *alerts.routes,
            *explain_api.routes,
            *insights.routes,
            *privacy_console.routes,
            *order_webhooks.routes,
        ],
        middleware=[
            *proxy_headers(settings),  # first: every other part sees the real client
            Middleware(SecurityHeaders),
            Middleware(web.ShopperCors, origins=settings.widget_origins),
            # Last, so its 413 carries the headers above; it reads nothing itself.
            Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={OperationalError: store_down},
    )
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.order_updates = updates
    app.state.telegram = None
    app.state.whatsapp = None
    return app
