"""The commands Telegram shows in its menu (registered with setMyCommands at start-up).

One menu per scope: members' private chats without the lead commands, each lead's private chat
with them, group chats with what works there. Telegram picks the most specific scope a chat
has, so a lead's own chat scope wins over the one for all private chats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)

from bot.domain.languages import LANGUAGES
from bot.render import render, speaking

# The menu of an engine that offers none (a test double): these names, described in the words
# of chat/commands.txt. Telegram allows lower-case names of up to 32 characters and
# descriptions of up to 256.
COMMAND_NAMES = (
    "new",
    "mine",
    "open",
    "show",
    "set",
    "assign",
    "steps",
    "comment",
    "resolve",
    "reopen",
    "close",
    "skip",
    "cancel",
    "kb",
    "audit",
    "stats",
    "catchup",
    "help",
)
COMMANDS: tuple[BotCommand, ...] = tuple(
    BotCommand(name, render("chat/commands.txt", name=name)) for name in COMMAND_NAMES
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


@dataclass(frozen=True)
class ScopedMenu:
    scope: BotCommandScope
    commands: list[BotCommand]
    # Telegram shows a menu with a language code to people whose app is in that language
    # (`zh`), and the one without to everyone else.
    language_code: str | None = None


def scoped_menus(conversation: Any, leads: frozenset[int]) -> list[ScopedMenu]:
    """Every menu to register, the default first (in the language being spoken: the team's),
    then each scope again in every language sopbot speaks; an engine without scoped menus (a
    test double) gets its one list as the default, as before."""
    if not callable(getattr(conversation, "menu", None)):
        return [ScopedMenu(BotCommandScopeDefault(), menu(conversation))]
    menus = _scoped(conversation, leads)
    for language in LANGUAGES:
        with speaking(language):
            code = language.split("-")[0]
            menus += [replace(m, language_code=code) for m in _scoped(conversation, leads)]
    return menus


def _scoped(conversation: Any, leads: frozenset[int]) -> list[ScopedMenu]:
    members = _valid(conversation.menu(lead=False, group=False))
    menus = [
        ScopedMenu(BotCommandScopeDefault(), members),
        ScopedMenu(BotCommandScopeAllPrivateChats(), members),
        ScopedMenu(
            BotCommandScopeAllGroupChats(), _valid(conversation.menu(lead=False, group=True))
        ),
    ]
    with_leads = _valid(conversation.menu(lead=True, group=False))
    menus += [ScopedMenu(BotCommandScopeChat(lead), with_leads) for lead in sorted(leads)]
    return menus


def _valid(pairs: list[tuple[str, str]]) -> list[BotCommand]:
    return [
        BotCommand(name, description[:DESCRIPTION_LIMIT])
        for name, description in pairs
        if _NAME.fullmatch(name) and description.strip()
    ]
