"""The composition root: every part of sopbot built from one config, in one place.

Each entry point (`sopbot run`, `sopbot chat`, every `sopbot ...` command, the HTTP API, the
Telegram application) makes one `Services` and reaches the parts through its typed attributes.
A part is built when it is first asked for, so `sopbot procedures list` never opens the
database; whether and how far the database is migrated is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property

from bot.config import Config
from bot.procedures.store import ProcedureStore
from bot.services import catchup, knowledge, review, schema, signin
from bot.services import sweep as overdue
from bot.services.api.tickets import TicketApi
from bot.services.context import Registry
from bot.services.conversation import Conversation
from bot.services.database import Database
from bot.services.file_store import FileStore
from bot.services.inbox import Inbox
from bot.services.outbox import Outbox
from bot.services.webhooks import Webhooks

Install = Callable[[Registry], None]


# Every feature's `install(registry)`, in the order they plug in; the engine's own commands
# and buttons are installed by `Conversation`.
FEATURES: tuple[Install, ...] = (
    knowledge.install,
    review.install,
    overdue.install,
    catchup.install,
    signin.install,
)


class MigrationFailed(Exception):
    """The schema could not be brought to the revision asked for; nothing else was built."""

    def __init__(self, url: str, cause: Exception):
        super().__init__(f"{url}: {cause}")
        self.url = url  # as configured, password included: mask it before showing it
        self.cause = cause


class Services:
    """Everything the adapters use, built from `config` as it is first needed."""

    def __init__(
        self,
        config: Config,
        *,
        migrate: bool | None = None,
        revision: str = "head",
        checkpoints: bool = False,
    ) -> None:
        """`migrate` overrides `database.auto_migrate`; `revision` is how far to migrate.

        `checkpoints` starts SQLite's background checkpoints (`bot.db.checkpoint`) with the
        database: for processes that keep writing, not for a one-shot command.
        """
        self.config = config
        self.migrate = config.database.auto_migrate if migrate is None else migrate
        self._revision = revision
        self._checkpoints = checkpoints
        self.revision: str | None = None  # the schema revision after migrating, when it did

    @cached_property
    def db(self) -> Database:
        """The database, migrated first when that was asked for or configured."""
        db = Database.from_url(self.config.database.url)
        if self.migrate:
            try:
                self.revision = schema.upgrade(db, self._revision)
            except Exception as e:
                db.dispose()
                raise MigrationFailed(self.config.database.url, e) from e
        if self._checkpoints:
            db.start_checkpoints()
        return db

    @cached_property
    def procedures(self) -> ProcedureStore:
        return ProcedureStore(self.config.procedures_dir, language=self.config.language)

    @cached_property
    def conversation(self) -> Conversation:
        """The engine, with every feature plugged into its registry."""
        registry = Registry()
        conversation = Conversation(self.db, self.config, self.procedures, registry)
        for install in FEATURES:
            install(registry)
        return conversation

    @cached_property
    def inbox(self) -> Inbox:
        """Every update from Telegram, stored before it is confirmed, handled once."""
        return Inbox(self.db)

    @cached_property
    def outbox(self) -> Outbox:
        """What the bot owes people, for the sender to deliver."""
        return Outbox(self.db, self.config)

    @cached_property
    def files(self) -> FileStore:
        """The attachments folder: files people sent, stored by the sha256 of their bytes."""
        return FileStore(self.config.attachments_dir)

    @cached_property
    def webhooks(self) -> Webhooks:
        """The queue of signed change-feed deliveries to the configured receivers."""
        return Webhooks(self.db, self.config)

    @cached_property
    def api(self) -> TicketApi:
        """What programs may do (the write API and the MCP tools), through the same gate."""
        return TicketApi(self.db, self.config, self.procedures)

    @property
    def registry(self) -> Registry:
        return self.conversation.registry

    def refresh_knowledge(self, now: datetime) -> knowledge.ReindexReport | None:
        """Pick up articles added or edited by hand in knowledge/ (cheap when none changed)."""
        return self.db.run(
            lambda session: knowledge.refresh_if_changed(
                session, self.config.knowledge_dir, now, self.config.language
            )
        )

    def close(self) -> None:
        """Stop what was started; safe to call more than once."""
        if "db" in self.__dict__:
            self.db.dispose()


def build_services(config: Config, *, migrate_db: bool | None = None) -> Services:
    """Every part built now (for long-running entry points and tests that drive the engine)."""
    services = Services(config, migrate=migrate_db, checkpoints=True)
    services.conversation  # noqa: B018 - builds the database and the engine now
    return services
