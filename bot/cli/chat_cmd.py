"""`sopbot chat`: the conversation engine in a terminal, for trying sopbot and for scripts."""

from __future__ import annotations

from bot.cli.common import load, services, subcommand


def register(sub, common) -> None:
    chat = subcommand(sub, common, "chat", "chat with the bot in this terminal (stdin/stdout)")
    chat.add_argument("--user", metavar="NAME", help="who is talking: a name or a Telegram id")
    chat.add_argument(
        "--chat",
        metavar="ID",
        type=int,
        help="chat id (a team group's id to play a group chat; default: a private chat)",
    )
    chat.add_argument(
        "--language",
        metavar="LANG",
        help="the language you read, as a Telegram app would say it: en or zh-CN "
        "(default: the team's language)",
    )
    chat.set_defaults(func=run)


def run(args) -> int:
    from bot.chat import run_chat, terminal_config, terminal_user

    config = load(args)
    user = terminal_user(config, args.user)
    with services(terminal_config(config, user), long_running=True) as built:
        return run_chat(
            built,
            user=user,
            chat_id=args.chat,
            leads_given=bool(config.leads),
            language=args.language,
        )
