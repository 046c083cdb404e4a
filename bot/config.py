"""Configuration: built-in defaults < config file < environment, checked strictly at start.

Every key is declared once in `_SPEC`; anything else in the file is refused with the file, the key
and what was expected. The bot token is never echoed back, not even in an error.

One module on purpose: the declaration of every key, its checks and the typed result are read
together whenever a key is added, and split apart they would have to repeat each key's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.domain.durations import DurationError, parse_duration
from bot.domain.languages import ENGLISH, LANGUAGES, language_of

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ENV_CONFIG = "SOPBOT_CONFIG"
ENV_TOKEN = "SOPBOT_TELEGRAM_TOKEN"
ENV_DATABASE_URL = "SOPBOT_DATABASE_URL"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class WebhookConfig:
    url: str = ""
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "telegram"
    secret_token: str = ""


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    base_url: str = DEFAULT_BASE_URL
    mode: str = "polling"
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    leave_unknown_chats: bool = True
    unknown_chat_message: str = "This bot works only in its team's chats. Goodbye!"


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""
    auto_migrate: bool = True


@dataclass(frozen=True)
class ChatConfig:
    id: int
    name: str
    # What the bot says to the whole group is in this language; None: the team's.
    language: str | None = None


@dataclass(frozen=True)
class RemindersConfig:
    sweep_every: int = 60
    quiet_hours: tuple[time, time] | None = None
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    daily_digest: time | None = None


@dataclass(frozen=True)
class ConsumerConfig:
    name: str
    token: str
    chats: tuple[int, ...] = ()


SCOPES = ("read", "write", "lead")


@dataclass(frozen=True)
class ClientConfig:
    """A program allowed to use the write API and `/mcp`: audited as actor `agent:NAME`."""

    name: str
    token: str
    scopes: frozenset[str] = frozenset({"read"})
    chats: tuple[int, ...] = ()

    def may(self, scope: str) -> bool:
        # `lead` implies `write`, and `write` implies `read`.
        implied = {"read": ("read", "write", "lead"), "write": ("write", "lead"), "lead": ("lead",)}
        return any(s in self.scopes for s in implied[scope])


@dataclass(frozen=True)
class WebhookTargetConfig:
    """A receiver of signed change-feed items; no `events` means every kind."""

    name: str
    url: str
    secret: str
    events: tuple[str, ...] = ()
    chats: tuple[int, ...] = ()


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 8080
    consumers: tuple[ConsumerConfig, ...] = ()
    clients: tuple[ClientConfig, ...] = ()
    # The live view under /app/ (docs/dashboard.md); `public_url` is where people reach this
    # server (the links `/dashboard` sends start with it).
    dashboard: bool = False
    public_url: str = ""
    session_hours: int = 12


@dataclass(frozen=True)
class Config:
    """The effective configuration, with relative paths already resolved."""

    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    procedures_dir: Path = Path("procedures")
    knowledge_dir: Path = Path("knowledge")
    # Files people sent, stored by the sha256 of their bytes (beside the database by default).
    attachments_dir: Path = Path("attachments")
    timezone: str = "UTC"
    language: str = ENGLISH  # the team's: for whoever has no language of their own
    leads: frozenset[int] = frozenset()
    members: frozenset[int] = frozenset()
    chats: tuple[ChatConfig, ...] = ()
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    log_level: str = "INFO"
    source: Path | None = None
    agents: frozenset[int] = frozenset()  # other bots whose messages count as a member's
    webhooks: tuple[WebhookTargetConfig, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def chat_language(self, chat_id: int) -> str:
        """The language of messages to a whole team chat: its own, else the team's."""
        chat = next((c for c in self.chats if c.id == chat_id), None)
        return (chat.language if chat else None) or self.language

    @property
    def default_chat(self) -> ChatConfig | None:
        return self.chats[0] if self.chats else None

    def is_lead(self, user_id: int) -> bool:
        return user_id in self.leads

    def is_member(self, user_id: int) -> bool:
        """Leads and agents are members; an empty members list lets anyone in."""
        if not self.members or user_id in self.leads or user_id in self.agents:
            return True
        return user_id in self.members

    def role_of(self, user_id: int) -> str:
        """`lead`, `member` or `not_member`: what /start and the terminal chat tell a person."""
        if self.is_lead(user_id):
            return "lead"
        return "member" if self.is_member(user_id) else "not_member"


# --- reading values -------------------------------------------------------------------------


