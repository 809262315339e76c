"""The settings: one field per environment variable, each in README's Settings table once,
parsed and checked when read, and kept out of logs when secret."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import fields, replace

import pytest
from starlette.testclient import TestClient

from bot.channels.telegram import TelegramSettings
from bot.channels.whatsapp import WhatsAppSettings
from bot.settings import PROJECT_ROOT, Settings, child_environment, get_settings

ENV_NAMES = [spec.metadata["env"] for spec in fields(Settings)]


def readme_settings_names() -> list[str]:
    """Every backticked UPPER_CASE name in the first column of README's Settings table."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    names = []
    for row in rows[2:]:  # after the header and the |---| line
        first_cell = row.split("|")[1]
        names += re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell)
    return names


def test_readme_table_lists_every_setting_once_and_nothing_else():
    in_readme = readme_settings_names()
    assert sorted(set(in_readme)) == sorted(in_readme), "a variable is in the table twice"
    assert set(ENV_NAMES) - set(in_readme) == set(), "settings missing from README's table"
    assert set(in_readme) - set(ENV_NAMES) == set(), "README lists variables Settings lacks"


def test_each_field_is_named_after_its_variable_and_says_what_it_does():
    for spec in fields(Settings):
        assert spec.name == spec.metadata["env"].lower()
        assert spec.metadata["help"].strip() and "\n" not in spec.metadata["help"]
    assert len(set(ENV_NAMES)) == len(ENV_NAMES)


def test_defaults_run_the_demo_shop():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.store_database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'store.db'}"
    assert settings.rate_limit_messages_per_minute == 20
    assert settings.delivery_retry_delays == (2.0, 10.0, 30.0, 120.0)
    assert settings.widget_origins == ("*",)
    assert settings.faq_answer_threshold is None
    assert settings.console_secure_cookies is False and settings.explain_local is False
    assert settings.action_time_budget_seconds == 8.0


def test_values_are_parsed_into_their_types():
    settings = Settings.from_env(
        {
            "DELIVERY_RETRY_DELAYS": "2,10",
            "RATE_LIMIT_MESSAGES_PER_MINUTE": " 5 ",
            "CONSOLE_SECURE_COOKIES": "1",
            "EXPLAIN_LOCAL": "false",
            "WIDGET_ORIGINS": "https://shop.example, https://www.shop.example,",
            "FAQ_ANSWER_THRESHOLD": "0.9",
            "VERIFY_LOCK_MINUTES": "0.5",
            "FAQ_PATH": "",  # empty counts as unset
        }
    )
    assert settings.delivery_retry_delays == (2.0, 10.0)
    assert settings.rate_limit_messages_per_minute == 5
    assert settings.console_secure_cookies is True and settings.explain_local is False
    assert settings.widget_origins == ("https://shop.example", "https://www.shop.example")
    assert settings.faq_answer_threshold == 0.9 and settings.faq_suggest_threshold is None
    assert settings.verify_lock_minutes == 0.5
    assert settings.faq_path == Settings().faq_path


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("RATE_LIMIT_MESSAGES_PER_MINUTE", "lots", "whole number"),
        ("RATE_LIMIT_CONVERSATIONS_PER_MINUTE", "0", "at least 1"),
        ("DELIVERY_RETRY_DELAYS", "2,soon", "number"),
        ("DELIVERY_RETRY_DELAYS", "2,-1", "at least 0"),
        ("STORE_DB_BUSY_SECONDS", "nan", "number"),
        ("CONSOLE_SECURE_COOKIES", "maybe", "1 or 0"),
        ("ORDER_SOURCE", "shop.orders", "package.module:ClassName"),
    ],
)
def test_a_bad_value_names_its_variable(name, value, problem):
    with pytest.raises(ValueError, match=problem) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value)


