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
from bot.services.context import Ctx, Registry, toast
from bot.services.knowledge.matches import Match, search
from bot.services.messages import Button, Outcome

RESULTS = 5  # matches shown for /kb


def install(registry: Registry) -> None:
    """`/kb words` and the "show article" buttons under offered articles (their "solved" and
    "continue" are the engine's: they answer the ticket's question)."""
    registry.command("kb", kb_command)
    registry.button(data.ShowArticle, _show_button)


def kb_command(ctx: Ctx, args: str) -> Outcome | None:
    """/kb words: the best matching articles, with their titles and paths."""
    if not args.strip():
        ctx.say("kb/usage.html")
        return None
    ctx.say("kb/results.html", query=one_line(args), matches=search(ctx.session, args, RESULTS))
    return None


def _show_button(ctx: Ctx, pressed: data.ShowArticle) -> Outcome | None:
    return show_article(ctx, pressed.article)


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
