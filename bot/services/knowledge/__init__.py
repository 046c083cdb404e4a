"""Knowledge articles: written when a ticket is resolved, indexed, searched, offered.

- `files`: the article file store (atomic writes, put back on rollback, free names; never
  outside the knowledge folder);
- `search_index`: the full-text index, one class per database behind the `SearchIndex` protocol;
- `matches`: `search` and `suggest` (candidates from the index, scored by `bot.knowledge.ranking`);
- `reindexing`: `reindex` and `refresh_if_changed` (the folder scanned, fingerprinted, stored);
- `articles`: `write_article` for a resolved ticket, `write_index`, `list_articles`;
- `chat`: `/kb`, the `k` buttons, `deflection_buttons`, `show_article`.

Every entry point works inside the caller's transaction.
"""

from bot.services.knowledge.articles import (
    DoneStep,
    ResolvedTicket,
    list_articles,
    write_article,
    write_index,
)
from bot.services.knowledge.chat import (
    deflection_buttons,
    install,
    kb_command,
    shorten_body,
    show_article,
)
from bot.services.knowledge.files import atomic_write
from bot.services.knowledge.matches import Match, search, suggest
from bot.services.knowledge.reindexing import ReindexReport, refresh_if_changed, reindex
from bot.services.knowledge.search_index import SearchIndex, index_for

__all__ = [
    "DoneStep",
    "Match",
    "ReindexReport",
    "ResolvedTicket",
    "SearchIndex",
    "atomic_write",
    "deflection_buttons",
    "index_for",
    "install",
    "kb_command",
    "list_articles",
    "refresh_if_changed",
    "reindex",
    "search",
    "shorten_body",
    "show_article",
    "suggest",
    "write_article",
    "write_index",
]
