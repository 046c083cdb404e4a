"""`sopbot feed tail`: follow the changefeed, one JSON line per change (the reference client).

It polls `/changes/head.json` with `If-None-Match`, so an idle feed costs a 304 per poll, and
fetches `/changes` pages only when the head moved. Each page must continue the audit chain from
the cursor it was asked from; if not, it stops (exit 4). Exit 3: the server no longer knows the
cursor (410). Exit 2: refused (401) or bad arguments.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TextIO

import httpx

from bot.cli.common import Exit, complain, load, subcommand, words
from bot.config import Config
from bot.domain.durations import DurationError, parse_duration
from bot.services.feed import MAX_LIMIT, continues

ENV_TOKEN = "SOPBOT_FEED_TOKEN"
GONE, BROKEN, REFUSED, UNREACHABLE = 3, 4, 2, 1


def register(sub, common) -> None:
    feed = subcommand(sub, common, "feed", "follow the HTTP changefeed")
    inner = feed.add_subparsers(dest="feed_command", metavar="COMMAND", required=True)
    tail = subcommand(inner, common, "tail", "print changes as JSON lines as they happen")
    tail.add_argument(
        "--url", help="the API's base URL (default: the config's http: listen and port)"
    )
    tail.add_argument("--token", help=f"bearer token (default: ${ENV_TOKEN})")
    tail.add_argument("--cursor", help="continue after this cursor (default: the beginning)")
    tail.add_argument("--since", help="start from this date or ISO time instead of a cursor")
    tail.add_argument("--interval", default="5s", help="how often to poll the head (5s)")
    tail.add_argument("--limit", type=int, default=MAX_LIMIT, help="changes per page")
    tail.add_argument("--once", action="store_true", help="catch up once, then exit")
    tail.set_defaults(func=run_tail)


def run_tail(args) -> int:
    token = args.token or os.environ.get(ENV_TOKEN, "")
    if not token:
        raise Exit(REFUSED, words("feed", "no_token", env=ENV_TOKEN))
    try:
        interval = parse_duration(args.interval).total_seconds()
    except DurationError as e:
        raise Exit(REFUSED, words("feed", "bad_interval", error=str(e))) from None
    return tail(
        args.url or feed_url(load(args)),
        token,
        cursor=args.cursor,
        since=args.since,
        interval=interval,
        limit=args.limit,
        once=args.once,
    )


def feed_url(config: Config) -> str:
    """Where this config's bot serves the feed; an address that listens everywhere is reached
    on this machine."""
    host = config.http.listen
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.http.port}"


def tail(
    url: str,
    token: str,
    *,
    cursor: str | None = None,
    since: str | None = None,
    interval: float = 5.0,
    limit: int = MAX_LIMIT,
    once: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Follow the feed from `cursor` (or `since`, or the beginning); the exit status."""
    # Read at call time, not import time: a redirected stdout or stderr is the one written to.
    out, err = out or sys.stdout, err or sys.stderr
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    etag: str | None = None
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30) as client:
        try:
            while True:
                head = client.get(
                    "/changes/head.json", headers={"If-None-Match": etag} if etag else {}
                )
                if head.status_code == 401:
                    complain(words("feed", "refused"), err)
                    return REFUSED
                if head.status_code == 200:
                    etag = head.headers.get("etag")
                    if head.json()["cursor"] != cursor:
                        status, cursor = _drain(client, cursor, since, limit, out, err)
                        since = None
                        if status:
                            return status
                elif head.status_code != 304:
                    head.raise_for_status()
                if once:
                    return 0
                time.sleep(interval)
        except KeyboardInterrupt:
            return 130
        except httpx.TransportError as e:
            complain(words("feed", "unreachable", url=url, error=str(e) or type(e).__name__), err)
            return UNREACHABLE
        except httpx.HTTPStatusError as e:
            complain(words("feed", "server_error", url=url, status=e.response.status_code), err)
            return UNREACHABLE
        finally:
            if cursor:
                complain(words("feed", "resume", cursor=cursor), err)


def _drain(
    client: httpx.Client,
    cursor: str | None,
    since: str | None,
    limit: int,
    out: TextIO,
    err: TextIO,
) -> tuple[int, str | None]:
    """Fetch pages until the feed has no more; (exit status or 0, the new cursor)."""
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        elif since:
            params["since"] = since
        r = client.get("/changes", params=params)
        if r.status_code == 410:
            complain(words("feed", "gone", cursor=cursor), err)
            complain(r.json().get("message", ""), err)  # the server's own words: what to do now
            return GONE, None
        r.raise_for_status()
        page = r.json()
        if cursor and not continues(cursor, page):
            complain(words("feed", "broken", cursor=cursor), err)
            return BROKEN, cursor
        for item in page["items"]:
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()
        cursor = page["next_cursor"]
        if not page["more"]:
            return 0, cursor
