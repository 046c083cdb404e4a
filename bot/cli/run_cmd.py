"""`sopbot run`: the bot on Telegram until SIGINT/SIGTERM; the terminal chat when no token is set.

Start-up, in order: logging (once, here), migrations (when `database.auto_migrate`), a check of
every procedure (the invalid ones are logged, the bot starts anyway), then the bot.
"""

from __future__ import annotations

import logging
import sys

from telegram.error import InvalidToken, NetworkError

from bot.app import Services
from bot.cli.common import Exit, load, say, services, subcommand, words
from bot.config import ENV_TOKEN, Config, mask_url
from bot.procedures import ProcedureStore
from bot.telegram.errors import install_log_redaction, redact, secrets_of

log = logging.getLogger("sopbot")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def register(sub, common) -> None:
    run = subcommand(
        sub, common, "run", "run the bot on Telegram (the terminal chat when no token is set)"
    )
    run.set_defaults(func=run_bot)


def run_bot(args) -> int:
    config = load(args)
    configure_logging(config)
    if not config.telegram.token:
        return run_terminal(config)
    with services(config, long_running=True) as built:
        open_database(built)
        check_procedures(built.procedures)
        return run_telegram(built)


def run_terminal(config: Config) -> int:
    """No token: the terminal chat, its person a lead when the config names none."""
    from bot.chat import run_chat, terminal_config, terminal_user

    user = terminal_user(config, None)
    with services(terminal_config(config, user), long_running=True) as built:
        open_database(built)
        check_procedures(built.procedures)
        say("run", "terminal_chat", env=ENV_TOKEN, file=sys.stderr)
        return run_chat(built, user=user, leads_given=bool(config.leads))


def configure_logging(config: Config) -> None:
    """Logging for the whole process, set up once; the token never reaches a log line."""
    logging.basicConfig(level=config.log_level, format=LOG_FORMAT, stream=sys.stderr)
    install_log_redaction(config.telegram.token)


def open_database(built: Services) -> None:
    """Open the database now (migrating it as configured), so a failure ends the start-up."""
    built.db  # noqa: B018 - opening it is the point
    if built.migrate:
        url = mask_url(built.config.database.url)
        log.info("database at %s is at revision %s", url, built.revision)


def check_procedures(store: ProcedureStore) -> None:
    """Log every invalid procedure with its problems; the valid ones are offered as usual."""
    try:
        summaries = store.summaries()
    except Exception as e:
        log.error("cannot read the procedures in %s: %s", store.directory, e)
        return
    for summary in summaries:
        if not summary.valid:
            problems = "; ".join(str(p) for p in summary.problems) or "unknown problem"
            log.error("procedure %s is invalid and will not be offered: %s", summary.id, problems)
    valid = sum(1 for s in summaries if s.valid)
    log.info("%d of %d procedures in %s are valid", valid, len(summaries), store.directory)


def run_telegram(built: Services) -> int:
    from bot.telegram.application import WebhookServerMissing, build_application, run

    tg = built.config.telegram
    webhook = tg.webhook.url if tg.mode == "webhook" else None

    def ready(username: str) -> None:
        print(words("run", "running", username=username, webhook=webhook), flush=True)

    application = build_application(built, on_ready=ready)
    try:
        run(application, built.config)
    except InvalidToken as e:
        raise Exit(2, words("run", "token_refused", env=ENV_TOKEN)) from e
    except NetworkError as e:
        message = redact(str(e), secrets_of(tg.token))
        raise Exit(1, words("run", "unreachable", url=tg.base_url, error=message)) from e
    except WebhookServerMissing as e:  # a virtualenv without sopbot's own dependencies
        raise Exit(2, words("run", "no_webhook_server")) from e
    print(words("run", "stopped"), file=sys.stderr, flush=True)
    return 0
