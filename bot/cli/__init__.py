"""`sopbot ...`: the command line. Each command group lives in its own module here."""

from __future__ import annotations

import argparse
import contextvars
import importlib
import sys

from bot import __version__

# One line per command group; each module has `register(subparsers, common)`.
COMMAND_MODULES = (
    "bot.cli.config_cmd",
    "bot.cli.db_cmd",
    "bot.cli.procedures_cmd",
    "bot.cli.run_cmd",
    "bot.cli.chat_cmd",
    "bot.cli.audit_cmd",
    "bot.cli.stats_cmd",
    "bot.cli.sweep_cmd",
    "bot.cli.feed_cmd",
    "bot.cli.kb_cmd",
    "bot.cli.mcp_cmd",
    "bot.cli.webhooks_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $SOPBOT_CONFIG, else ./config.yaml if present)",
    )
    parser = argparse.ArgumentParser(
        prog="sopbot",
        description="SOP-as-code ticketing bot for Telegram.",
    )
    parser.add_argument("--version", action="version", version=f"sopbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        # In a context of its own: the language a command speaks (the config's, set as it is
        # loaded) ends with the command, even when main runs twice in one process (tests).
        return int(contextvars.copy_context().run(args.func, args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sopbot audit export | head` closes the pipe early; that is not an error.
        sys.stderr.close()
        return 0
    except OSError as e:  # a file to read or write (--chart, -o, ...): one line, no traceback
        from bot.cli.common import complain, words

        complain(words("common", "file_error", path=e.filename, error=e.strerror or str(e)))
        return 1
