"""The gateway's ASGI app: `uvicorn bot.gateway.app:create_app --factory`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.channels import web
from bot.gateway import console, shopper_api
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.gateway.security import SecurityHeaders
from bot.store.db import get_engine


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(rasa_url: str | None = None, engine: Engine | None = None) -> Starlette:
    gateway = Gateway(RasaClient(rasa_url), engine or get_engine())

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        await gateway.rasa.aclose()

    app = Starlette(
        routes=[
            Route("/health", health),
            *shopper_api.routes,
            *web.routes,
            *console.routes,
        ],
        middleware=[Middleware(SecurityHeaders), Middleware(web.ShopperCors)],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
