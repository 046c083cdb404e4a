"""`sopbot config check`: validate the configuration and print it with secrets masked."""

from __future__ import annotations

import yaml

from bot.cli.common import load, say, subcommand
from bot.config import describe


def register(sub, common) -> None:
    config = subcommand(sub, common, "config", "inspect the configuration")
    inner = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = subcommand(inner, common, "check", "validate and print the effective configuration")
    check.set_defaults(func=check_config)


def check_config(args) -> int:
    cfg = load(args)
    print(yaml.safe_dump(describe(cfg), sort_keys=False, allow_unicode=True), end="")
    say("config", "valid")
    return 0