class _Bad(Exception):
    """A value of the wrong form; the message says what was expected."""


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad(f"expected a string, got {type(v).__name__}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"expected true or false, got {type(v).__name__}")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"expected an integer, got {type(v).__name__}")
    return v


def _port(v: Any) -> int:
    n = _int(v)
    if not 0 <= n <= 65535:
        raise _Bad(f"expected a port number 0-65535, got {n}")
    return n


def _choice(*allowed: str) -> Callable[[Any], str]:
    def read(v: Any) -> str:
        if v not in allowed:
            raise _Bad(f"expected one of: {', '.join(allowed)}, got {v!r}")
        return v

    return read


def _ids(v: Any) -> frozenset[int]:
    if v is None:
        return frozenset()
    if not isinstance(v, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in v):
        raise _Bad("expected a list of Telegram user ids (integers)")
    return frozenset(v)


def _timezone(v: Any) -> str:
    name = _str(v)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"expected an IANA time zone name like Europe/Berlin, got {name!r}") from None
    return name


def _language(v: Any) -> str:
    language = language_of(_str(v))
    if language is None:
        raise _Bad(f"expected one of {', '.join(LANGUAGES)}, got {v!r}")
    return language


def _duration_seconds(v: Any) -> int:
    try:
        return int(parse_duration(v).total_seconds())
    except DurationError as e:
        raise _Bad(str(e)) from None