def test_settings_are_frozen_and_secrets_stay_out_of_their_repr():
    settings = Settings.from_env(
        {
            "STAFF_PASSWORD": "hunter2-hunter2",
            "TELEGRAM_BOT_TOKEN": "123:telegram-token",
            "WHATSAPP_TOKEN": "graph-token",
            "WHATSAPP_PHONE_NUMBER_ID": "555",
            "WHATSAPP_APP_SECRET": "app-secret",
            "WHATSAPP_VERIFY_TOKEN": "verify-token",
        }
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.rasa_url = "http://elsewhere"  # type: ignore[misc]
    shown = repr(settings) + repr(TelegramSettings.from_settings(settings))
    shown += repr(WhatsAppSettings.from_settings(settings))
    for secret in ("hunter2", "telegram-token", "graph-token", "app-secret", "verify-token"):
        assert secret not in shown
    assert "555" in shown  # not a secret


def test_channels_are_on_only_with_their_settings():
    assert TelegramSettings.from_settings(Settings()) is None
    assert WhatsAppSettings.from_settings(Settings()) is None
    almost = Settings(whatsapp_token="t", whatsapp_phone_number_id="1", whatsapp_app_secret="s")
    assert WhatsAppSettings.from_settings(almost) is None
    whatsapp = WhatsAppSettings.from_settings(replace(almost, whatsapp_verify_token="v"))
    assert whatsapp is not None and whatsapp.api_url == "https://graph.facebook.com/v21.0"
    polling = TelegramSettings.from_settings(Settings(telegram_bot_token="1:x"))
    assert polling is not None and polling.webhook_url is None and polling.api_url is None
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramSettings.from_settings(
            Settings(telegram_bot_token="1:x", telegram_webhook_url="https://bot.example/tg")
        )


def test_settings_are_read_once_until_the_cache_is_cleared(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_MESSAGES_PER_MINUTE", "7")
    get_settings.cache_clear()
    assert get_settings().rate_limit_messages_per_minute == 7
    monkeypatch.setenv("RATE_LIMIT_MESSAGES_PER_MINUTE", "8")
    assert get_settings() is get_settings()
    assert get_settings().rate_limit_messages_per_minute == 7
    get_settings.cache_clear()
    assert get_settings().rate_limit_messages_per_minute == 8


def test_child_processes_get_this_environment_with_extras(monkeypatch):
    monkeypatch.setenv("FAQ_MODEL", "minilm")
    env = child_environment({"RASA_URL": "http://127.0.0.1:5999"})
    assert env["FAQ_MODEL"] == "minilm" and env["RASA_URL"] == "http://127.0.0.1:5999"


def test_the_app_uses_the_settings_it_is_given(store):
    from bot.gateway.app import create_app

    settings = Settings(widget_origins=("https://shop.example",), rate_limit_messages_per_minute=3)
    app = create_app(settings, engine=store)
    assert app.state.settings is settings
    assert app.state.gateway.message_limit.limit == 3
    with TestClient(app) as client:
        preflight = {"access-control-request-method": "POST"}
        ours = client.options(
            "/api/conversations", headers={"origin": "https://shop.example", **preflight}
        )
        assert ours.headers["access-control-allow-origin"] == "https://shop.example"
        theirs = client.options(
            "/api/conversations", headers={"origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in theirs.headers


@pytest.mark.parametrize("explain_local", [False, True])
def test_explain_local_lets_this_machine_explain_without_a_login(store, explain_local):
    from bot.gateway.app import create_app
    from bot.stack import free_port

    settings = Settings(explain_local=explain_local, rasa_url=f"http://127.0.0.1:{free_port()}")
    app = create_app(settings, engine=store)
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        answer = local.post("/api/explain", json={"text": "hi"})
    with TestClient(app) as remote:
        assert remote.post("/api/explain", json={"text": "hi"}).status_code == 401
    # Let through, it reaches Rasa, which is down here.
    assert answer.status_code == (503 if explain_local else 401)
