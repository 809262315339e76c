"""The gateway's ASGI app: `uvicorn bot.gateway.app:create_app --factory`.

Telegram and WhatsApp start with the app when their settings are present (see
bot/channels/telegram.py and whatsapp.py); without them they are skipped.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels import telegram, web, whatsapp
from bot.gateway import console, shopper_api
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.gateway.security import SecurityHeaders
from bot.store.db import get_engine

logger = logging.getLogger(__name__)


async def health(request: Request) -> JSONResponse:
    state = request.app.state
    channels = ["api", "web"] + [
        name for name in ("telegram", "whatsapp") if getattr(state, name, None) is not None
    ]
    return JSONResponse({"status": "ok", "channels": channels})


def create_app(rasa_url: str | None = None, engine: Engine | None = None) -> Starlette:
    gateway = Gateway(RasaClient(rasa_url), engine or get_engine())

    @asynccontextmanager
    async def lifespan(app: Starlette):
        started = []
        telegram_settings = telegram.TelegramSettings.from_env()
        if telegram_settings:
            app.state.telegram = telegram.TelegramChannel(gateway, telegram_settings)
            started.append(app.state.telegram)
        whatsapp_settings = whatsapp.WhatsAppSettings.from_env()
        if whatsapp_settings:
            app.state.whatsapp = whatsapp.WhatsAppChannel(gateway, whatsapp_settings)
            started.append(app.state.whatsapp)
        for channel in started:
            await channel.start()
            logger.info("channel %s started", type(channel).__name__)
        try:
            yield
        finally:
            for channel in reversed(started):
                await channel.stop()
            await gateway.rasa.aclose()

    app = Starlette(
        routes=[
            Route("/health", health),
            *shopper_api.routes,
            *web.routes,
            *telegram.routes,
            *whatsapp.routes,
            *console.routes,
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(web.ShopperCors)],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.telegram = None
    app.state.whatsapp = None
    return app
