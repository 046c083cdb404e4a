"""The commands Telegram shows in its menu (registered with setMyCommands at start-up)."""

from __future__ import annotations

import re
from typing import Any

from telegram import BotCommand

# Telegram allows lower-case names of up to 32 characters and descriptions of up to 256.
COMMANDS: tuple[BotCommand, ...] = tuple(
    BotCommand(name, description)
    for name, description in (
        ("new", "Open a ticket from a procedure"),
        ("mine", "Tickets you reported or are assigned"),
        ("open", "All open tickets"),
        ("show", "Show a ticket: /show 12"),
        ("set", "Change a field: /set 12 field value"),
        ("assign", "Assign a ticket: /assign 12 @someone"),
        ("steps", "The steps of a ticket and what is done"),
        ("comment", "Add a comment: /comment 12 text"),
        ("resolve", "Resolve a ticket"),
        ("reopen", "Reopen a resolved ticket"),
        ("close", "Close a resolved ticket"),
        ("skip", "Skip an optional question"),
        ("cancel", "Cancel what you are doing"),
        ("kb", "Search the knowledge base"),
        ("audit", "Audit trail of a ticket (leads)"),
        ("stats", "Ticket figures (leads)"),
        ("catchup", "What happened while you were away"),
        ("help", "What this bot does and how to use it"),
    )
)


_NAME = re.compile(r"[a-z0-9_]{1,32}")
DESCRIPTION_LIMIT = 256


def menu(conversation: Any) -> list[BotCommand]:
    """The engine's own command list when it offers one (so the menu shows what works), else
    the list above; names Telegram would refuse are left out."""
    offered = getattr(conversation, "commands", None)
    pairs = offered() if callable(offered) else [(c.command, c.description) for c in COMMANDS]
    return [
        BotCommand(name, description[:DESCRIPTION_LIMIT])
        for name, description in pairs
        if _NAME.fullmatch(name) and description.strip()
    ]
