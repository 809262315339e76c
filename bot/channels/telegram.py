"""Telegram, with python-telegram-bot: long polling by default (no public URL needed), or a
webhook whose requests must carry Telegram's secret-token header.

Settings: TELEGRAM_BOT_TOKEN (none: no Telegram), TELEGRAM_API_URL (a local Bot API server;
default Telegram's), TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET (webhook mode).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import conversations, replies
from bot.channels.buttons import button_ref, resolve, split_text
from bot.conversations import Said
from bot.gateway.relay import Gateway, texts_of
from bot.gateway.requests import BadRequest, parse_json
from bot.gateway.security import secrets_match
from bot.i18n import texts
from bot.settings import Settings
from bot.store.models import Conversation

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096  # Telegram's limit for one text message
SECRET_HEADER = "x-telegram-bot-api-secret-token"
SHORT_TITLE = 2  # buttons this short (a 1-5 rating) share one row...
MAX_ROW = 8  # ...of at most this many, Telegram's limit


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    api_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramSettings | None:
        """None when no bot token is set: no Telegram."""
        if not settings.telegram_bot_token:
            return None
        telegram = cls(
            token=settings.telegram_bot_token,
            api_url=settings.telegram_api_url or None,
            webhook_url=settings.telegram_webhook_url or None,
            webhook_secret=settings.telegram_webhook_secret or None,
        )
        if telegram.webhook_url and not telegram.webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
        return telegram


def unsupported_kind(update: Update) -> str:
    message = update.effective_message
    for kind in ("sticker", "photo", "voice", "video", "document", "audio", "location"):
        if message is not None and getattr(message, kind, None):
            return kind
    return "attachment"


def keyboard(message_id: int, buttons: list[dict[str, str]]) -> InlineKeyboardMarkup:
    """One button per row, so long titles are readable; a scale of very short titles
    ("1".."5") in one row, as it reads."""
    keys = [
        InlineKeyboardButton(b["title"][:64], callback_data=button_ref(message_id, n))
        for n, b in enumerate(buttons)
    ]
    if len(keys) <= MAX_ROW and all(len(b["title"].strip()) <= SHORT_TITLE for b in buttons):
        return InlineKeyboardMarkup([keys])
    return InlineKeyboardMarkup([[key] for key in keys])


def language_hint(update: Update) -> str | None:
    """The language of the shopper's Telegram app (`language_code`, an IETF tag like "pt-br"):
    the conversation's language until their messages or a choice say otherwise."""
    user = update.effective_user
    return user.language_code if user is not None else None


class TelegramChannel:
    """Carries Telegram chats to the gateway and the gateway's messages back."""

    def __init__(self, gateway: Gateway, settings: TelegramSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        builder = ApplicationBuilder().token(settings.token).concurrent_updates(16)
        if settings.api_url:
            builder = builder.base_url(settings.api_url.rstrip("/") + "/bot")
        if settings.webhook_url:
            builder = builder.updater(None)
        self.app: Application = builder.build()
        self.app.add_handler(MessageHandler(filters.TEXT, self.on_text))
        self.app.add_handler(CallbackQueryHandler(self.on_button))
        self.app.add_handler(MessageHandler(~filters.TEXT, self.on_other))
        self.app.add_error_handler(self.on_error)

    async def start(self) -> None:
        await self.app.initialize()
        if self.settings.webhook_url:
            await self.app.bot.set_webhook(
                self.settings.webhook_url,
                secret_token=self.settings.webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
        else:
            await self.app.updater.start_polling(allowed_updates=["message", "callback_query"])
        await self.app.start()
        self.gateway.delivery.register(CHANNEL, self)

    async def stop(self) -> None:
        self.gateway.delivery.unregister(CHANNEL)
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def conversation_of(self, update: Update) -> Conversation:
        chat_id = str(update.effective_chat.id)
        return conversations.for_channel_user(CHANNEL, chat_id, self.gateway.engine)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text or ""
        if text.startswith("/start"):
            text = "Hi"  # Telegram's first message when a shopper opens the bot
        if text.strip():
            await self.gateway.receive(
                self.conversation_of(update), text.strip()[:4000], hint=language_hint(update)
            )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        conversation = self.conversation_of(update)
        pressed = resolve(conversation.id, query.data or "", self.gateway.engine)
        if pressed is None:
            return  # a button from another conversation, or forged callback data
        with contextlib.suppress(TelegramError):  # one answer per question: buttons go
            await query.edit_message_reply_markup(reply_markup=None)
        title, payload = pressed
        await self.gateway.receive(conversation, title, payload)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is None:
            return
        await self.gateway.receive_unsupported(
            self.conversation_of(update), unsupported_kind(update)
        )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram will not send an update twice, so a message the database could not take
        is lost unless the shopper sends it again: ask them to."""
        if isinstance(context.error, OperationalError):
            logger.warning("a Telegram message could not be stored: %s", context.error.orig)
            if isinstance(update, Update) and update.effective_chat is not None:
                with contextlib.suppress(TelegramError):
                    _ = texts(language_hint(update) or self.gateway.settings.shop_language)
                    await context.bot.send_message(update.effective_chat.id, _(replies.STORE_DOWN))
            return
        logger.error("a Telegram update could not be handled", exc_info=context.error)

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None:
        chat_id = int(conversation.channel_user_id)
        for message in said:
            if message.sender == "system":
                continue
            text = replies.from_agent(message.agent, message.text, texts_of(conversation))
            pieces = split_text(text, MAX_MESSAGE)
            for i, piece in enumerate(pieces):
                markup = None
                if message.buttons and i == len(pieces) - 1:
                    markup = keyboard(message.id, message.buttons)
                await self.app.bot.send_message(chat_id, piece, reply_markup=markup)

    async def process_webhook(self, data: dict) -> None:
        """Queued for the application, so Telegram gets its answer at once. A ValueError if
        python-telegram-bot cannot read it as an update."""
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as error:  # it trusts the shapes it reads: any error can come out
            raise ValueError("not a Telegram update") from error
        await self.app.update_queue.put(update)


async def webhook(request: Request) -> Response:
    channel: TelegramChannel | None = getattr(request.app.state, "telegram", None)
    if channel is None or not channel.settings.webhook_url:
        return JSONResponse({"error": "Telegram webhook mode is not configured"}, status_code=404)
    sent = request.headers.get(SECRET_HEADER)
    if not secrets_match(sent, channel.settings.webhook_secret or ""):
        return JSONResponse({"error": "bad secret token"}, status_code=403)
    try:
        data = parse_json(await request.body())
    except BadRequest as bad:
        return JSONResponse({"error": str(bad)}, status_code=bad.status)
    if not isinstance(data, dict) or "update_id" not in data:
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    try:
        await channel.process_webhook(data)
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"ok": True})


routes = [Route("/telegram/webhook", webhook, methods=["POST"])]