_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(v: Any) -> time:
    m = _CLOCK.match(_str(v).strip())
    if not m:
        raise _Bad(f"expected a time of day HH:MM, got {v!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _optional_clock(v: Any) -> time | None:
    return None if v in (None, "") else _clock(v)


def _quiet_hours(v: Any) -> tuple[time, time] | None:
    if v in (None, ""):
        return None
    text = _str(v)
    start, sep, end = text.partition("-")
    if not sep:
        raise _Bad(f'expected a range like "20:00-08:00", got {text!r}')
    begin, finish = _clock(start), _clock(end)
    if begin == finish:
        raise _Bad("quiet hours must not start and end at the same time")
    return begin, finish


def _weekdays(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list) or not v:
        raise _Bad(f"expected a non-empty list of days from: {', '.join(WEEKDAYS)}")
    days = []
    for d in v:
        if not isinstance(d, str) or d.lower()[:3] not in WEEKDAYS:
            raise _Bad(f"expected days from: {', '.join(WEEKDAYS)}, got {d!r}")
        days.append(WEEKDAYS.index(d.lower()[:3]))
    return tuple(sorted(set(days)))


def _log_level(v: Any) -> str:
    return _choice("DEBUG", "INFO", "WARNING", "ERROR")(_str(v).upper())


# key -> reader; nested sections are dicts. Lists of records are read by their own functions.
_SPEC: dict[str, Any] = {
    "telegram": {
        "token": _str,
        "base_url": _str,
        "mode": _choice("polling", "webhook"),
        "webhook": {
            "url": _str,
            "listen": _str,
            "port": _port,
            "path": _str,
            "secret_token": _str,
        },
        "leave_unknown_chats": _bool,
        "unknown_chat_message": _str,
    },
    "database": {"url": _str, "auto_migrate": _bool},
    "procedures_dir": _str,
    "knowledge_dir": _str,
    "attachments_dir": _str,
    "timezone": _timezone,
    "language": _language,
    "leads": _ids,
    "members": _ids,
    "chats": "chats",
    "reminders": {
        "sweep_every": _duration_seconds,
        "quiet_hours": _quiet_hours,
        "working_days": _weekdays,
        "daily_digest": _optional_clock,
    },
    "http": {
        "listen": _str,
        "port": _port,
        "consumers": "consumers",
        "clients": "clients",
        "dashboard": _bool,
        "public_url": _str,
        "session_hours": _int,
    },
    "log_level": _log_level,
    "agents": _ids,
    "webhooks": "webhooks",
}


def _read_chats(v: Any, where: str) -> tuple[ChatConfig, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list of chats, each with id and name")
    chats = []
    for i, item in enumerate(v):
        key = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: expected a mapping with id and name")
        _refuse_unknown(item, {"id", "name", "language"}, key)
        try:
            chat_id = _int(item.get("id"))
            name = _str(item.get("name", str(chat_id)))
            language = _language(item["language"]) if "language" in item else None
        except _Bad as e:
            raise ConfigError(f"{key}: {e}") from None
        chats.append(ChatConfig(chat_id, name, language))
    if len({c.id for c in chats}) != len(chats):
        raise ConfigError(f"{where}: the same chat id is listed twice")
    return tuple(chats)


def _read_consumers(v: Any, where: str) -> tuple[ConsumerConfig, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list of consumers, each with name and token")
    consumers = []
    for i, item in enumerate(v):
        key = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{key}: expected a mapping with name, token and optional chats")
        _refuse_unknown(item, {"name", "token", "chats"}, key)
        try:
            name = _str(item.get("name"))
            token = item.get("token")
            if not isinstance(token, str) or len(token) < 16:
                raise _Bad("token: expected a secret string of at least 16 characters")
            chats = tuple(sorted(_ids(item.get("chats"))))
        except _Bad as e:
            raise ConfigError(f"{key}: {e}") from None
        consumers.append(ConsumerConfig(name, token, chats))
    return tuple(consumers)


def _token(v: Any) -> str:
    if not isinstance(v, str) or len(v) < 16:
        raise _Bad("token: expected a secret string of at least 16 characters")
    return v


def _records(v: Any, where: str, what: str) -> list[tuple[str, dict[str, Any]]]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list of {what}")
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}[{i}]: expected a mapping")
        out.append((f"{where}[{i}]", item))
    return out


def _read_clients(v: Any, where: str) -> tuple[ClientConfig, ...]:
    clients = []
    for key, item in _records(v, where, "clients, each with name, token and scopes"):
        _refuse_unknown(item, {"name", "token", "scopes", "chats"}, key)
        try:
            name = _str(item.get("name"))
            token = _token(item.get("token"))
            scopes = item.get("scopes", ["read"])
            if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes):
                raise _Bad(f"scopes: expected a list from: {', '.join(SCOPES)}")
            chats = tuple(sorted(_ids(item.get("chats"))))
        except _Bad as e:
            raise ConfigError(f"{key}: {e}") from None
        clients.append(ClientConfig(name, token, frozenset(scopes), chats))
    if len({c.name for c in clients}) != len(clients):
        raise ConfigError(f"{where}: the same client name is listed twice")
    return tuple(clients)


def _read_webhooks(v: Any, where: str) -> tuple[WebhookTargetConfig, ...]:
    hooks = []
    for key, item in _records(v, where, "webhooks, each with name, url and secret"):
        _refuse_unknown(item, {"name", "url", "secret", "events", "chats"}, key)
        try:
            name = _str(item.get("name"))
            url = _str(item.get("url"))
            if not url.startswith(("http://", "https://")):
                raise _Bad("url: expected an http:// or https:// address")
            secret = item.get("secret")
            if not isinstance(secret, str) or len(secret) < 16:
                raise _Bad("secret: expected a secret string of at least 16 characters")
            events = item.get("events") or []
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                raise _Bad("events: expected a list of change kinds (ticket.opened, ...)")
            chats = tuple(sorted(_ids(item.get("chats"))))
        except _Bad as e:
            raise ConfigError(f"{key}: {e}") from None
        hooks.append(WebhookTargetConfig(name, url, secret, tuple(events), chats))
    if len({h.name for h in hooks}) != len(hooks):
        raise ConfigError(f"{where}: the same webhook name is listed twice")
    return tuple(hooks)


def _refuse_unknown(data: Mapping[str, Any], known: set[str] | Mapping[str, Any], where: str):
    for key in data:
        if key not in known:
            expected = ", ".join(sorted(known))
            prefix = f"{where}." if where else ""
            raise ConfigError(f"{prefix}{key}: unknown key (expected one of: {expected})")


def _walk(data: Any, spec: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'top level'}: expected a mapping of keys")
    _refuse_unknown(data, spec, where)
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        reader = spec[key]
        if isinstance(reader, dict):
            out[key] = _walk(value if value is not None else {}, reader, path)
        elif reader == "chats":
            out[key] = _read_chats(value, path)
        elif reader == "consumers":
            out[key] = _read_consumers(value, path)
        elif reader == "clients":
            out[key] = _read_clients(value, path)
        elif reader == "webhooks":
            out[key] = _read_webhooks(value, path)
        else:
            try:
                out[key] = reader(value)
            except _Bad as e:
                # The token's value is never shown: say only what form was expected.
                raise ConfigError(f"{path}: {e}") from None
    return out


def find_config_file(explicit: str | os.PathLike | None, env: Mapping[str, str]) -> Path | None:
    """--config PATH, else $SOPBOT_CONFIG, else ./config.yaml when it exists."""
    if explicit:
        return Path(explicit)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    local = Path("config.yaml")
    return local if local.is_file() else None


def load_config(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Build the effective configuration; raises ConfigError naming the file and the key."""
    env = os.environ if env is None else env
    source = find_config_file(path, env)
    raw: dict[str, Any] = {}
    base = Path.cwd()
    label = "config"
    if source is not None:
        label = str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such config file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{source}: cannot read: {e}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or "not valid YAML"
            raise ConfigError(f"{source}{pos}: {problem}") from None
        if loaded is not None:
            try:
                raw = _walk(loaded, _SPEC, "")
            except ConfigError as e:
                raise ConfigError(f"{source}: {e}") from None
        base = source.resolve().parent
    return _build(raw, env, base, source, label)


def _build(
    raw: dict[str, Any], env: Mapping[str, str], base: Path, source: Path | None, label: str
) -> Config:
    tg = raw.get("telegram", {})
    webhook = WebhookConfig(**tg.get("webhook", {}))
    telegram = TelegramConfig(**{k: v for k, v in tg.items() if k != "webhook"}, webhook=webhook)
    if env.get(ENV_TOKEN):
        telegram = replace(telegram, token=env[ENV_TOKEN].strip())
    if telegram.mode == "webhook" and not telegram.webhook.url:
        raise ConfigError(f"{label}: telegram.webhook.url: required when telegram.mode is webhook")

    database = DatabaseConfig(**raw.get("database", {}))
    url = env.get(ENV_DATABASE_URL) or database.url or "sqlite:///sopbot.db"
    database = replace(database, url=_resolve_sqlite(url, base))

    http_raw = raw.get("http")
    http = HttpConfig() if http_raw is None else HttpConfig(enabled=True, **http_raw)

    return Config(
        telegram=telegram,
        database=database,
        procedures_dir=_resolve(raw.get("procedures_dir", "procedures"), base),
        knowledge_dir=_resolve(raw.get("knowledge_dir", "knowledge"), base),
        attachments_dir=_resolve(
            raw.get("attachments_dir") or str(_beside_database(database.url, base)), base
        ),
        timezone=raw.get("timezone", "UTC"),
        language=raw.get("language", ENGLISH),
        leads=raw.get("leads", frozenset()),
        members=raw.get("members", frozenset()),
        chats=raw.get("chats", ()),
        reminders=RemindersConfig(**raw.get("reminders", {})),
        http=http,
        log_level=raw.get("log_level", "INFO"),
        source=source,
        agents=raw.get("agents", frozenset()),
        webhooks=raw.get("webhooks", ()),
    )


def _resolve(p: str, base: Path) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else base / path


def _beside_database(url: str, base: Path) -> Path:
    """`attachments/` next to the SQLite file, or next to the config for a database server."""
    prefix = "sqlite:///"
    rest = url[len(prefix) :] if url.startswith(prefix) else ""
    if rest and not rest.startswith(":memory:"):
        return Path(rest).parent / "attachments"
    return base / "attachments"


def _resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite path is taken beside the config file, not the current directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            return prefix + str(base / rest)
    return url


def mask_secret(value: str) -> str:
    return "<set>" if value else "<not set>"


def mask_url(url: str) -> str:
    """Hide a password inside a database URL."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def describe(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, secrets masked, for `sopbot config check`."""
    tg = config.telegram
    return {
        "source": str(config.source) if config.source else "(defaults; no config file)",
        "telegram": {
            "token": mask_secret(tg.token),
            "base_url": tg.base_url,
            "mode": tg.mode,
            "webhook": {
                "url": tg.webhook.url,
                "listen": tg.webhook.listen,
                "port": tg.webhook.port,
                "path": tg.webhook.path,
                "secret_token": mask_secret(tg.webhook.secret_token),
            },
            "leave_unknown_chats": tg.leave_unknown_chats,
            "unknown_chat_message": tg.unknown_chat_message,
        },
        "database": {
            "url": mask_url(config.database.url),
            "auto_migrate": config.database.auto_migrate,
        },
        "procedures_dir": str(config.procedures_dir),
        "knowledge_dir": str(config.knowledge_dir),
        "attachments_dir": str(config.attachments_dir),
        "timezone": config.timezone,
        "language": config.language,
        "leads": sorted(config.leads),
        "members": sorted(config.members),
        "chats": [
            {"id": c.id, "name": c.name, **({"language": c.language} if c.language else {})}
            for c in config.chats
        ],
        "reminders": {
            "sweep_every": f"{config.reminders.sweep_every}s",
            "quiet_hours": (
                "-".join(t.strftime("%H:%M") for t in config.reminders.quiet_hours)
                if config.reminders.quiet_hours
                else ""
            ),
            "working_days": [WEEKDAYS[d] for d in config.reminders.working_days],
            "daily_digest": (
                config.reminders.daily_digest.strftime("%H:%M")
                if config.reminders.daily_digest
                else ""
            ),
        },
        "http": {
            "enabled": config.http.enabled,
            "listen": config.http.listen,
            "port": config.http.port,
            "consumers": [
                {"name": c.name, "token": mask_secret(c.token), "chats": list(c.chats)}
                for c in config.http.consumers
            ],
            "clients": [
                {
                    "name": c.name,
                    "token": mask_secret(c.token),
                    "scopes": sorted(c.scopes),
                    "chats": list(c.chats),
                }
                for c in config.http.clients
            ],
            "dashboard": config.http.dashboard,
            "public_url": config.http.public_url,
            "session_hours": config.http.session_hours,
        },
        "log_level": config.log_level,
        "agents": sorted(config.agents),
        "webhooks": [
            {
                "name": h.name,
                "url": h.url,
                "secret": mask_secret(h.secret),
                "events": list(h.events),
                "chats": list(h.chats),
            }
            for h in config.webhooks
        ],
    }
