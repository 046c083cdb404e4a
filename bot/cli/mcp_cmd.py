"""`sopbot mcp`: the MCP tools over stdio, for an AI agent that starts sopbot as a subprocess.

The agent is one of the API's clients: its token comes from the environment (never the command
line, where other users could read it) and decides its scopes, chats and audit name. Stdout is
the protocol; logs go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.cli.common import Exit, load, services, subcommand, words
from bot.http.api import utc_now
from bot.mcp.tools import build_mcp
from bot.services.api.context import authenticate

ENV_TOKEN = "SOPBOT_API_TOKEN"


def register(sub, common) -> None:
    mcp = subcommand(sub, common, "mcp", "serve the MCP tools over stdio (for an AI agent)")
    mcp.set_defaults(func=run_mcp)


def run_mcp(args) -> int:
    config = load(args)
    logging.basicConfig(level=config.log_level, stream=sys.stderr)
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise Exit(2, words("mcp", "no_token", env=ENV_TOKEN))
    client = authenticate(config, token)
    if client is None:
        raise Exit(2, words("mcp", "refused", env=ENV_TOKEN))
    with services(config, long_running=True) as built:
        build_mcp(built.api, config, utc_now, client=client).run("stdio")
    return 0
