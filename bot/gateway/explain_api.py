"""`POST /api/explain {"text": ...}`: what the assistant would do with a message (bot/explain.py),
for logged-in staff (the console's "try a message" box) and, with EXPLAIN_LOCAL, for scripts
on the gateway's own machine."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.gateway.rasa_client import RasaUnavailable
from bot.gateway.requests import BadRequest, clean_text, form_fields, gateway_of, settings_of
from bot.gateway.security import staff_only


def allowed_without_login(request: Request) -> bool:
    """`EXPLAIN_LOCAL=1`: scripts on the gateway's own machine may explain without a login."""
    client = request.client.host if request.client else ""
    return settings_of(request).explain_local and client in ("127.0.0.1", "::1")


async def explain_message(request: Request) -> Response:
    if not allowed_without_login(request):
        return await _explain_for_staff(request)
    return await _explain(request)


@staff_only
async def _explain_for_staff(request: Request) -> Response:
    return await _explain(request)


async def _explain(request: Request) -> Response:
    from bot.explain import explain  # brings the FAQ search (numpy, faiss) on first use

    try:
        text = clean_text((await form_fields(request)).get("text"))
    except BadRequest as bad:
        return JSONResponse({"error": str(bad)}, status_code=bad.status)
    try:
        return JSONResponse(await explain(text, gateway_of(request).rasa))
    except RasaUnavailable:
        return JSONResponse({"error": "Rasa is not available"}, status_code=503)


routes = [Route("/api/explain", explain_message, methods=["POST"])]
