"""Every setting of the assistant in one typed, frozen object, read once from the environment.

Each field names its environment variable and says in one line what it does; README.md's
"Settings" table lists the same variables (tests/unit/test_settings.py keeps the two in
step). All are optional: the defaults run the bundled demo shop. An empty variable counts
as unset. The rest of the code asks `get_settings()` rather than reading `os.environ`.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "store.db"
DEFAULT_TRACKER_DB_PATH = PROJECT_ROOT / "var" / "tracker.db"
SEED_FILE = PROJECT_ROOT / "data" / "shop" / "seed.yml"
SHOP_POLICY_FILE = PROJECT_ROOT / "data" / "shop" / "policy.yml"
DEFAULT_FAQ = PROJECT_ROOT / "data" / "faq"
DEFAULT_FAQ_MODEL = "e5-small+use-m3"  # why: README, "The FAQ"

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def setting(
    env: str, about: str, default: Any, *, secret: bool = False, at_least: float | None = None
) -> Any:
    """A field read from the variable `env`. A secret is left out of the repr, so logging
    the settings never shows it; `at_least` is the smallest value that makes sense."""
    metadata = {"env": env, "help": about, "at_least": at_least}
    return field(default=default, repr=not secret, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    # Where things are kept
    store_database_url: str = setting(
        "STORE_DATABASE_URL",
        "the shop database (`postgresql+psycopg://...` works)",
        f"sqlite:///{DEFAULT_DB_PATH}",
    )
    tracker_database_url: str = setting(
        "TRACKER_DATABASE_URL",
        "where Rasa keeps conversations, so a restart keeps slots and a verified order",
        f"sqlite:///{DEFAULT_TRACKER_DB_PATH}",
    )
    rasa_url: str = setting(
        "RASA_URL",
        "where the gateway finds Rasa (set by `make run`); several, comma-separated: each "
        "conversation keeps to one while it is up",
        "http://127.0.0.1:5005",
    )
    redis_url: str = setting(
        "REDIS_URL",
        "Redis for state several gateways share: rate limits, live updates, per-conversation "
        "order, delivery retries (unset: one gateway, in its memory)",
        "",
        secret=True,
    )
    # Who may talk to whom (docs/operations.md, "What is protected")
    rasa_secret: str = setting(
        "RASA_SECRET",
        "the gateway's key to Rasa's channel (unset: generated under var/secrets)",
        "",
        secret=True,
    )
    action_server_secret: str = setting(
        "ACTION_SERVER_SECRET",
        "Rasa's key to the action server (unset: generated under var/secrets)",
        "",
        secret=True,
    )
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES",
        "comma-separated addresses whose X-Forwarded-For/-Proto are believed (unset: none)",
        (),
    )
    max_request_bytes: int = setting(
        "MAX_REQUEST_BYTES", "the largest request body the gateway reads", 1_048_576, at_least=1024
    )
    # The staff console and the web widget
    console_secure_cookies: bool = setting(
        "CONSOLE_SECURE_COOKIES",
        "the console's cookie is always `Secure` (otherwise over HTTPS only)",
        False,
    )
    widget_origins: tuple[str, ...] = setting(
        "WIDGET_ORIGINS",
        "comma-separated shop origins allowed to embed the web widget (`*`: any)",
        ("*",),
    )
    explain_local: bool = setting(
        "EXPLAIN_LOCAL",
        "`POST /api/explain` without a login from the gateway's own machine (scripts)",
        False,
    )
    staff_password: str = setting(
        "STAFF_PASSWORD",
        "the password for `bot staff add/password`, for scripts (else asked)",
        "",
        secret=True,
    )
    # Telegram: on when the token is set
    telegram_bot_token: str = setting(
        "TELEGRAM_BOT_TOKEN", "the Telegram bot's token (unset: no Telegram)", "", secret=True
    )
    telegram_api_url: str = setting(
        "TELEGRAM_API_URL", "a local Bot API server instead of Telegram's", ""
    )
    telegram_webhook_url: str = setting(
        "TELEGRAM_WEBHOOK_URL", "webhook mode at this public URL (unset: long polling)", ""
    )
    telegram_webhook_secret: str = setting(
        "TELEGRAM_WEBHOOK_SECRET",
        "the secret token Telegram's webhook requests must carry",
        "",
        secret=True,
    )
    # WhatsApp: on when the first four are set
    whatsapp_token: str = setting("WHATSAPP_TOKEN", "the Graph API access token", "", secret=True)
    whatsapp_phone_number_id: str = setting(
        "WHATSAPP_PHONE_NUMBER_ID", "the WhatsApp number the assistant sends from", ""
    )
    whatsapp_app_secret: str = setting(
        "WHATSAPP_APP_SECRET", "signs Meta's webhook requests", "", secret=True
    )
    whatsapp_verify_token: str = setting(
        "WHATSAPP_VERIFY_TOKEN", "the webhook subscription handshake's token", "", secret=True
    )
    whatsapp_api_url: str = setting(
        "WHATSAPP_API_URL", "the Graph API", "https://graph.facebook.com/v21.0"
    )
    whatsapp_update_templates: str = setting(
        "WHATSAPP_UPDATE_TEMPLATES",
        "approved templates for order updates outside WhatsApp's 24-hour window: "
        '`kind=name:param,param;...` (docs/operations.md, "Order updates")',
        "",
    )
    # Orders and the FAQ
    order_source: str = setting(
        "ORDER_SOURCE",
        "`shopify`, `woocommerce`, or `package.module:Class` implementing `bot.orders.OrderSource` "
        "(unset: the SQL store)",
        "",
    )
    shopify_shop_url: str = setting(
        "SHOPIFY_SHOP_URL", "`ORDER_SOURCE=shopify`: the shop, https://NAME.myshopify.com", ""
    )
    shopify_access_token: str = setting(
        "SHOPIFY_ACCESS_TOKEN",
        "the Admin API access token of the shop's custom app",
        "",
        secret=True,
    )
    shopify_api_version: str = setting("SHOPIFY_API_VERSION", "the Admin API version", "2025-01")
    woocommerce_url: str = setting(
        "WOOCOMMERCE_URL", "`ORDER_SOURCE=woocommerce`: the shop's site, https://shop.example", ""
    )
    woocommerce_consumer_key: str = setting(
        "WOOCOMMERCE_CONSUMER_KEY", "the REST API key (`ck_...`)", "", secret=True
    )
    woocommerce_consumer_secret: str = setting(
        "WOOCOMMERCE_CONSUMER_SECRET", "the REST API key's secret (`cs_...`)", "", secret=True
    )
    shopify_webhook_secret: str = setting(
        "SHOPIFY_WEBHOOK_SECRET",
        "the app's client secret, which signs Shopify's order webhooks (unset: none accepted)",
        "",
        secret=True,
    )
    woocommerce_webhook_secret: str = setting(
        "WOOCOMMERCE_WEBHOOK_SECRET",
        "the secret of the shop's order webhooks (unset: none accepted)",
        "",
        secret=True,
    )
    shop_webhook_secret: str = setting(
        "SHOP_WEBHOOK_SECRET",
        "signs the demo shop's order events (`bot shop advance`); unset: generated in var/secrets",
        "",
        secret=True,
    )
    quiet_hours: str = setting(
        "QUIET_HOURS",
        "when order updates wait, in the shop's time zone (`21:00-08:00`; unset: none)",
        "",
    )
    updates_check_seconds: float = setting(
        "UPDATES_CHECK_SECONDS",
        "how often waiting order updates are sent and subscribed orders checked for lateness",
        60.0,
        at_least=0.05,
    )
    late_check_minutes: float = setting(
        "LATE_CHECK_MINUTES",
        "how often subscribed orders are read to notice one past its promised window",
        60.0,
        at_least=0.001,
    )
    order_source_timeout_seconds: float = setting(
        "ORDER_SOURCE_TIMEOUT_SECONDS",
        "how long one request to the shop's platform may take",
        5.0,
        at_least=0.1,
    )
    order_source_retries: int = setting(
        "ORDER_SOURCE_RETRIES",
        "retries of a platform request refused with 429 or a 5xx (reads; changes only if unsent)",
        2,
        at_least=0,
    )
    faq_path: str = setting("FAQ_PATH", "the FAQ file or folder", str(DEFAULT_FAQ))
    shop_language: str = setting(
        "SHOP_LANGUAGE",
        "the language a conversation starts in when nothing else tells (a shipped catalog's code)",
        "en",
    )
    faq_model: str = setting(
        "FAQ_MODEL",
        "`e5-small+use-m3`, `e5-small`, `use-m3`, `minilm` or `st:/path/to/model`",
        DEFAULT_FAQ_MODEL,
    )
    faq_encoder_threads: int = setting(
        "FAQ_ENCODER_THREADS",
        "CPU threads per FAQ encoder; `bot faq build` (`make faq-index`) uses every core",
        1,
        at_least=1,
    )
    faq_answer_threshold: float | None = setting(
        "FAQ_ANSWER_THRESHOLD",
        "answer when the best entry is at least this likely right (0-1; calibrated per model)",
        None,
    )
    faq_suggest_threshold: float | None = setting(
        "FAQ_SUGGEST_THRESHOLD",
        "offer entries when the best is at least this likely right (0-1)",
        None,
    )
    # Staff: alerts by email (optional) and the satisfaction survey
    smtp_host: str = setting(
        "SMTP_HOST", "the SMTP server for new-ticket emails to on-duty staff (unset: none)", ""
    )
    smtp_port: int = setting("SMTP_PORT", "its port", 587, at_least=1)
    smtp_username: str = setting("SMTP_USERNAME", "its login (unset: none)", "")
    smtp_password: str = setting("SMTP_PASSWORD", "its password", "", secret=True)
    smtp_starttls: bool = setting("SMTP_STARTTLS", "upgrade the connection with STARTTLS", True)
    alert_email_from: str = setting(
        "ALERT_EMAIL_FROM", "the sender of alert emails", "assistant@localhost"
    )
    alert_email_to: tuple[str, ...] = setting(
        "ALERT_EMAIL_TO", "on-duty staff's addresses, comma-separated (unset: no emails)", ()
    )
    csat_comment_minutes: float = setting(
        "CSAT_COMMENT_MINUTES",
        "after a rating, how long the shopper's next typed message counts as its comment",
        10.0,
        at_least=0,
    )
    # Limits and timings
    rate_limit_messages_per_minute: int = setting(
        "RATE_LIMIT_MESSAGES_PER_MINUTE",
        "per sender; over it the bot is not asked",
        20,
        at_least=1,
    )
    rate_limit_conversations_per_minute: int = setting(
        "RATE_LIMIT_CONVERSATIONS_PER_MINUTE",
        "new web/API conversations per client address",
        10,
        at_least=1,
    )
    verify_lock_minutes: float = setting(
        "VERIFY_LOCK_MINUTES",
        "how long failed verifications count: 3 lock a sender, VERIFY_ORDER_MAX_FAILURES an order",
        30.0,
        at_least=0,
    )
    verify_order_max_failures: int = setting(
        "VERIFY_ORDER_MAX_FAILURES",
        "failed proofs of one order, from any senders, that pause its self-service proof",
        5,
        at_least=1,
    )
    stored_messages_per_minute: int = setting(
        "STORED_MESSAGES_PER_MINUTE",
        "per sender, beyond the rate limit; more are dropped, not stored (the shopper is told)",
        60,
        at_least=1,
    )
    streams_per_conversation: int = setting(
        "STREAMS_PER_CONVERSATION", "open live-update streams per conversation", 4, at_least=1
    )
    streams_total: int = setting(
        "STREAMS_TOTAL", "open live-update streams on one gateway", 2000, at_least=1
    )
    retention_days: int = setting(
        "RETENTION_DAYS",
        "transcripts, tickets, Rasa's trackers and verification rows older than this are deleted "
        "(0: kept)",
        365,
        at_least=0,
    )
    delivery_retry_delays: tuple[float, ...] = setting(
        "DELIVERY_RETRY_DELAYS",
        "seconds between retries of a failed Telegram/WhatsApp send (comma-separated)",
        (2.0, 10.0, 30.0, 120.0),
        at_least=0,
    )
    store_db_busy_seconds: float = setting(
        "STORE_DB_BUSY_SECONDS",
        "how long a SQLite write waits for a lock before a 503",
        15.0,
        at_least=0,
    )
    action_time_budget_seconds: float = setting(
        "ACTION_TIME_BUDGET_SECONDS",
        "how long an action may take before the shopper gets an apology and a person",
        8.0,
        at_least=0.001,
    )

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """RASA_URL's servers, in the order given."""
        return tuple(url.strip().rstrip("/") for url in self.rasa_url.split(",") if url.strip())

    def __post_init__(self) -> None:
        for spec in fields(self):
            value, least = getattr(self, spec.name), spec.metadata["at_least"]
            values = value if isinstance(value, tuple) else (value,)
            if least is not None and any(v < least for v in values):
                raise ValueError(f"{spec.metadata['env']} must be at least {least:g}")
        named = ("shopify", "woocommerce")
        if self.order_source and ":" not in self.order_source and self.order_source not in named:
            raise ValueError(
                "ORDER_SOURCE must be shopify, woocommerce or look like package.module:ClassName"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (default: this process's environment); a value that does
        not parse raises ValueError naming its variable."""
        env = os.environ if env is None else env
        kinds = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.metadata["env"]
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                values[spec.name] = _parse(kinds[spec.name], raw)
            except ValueError as error:
                shown = f"={raw!r}" if spec.repr else ""  # never echo a secret
                raise ValueError(f"{name}{shown}: {error}") from None
        return cls(**values)


def _parse(kind: Any, raw: str) -> Any:
    """One value of type `kind` from its text (str is taken as it is, the rest stripped)."""
    if kind is str:
        return raw
    text = raw.strip()
    if kind is bool:
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ValueError("expected 1 or 0 (true/false, yes/no, on/off)")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind is float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError("expected a number")
        return number
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_parse(item, part.strip()) for part in text.split(",") if part.strip())
    if typing.get_origin(kind) in (types.UnionType, typing.Union):  # X | None
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _parse(inner, text)
    raise TypeError(f"no parser for settings of type {kind}")


@cache
def get_settings() -> Settings:
    """This process's settings, read from the environment on first use. Tests that change
    the environment call `get_settings.cache_clear()`."""
    return Settings.from_env()


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process (the action server, Rasa, the gateway): this
    process's own, so the child reads the same settings, with `extra` on top."""
    return {**os.environ, **(extra or {})}


def keep_hugging_face_offline() -> None:
    """huggingface_hub (under sentence-transformers) reads HF_HUB_OFFLINE itself; without it
    a model load looks the model up online, which hangs on a machine without internet."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
