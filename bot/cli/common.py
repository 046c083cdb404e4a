"""What every command needs: the config (exit 2 when it is unusable) and the database."""

from __future__ import annotations

import argparse
import sys

from bot.config import Config, ConfigError, load_config


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


def subcommand(sub, common, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser that accepts `--config PATH` after its name."""
    return sub.add_parser(name, parents=[common], help=help_text, description=help_text)
