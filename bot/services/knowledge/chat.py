"""The knowledge base in chat: `/kb words`, and the `k` buttons offered before a new ticket.

Button data: `k:<ticket>:v:<article>` shows an article (handled here); `k:<ticket>:s` (solved)
and `k:<ticket>:c` (continue) go to the engine's deflection handler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.db.models import Article
from bot.knowledge.markdown import one_line
from bot.render import render, shorten
from bot.services.context import CallbackHandler, Ctx, Registry
from bot.services.knowledge.matches import Match, search
from bot.services.messages import Button, Outcome

RESULTS = 5  # matches shown for /kb
_ID = re.compile(r"[0-9]{1,10}")  # ids as the bot writes them: a 32-bit integer in ASCII digits


def install(registry: Registry, *, deflection: CallbackHandler | None = None) -> None:
    """Register `/kb words` and the `k` buttons.

    `deflection(ctx, parts)` handles the engine's "solved" (`k:<ticket>:s`) and "continue"
    (`k:<ticket>:c`) buttons; "show article" (`k:<ticket>:v:<article>`) is handled here.
    """
    registry.command("kb", kb_command, summary=render("kb/command.txt"))
    registry.callback("k", _button_handler(deflection))


def kb_command(ctx: Ctx, args: str) -> Outcome | None:
    """/kb words: the best matching articles, with their titles and paths."""
    if not args.strip():
        ctx.say("kb/usage.html")
        return None
    ctx.say("kb/results.html", query=one_line(args), matches=search(ctx.session, args, RESULTS))
    return None


def _button_handler(deflection: CallbackHandler | None) -> CallbackHandler:
    def handle(ctx: Ctx, parts: list[str]) -> Outcome | None:
        """A press on a deflection button: show an article, or hand over to the engine."""
        if len(parts) == 3 and parts[1] == "v" and _is_id(parts[0]) and _is_id(parts[2]):
            return show_article(ctx, int(parts[2]))
        if len(parts) == 2 and parts[1] in ("s", "c") and _is_id(parts[0]) and deflection:
            return deflection(ctx, parts)
        return _toast("expired")

    return handle


def _is_id(part: str) -> bool:
    return _ID.fullmatch(part) is not None


def show_article(ctx: Ctx, article_id: int) -> Outcome | None:
    """Send the start of an article to the chat."""
    article = ctx.session.get(Article, article_id)
    if article is None:
        return _toast("gone")
    ctx.say("kb/article.html", article=article, excerpt=shorten_body(article.body))
    return None


def _toast(reason: str) -> Outcome:
    """A short answer to a button press, from `kb/toast.txt`."""
    return Outcome(toast=render("kb/toast.txt", reason=reason))


def shorten_body(body: str, limit: int = 1500) -> str:
    """About `limit` characters of an article's text, cut at a line break when possible."""
    if len(body) <= limit:
        return body
    cut = body.rfind("\n", 0, limit)
    return body[: cut if cut > limit // 2 else limit].rstrip() + "\n…"


def deflection_buttons(ticket_id: int, matches: Iterable[Match]) -> tuple[tuple[Button, ...], ...]:
    """One "show" button per offered article (three at most), then Solved and Continue."""
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                render("kb/button.txt", kind="view", title=shorten(m.title, 40)),
                _data(f"k:{int(ticket_id)}:v:{int(m.article_id)}"),
            ),
        )
        for m in list(matches)[:3]
    ]
    rows.append(
        (
            Button(render("kb/button.txt", kind="solved"), _data(f"k:{int(ticket_id)}:s")),
            Button(render("kb/button.txt", kind="continue"), _data(f"k:{int(ticket_id)}:c")),
        )
    )
    return tuple(rows)


def _data(data: str) -> str:
    if len(data.encode()) > 64:
        raise ValueError(f"callback data longer than Telegram's 64 bytes: {data!r}")
    return data
