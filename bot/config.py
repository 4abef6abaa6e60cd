"""Settings read from the environment (design.md §4).

A missing or bad setting raises ConfigError with one line naming the variable;
the CLI turns it into exit code 2 without a traceback.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_MAX_BODY = 1024 * 1024  # Slack's payloads are a few KB; a big modal's submission well under 100 KB
MIN_SECRET_LENGTH = 16  # an HMAC key short enough to guess would let anyone forge survey links


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = ""
    policy_path: str | None = None
    port: int = 3000
    max_body: int = DEFAULT_MAX_BODY
    public_url: str | None = None  # where `serve --http` is reachable from outside (survey links)
    secret: str | None = field(default=None, repr=False)  # signs survey links (bot.quality.survey_tokens)
    log_format: str = "text"  # or json: one JSON object per line

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'escalator.db'}"


def _check_database_url(url: str) -> None:
    """A URL SQLAlchemy can't parse, or whose database it doesn't know, stops here in one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "an SQLAlchemy URL such as sqlite:////abs/path.db or postgresql+psycopg://user@host/db"
    if "://" not in url:
        raise ConfigError(f"DATABASE_URL must be {example}")
    try:
        make_url(url).get_dialect()
    except (ArgumentError, ValueError):  # unparsable (a port that isn't a number: ValueError), or an unknown
        # database or driver; never echoes the URL, which may hold a password
        raise ConfigError(f"DATABASE_URL names no database SQLAlchemy knows; it must be {example}") from None


def load_settings(env: dict[str, str] | None = None, *, need_slack: bool = True) -> Settings:
    env = dict(os.environ if env is None else env)

    def text(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    def required(name: str) -> str:
        value = text(name)
        if value is None and need_slack:
            raise ConfigError(f"{name} is not set")
        return value or ""

    bot_token = required("SLACK_BOT_TOKEN")
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    signing_secret = required("SLACK_SIGNING_SECRET")
    app_token = text("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                          "(Slack refuses others: not_allowed_token_type)")

    api_url = text("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError("SLACK_API_URL must be an http(s) URL ending in /api/")
    if not api_url.endswith("/"):
        api_url += "/"

    database_url = text("DATABASE_URL") or default_database_url()
    _check_database_url(database_url)

    policy_path = text("ESCALATOR_POLICY")
    if policy_path and not Path(policy_path).is_file():
        raise ConfigError(f"ESCALATOR_POLICY: no such file: {policy_path}")

    port_text = text("PORT") or "3000"
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"PORT must be a port number, got {port_text!r}") from None

    max_body = _byte_size("ESCALATOR_MAX_BODY", text("ESCALATOR_MAX_BODY"), DEFAULT_MAX_BODY)

    public_url = text("ESCALATOR_PUBLIC_URL")
    if public_url and not re.fullmatch(r"https?://[^\s/?#<>|]+(/[^\s?#<>|]*)?", public_url):
        raise ConfigError("ESCALATOR_PUBLIC_URL must be the http(s) URL the server is reachable at, "
                          "such as https://escalator.example.com")
    secret = text("ESCALATOR_SECRET")
    if public_url and not secret:
        raise ConfigError("ESCALATOR_SECRET is not set (required with ESCALATOR_PUBLIC_URL: it signs survey links)")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"ESCALATOR_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
    log_format = (text("ESCALATOR_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"ESCALATOR_LOG_FORMAT must be text or json, got {text('ESCALATOR_LOG_FORMAT')!r}")

    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        slack_api_url=api_url,
        database_url=database_url,
        policy_path=policy_path,
        port=port,
        max_body=max_body,
        public_url=public_url.rstrip("/") if public_url else None,
        secret=secret,
        log_format=log_format,
    )


_BYTE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "mib": 1024 ** 2}


def _byte_size(name: str, value: str | None, default: int) -> int:
    """`1048576`, `512KiB`, `2MiB` (K and M are binary: 1024 and 1024²)."""
    if value is None:
        return default
    match = re.fullmatch(r"(\d{1,12})\s*([a-zA-Z]*)", value)
    unit = match and _BYTE_UNITS.get(match.group(2).lower())
    if not unit or int(match.group(1)) * unit < 1024:
        raise ConfigError(f"{name} must be a size of at least 1KiB such as 1048576, 512KiB or 2MiB, got {value!r}")
    return int(match.group(1)) * unit
