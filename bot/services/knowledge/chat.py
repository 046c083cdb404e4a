"""The knowledge base in chat: `/kb words`, and the `k` buttons offered before a new ticket.

Button data: `k:<ticket>:v:<article>` shows an article (handled here); `k:<ticket>:s` (solved)
and `k:<ticket>:c` (continue) go to the engine's deflection handler.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.db.models import Article
from bot.knowledge.markdown import one_line
from bot.render import render, shorten
from bot.services import buttons as data
from bot.services.context import CallbackHandler, Ctx, Registry, toast
from bot.services.knowledge.matches import Match, search
from bot.services.messages import Button, Outcome

RESULTS = 5  # matches shown for /kb


def install(registry: Registry, *, deflection: CallbackHandler | None = None) -> None:
    """Register `/kb words` and the `k` buttons.

    `deflection(ctx, parts)` handles the engine's "solved" (`k:<ticket>:s`) and "continue"
    (`k:<ticket>:c`) buttons; "show article" (`k:<ticket>:v:<article>`) is handled here.
    """
    registry.command("kb", kb_command)
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
        shown = data.ShowArticle.parse(parts)
        if shown is not None:
            return show_article(ctx, shown.article)
        if deflection is not None and data.Deflected.parse(parts) is not None:
            return deflection(ctx, parts)
        return ctx.refuse_button("expired")

    return handle


def show_article(ctx: Ctx, article_id: int) -> Outcome | None:
    """Send the start of an article to the chat."""
    article = ctx.session.get(Article, article_id)
    if article is None:
        return toast("article_gone")
    ctx.say("kb/article.html", article=article, excerpt=shorten_body(article.body))
    return None


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
                data.ShowArticle(ticket_id, "v", m.article_id).encode(),
            ),
        )
        for m in list(matches)[:3]
    ]
    rows.append(
        (
            Button(render("kb/button.txt", kind="solved"), data.Deflected(ticket_id, "s").encode()),
            Button(
                render("kb/button.txt", kind="continue"), data.Deflected(ticket_id, "c").encode()
            ),
        )
    )
    return tuple(rows)
