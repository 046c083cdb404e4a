"""`sopbot webhooks test NAME`: POST a signed sample item to one configured receiver now, so
whoever sets up the receiver can check its signature check before real changes arrive."""

from __future__ import annotations

import asyncio
import sys

import httpx

from bot.cli.common import Exit, load, say, subcommand, words
from bot.http.webhook_sender import TIMEOUT, post, utc_now
from bot.services.webhooks import sample


def register(sub, common) -> None:
    hooks = subcommand(sub, common, "webhooks", "signed webhooks of the change feed")
    inner = hooks.add_subparsers(dest="webhooks_command", metavar="COMMAND", required=True)
    test = subcommand(inner, common, "test", "send a signed sample to one webhook now")
    test.add_argument("name", help="the webhook's name in the config")
    test.set_defaults(func=run_test)


def run_test(args) -> int:
    config = load(args)
    targets = {h.name: h for h in config.webhooks}
    if args.name not in targets:
        raise Exit(2, words("webhooks", "unknown", name=args.name, names=list(targets)))
    delivery = sample(targets[args.name], utc_now())

    async def send() -> str | None:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            return await post(http, delivery)

    error = asyncio.run(send())
    url = delivery.target.url
    if error is not None:
        say("webhooks", "failed", name=args.name, url=url, error=error, file=sys.stderr)
        return 1
    say("webhooks", "sent", name=args.name, url=url)
    return 0
