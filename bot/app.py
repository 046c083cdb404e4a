"""The composition root: build every service from a config, in one place."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.db import migrate
from bot.procedures.store import ProcedureStore
from bot.services import knowledge
from bot.services.context import Registry
from bot.services.conversation import Conversation
from bot.services.database import Database

# Features that plug chat commands and buttons into the engine, each with `install(registry)`.
FEATURES = (
    "bot.services.review",
    "bot.services.sweep",
    "bot.services.catchup",
)


@dataclass
class Services:
    config: Config
    db: Database
    procedures: ProcedureStore
    registry: Registry
    conversation: Conversation

    def close(self) -> None:
        self.db.dispose()

    def refresh_knowledge(self, now: datetime) -> knowledge.ReindexReport | None:
        """Pick up articles added or edited by hand in knowledge/ (cheap when none changed)."""
        return self.db.run(
            lambda session: knowledge.refresh_if_changed(session, self.config.knowledge_dir, now)
        )


def build_services(config: Config, *, migrate_db: bool | None = None) -> Services:
    """Everything the adapters need, built from `config` (nothing happens at import time)."""
    db = Database.from_url(config.database.url)
    if config.database.auto_migrate if migrate_db is None else migrate_db:
        migrate.upgrade(db.engine)
    db.start_checkpoints()
    procedures = ProcedureStore(config.procedures_dir)
    registry = Registry()
    conversation = Conversation(db, config, procedures, registry)
    knowledge.install(registry, deflection=conversation.deflection_button)
    for name in FEATURES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.install(registry)
    return Services(config, db, procedures, registry, conversation)
