"""`sopbot run`: the bot on Telegram until SIGINT/SIGTERM; the terminal chat when no token is set.

Start-up, in order: logging (once, here), migrations (when `database.auto_migrate`), a check of
every procedure (the invalid ones are logged, the bot starts anyway), then the bot.
"""

from __future__ import annotations

import logging
import sys

from telegram.error import InvalidToken, NetworkError

from bot.cli.common import Exit, load, subcommand
from bot.config import ENV_TOKEN, Config, mask_url
from bot.db import migrate
from bot.db.engine import make_engine
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
    if config.database.auto_migrate:
        migrate_database(config)
    check_procedures(config)
    if not config.telegram.token:
        print(
            "sopbot: no Telegram token is configured, so this is the terminal chat.\n"
            f"To run on Telegram, set {ENV_TOKEN} or telegram.token in the config file.",
            file=sys.stderr,
        )
        from bot.chat import run_chat

        return int(run_chat(config) or 0)
    return run_telegram(config)


def configure_logging(config: Config) -> None:
    """Logging for the whole process, set up once; the token never reaches a log line."""
    logging.basicConfig(level=config.log_level, format=LOG_FORMAT, stream=sys.stderr)
    install_log_redaction(config.telegram.token)


def migrate_database(config: Config) -> None:
    engine = make_engine(config.database.url)
    try:
        migrate.upgrade(engine)
        revision = migrate.current_revision(engine)
    except Exception as e:
        raise Exit(
            1, f"could not migrate the database at {mask_url(config.database.url)}: {e}"
        ) from e
    finally:
        engine.dispose()
    log.info("database at %s is at revision %s", mask_url(config.database.url), revision)


def check_procedures(config: Config) -> None:
    """Log every invalid procedure with its problems; the valid ones are offered as usual."""
    from bot.procedures.store import ProcedureStore

    try:
        summaries = ProcedureStore(config.procedures_dir).summaries()
    except Exception as e:
        log.error("cannot read the procedures in %s: %s", config.procedures_dir, e)
        return
    for summary in summaries:
        if not summary.valid:
            problems = "; ".join(str(p) for p in summary.problems) or "unknown problem"
            log.error("procedure %s is invalid and will not be offered: %s", summary.id, problems)
    valid = sum(1 for s in summaries if s.valid)
    log.info("%d of %d procedures in %s are valid", valid, len(summaries), config.procedures_dir)


def run_telegram(config: Config) -> int:
    from bot.app import build_services
    from bot.telegram.application import build_application, run

    tg = config.telegram
    mode = f"webhook at {tg.webhook.url}" if tg.mode == "webhook" else "long polling"

    def ready(username: str) -> None:
        print(f"sopbot is running on Telegram as @{username} ({mode})", flush=True)

    services = build_services(config, migrate_db=False)
    application = build_application(services, on_ready=ready)
    try:
        run(application, config)
    except InvalidToken as e:
        raise Exit(2, f"Telegram refused the bot token; check {ENV_TOKEN} or telegram.token") from e
    except NetworkError as e:
        message = redact(str(e), secrets_of(tg.token))
        raise Exit(1, f"cannot reach Telegram at {tg.base_url}: {message}") from e
    except RuntimeError as e:  # webhook mode without its extra
        raise Exit(2, str(e)) from e
    print("sopbot stopped", file=sys.stderr, flush=True)
    return 0
