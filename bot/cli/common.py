"""What every command needs: the config (exit 2 when it is unusable), the services, and words."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from bot.app import MigrationFailed, Services
from bot.config import Config, ConfigError, load_config, mask_url
from bot.render import render, speak_by_default
from bot.services.database import trouble


def words(family: str, what: str, /, **data: object) -> str:
    """The sentence `what` of `bot/templates/cli/<family>.txt`, with `data` put into it."""
    text = render(f"cli/{family}.txt", what=what, **data)
    if not text:  # a code the template does not know would otherwise print an empty line
        raise LookupError(f"cli/{family}.txt has no words for {what!r}")
    return text


def say(family: str, what: str, /, *, file: TextIO | None = None, **data: object) -> None:
    """Print one sentence of `cli/<family>.txt` (to stdout unless `file` says otherwise)."""
    print(words(family, what, **data), file=file or sys.stdout)


def complain(message: str, file: TextIO | None = None) -> None:
    """A message about what went wrong, on stderr, marked as sopbot's."""
    print(words("common", "complaint", message=message), file=file or sys.stderr)


class Exit(SystemExit):
    """Leave a command with a status after printing a message to stderr."""

    def __init__(self, code: int, message: str):
        complain(message)
        super().__init__(code)


def load(args: argparse.Namespace) -> Config:
    """The config; from here on the command speaks the team's language."""
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as e:
        raise Exit(2, words("common", "bad_configuration", error=str(e))) from None
    speak_by_default(config.language)
    return config


@contextmanager
def services(
    config: Config,
    *,
    migrate: bool | None = None,
    revision: str = "head",
    long_running: bool = False,
) -> Iterator[Services]:
    """The composition root for one command, closed when it is done (see `bot.app.Services`).

    A database that cannot be used (a bad URL, unreachable, locked) or migrated ends the
    command with status 1 and one line saying why, never a traceback.
    """
    built = Services(config, migrate=migrate, revision=revision, checkpoints=long_running)
    url = mask_url(config.database.url)
    try:
        yield built
    except Exception as e:
        found = trouble(e)  # one line for the person, no traceback
        if isinstance(e, MigrationFailed) and not (found and found[0] == "busy"):
            cause = found[1] if found else str(e.cause)
            raise Exit(1, words("common", "cannot_migrate", url=url, cause=cause)) from e
        if found is not None:
            code, detail = found
            raise Exit(1, words("common", f"database_{code}", url=url, detail=detail)) from e
        raise
    finally:
        built.close()


def subcommand(sub, common, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser that accepts `--config PATH` after its name."""
    return sub.add_parser(name, parents=[common], help=help_text, description=help_text)
