"""What every command needs: the config (exit 2 when it is unusable) and the services."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bot.app import MigrationFailed, Services
from bot.config import Config, ConfigError, load_config, mask_url


class Exit(SystemExit):
    """Leave a command with a status after printing a message to stderr."""

    def __init__(self, code: int, message: str):
        print(f"sopbot: {message}", file=sys.stderr)
        super().__init__(code)


def load(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as e:
        raise Exit(2, f"bad configuration: {e}") from None


@contextmanager
def services(
    config: Config,
    *,
    migrate: bool | None = None,
    revision: str = "head",
    long_running: bool = False,
) -> Iterator[Services]:
    """The composition root for one command, closed when it is done (see `bot.app.Services`).

    A database that cannot be migrated ends the command with status 1 and says why.
    """
    built = Services(config, migrate=migrate, revision=revision, checkpoints=long_running)
    try:
        yield built
    except MigrationFailed as e:
        raise Exit(1, f"could not migrate the database at {mask_url(e.url)}: {e.cause}") from e
    finally:
        built.close()


def subcommand(sub, common, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser that accepts `--config PATH` after its name."""
    return sub.add_parser(name, parents=[common], help=help_text, description=help_text)
