"""Drive the conversation engine like people would: `h.say(ann, "text")`, `h.press(ann, data)`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.app import Services, build_services
from bot.config import ChatConfig, Config, DatabaseConfig
from bot.db.models import AuditEvent, Ticket
from bot.domain.actors import Actor
from bot.render import html_to_text
from bot.services.messages import Incoming, IncomingFile, Outcome, Reply

ACCESS_YAML = """\
title: Access request
description: Someone needs access to a system.
triggers:
  command: access
  keywords: [access, permission]
fields:
  - name: system
    question: Which system do you need access to?
    type: choice
    choices: [github, aws, grafana, vpn]
  - name: justification
    question: Why do you need it? At least 20 characters.
    type: text
    min_length: 20
  - name: needed_by
    question: By when? (YYYY-MM-DD)
    type: date
    required: false
  - name: production
    question: Is this production access? (yes/no)
    type: boolean
  - name: ticket_ref
    question: Change ticket number (CHG-1234)?
    type: text
    pattern: '^CHG-\\d{4,}$'
    required_when: {field: production, equals: true}
steps:
  - id: approve
    title: Approval recorded
    role: lead
  - id: grant
    title: Access granted
    requires: [system]
sla:
  due: 8h
  remind_every: 2h
  escalate_after: 2
resolution:
  fields:
    - name: solution
      question: What was done to resolve it?
      type: text
      min_length: 10
"""

BUG_YAML = """\
title: Bug report
triggers:
  command: bug
  keywords: [bug, crash, broken]
fields:
  - name: summary
    question: What is broken?
    type: text
sla:
  due: 2d
"""

LEAD = Actor(1, "Lena Lead", "lena")
ANN = Actor(2, "Ann Member", "ann")
BOB = Actor(3, "Bob Member", "bob")
STRANGER = Actor(99, "Stranger", "stranger")
TEAM_CHAT = -100


def write_procedures(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "access.yaml").write_text(ACCESS_YAML, encoding="utf-8")
    (folder / "bug.yaml").write_text(BUG_YAML, encoding="utf-8")
    return folder


def make_config(tmp: Path, database_url: str) -> Config:
    return Config(
        database=DatabaseConfig(url=database_url, auto_migrate=False),
        procedures_dir=write_procedures(tmp / "procedures"),
        knowledge_dir=tmp / "knowledge",
        leads=frozenset({LEAD.user_id}),
        members=frozenset({ANN.user_id, BOB.user_id}),
        chats=(ChatConfig(TEAM_CHAT, "Team"),),
    )


class Harness:
    """A team talking to the engine, with a clock the test moves."""

    def __init__(self, config: Config, now: datetime):
        self.config = config
        self.now = now
        self.services: Services = build_services(config, migrate_db=False)
        self.next_id = 1000
        self.sent: list[Reply] = []

    @property
    def conversation(self):
        return self.services.conversation

    @property
    def db(self):
        return self.services.db

    def restart(self) -> None:
        """A new process: nothing in memory survives, only the database."""
        self.services.close()
        self.services = build_services(self.config, migrate_db=False)

    def tick(self, **delta) -> None:
        self.now += timedelta(**delta)

    def say(
        self,
        who: Actor,
        text: str,
        *,
        chat: int | None = None,
        reply_to: int | None = None,
        mention: bool = False,
        files: tuple[IncomingFile, ...] = (),
    ) -> Outcome:
        """`who` writes `text` (with `files`, as the adapter hands them over: already stored)."""
        chat_id = who.user_id if chat is None else chat
        self.next_id += 1
        incoming = Incoming(
            files=files,
            user=who,
            chat_id=chat_id,
            chat_type="private" if chat is None else "supergroup",
            now=self.now,
            text=text,
            message_id=self.next_id,
            reply_to_message_id=reply_to,
            reply_to_bot=reply_to is not None,
            mentions_bot=mention,
            bot_username="sopbot",
        )
        return self._deliver(self.conversation.handle(incoming))

    def press(
        self, who: Actor, data: str, *, chat: int | None = None, message_id: int | None = None
    ) -> Outcome:
        chat_id = who.user_id if chat is None else chat
        incoming = Incoming(
            user=who,
            chat_id=chat_id,
            chat_type="private" if chat is None else "supergroup",
            now=self.now,
            callback_data=data,
            callback_message_id=message_id,
            bot_username="sopbot",
        )
        return self._deliver(self.conversation.handle(incoming))

    def _deliver(self, outcome: Outcome) -> Outcome:
        for reply in outcome.replies:
            if reply.edit_message_id is None:
                self.next_id += 1
                self.conversation.message_sent(reply, reply.chat_id, self.next_id, self.now)
                self.sent.append(replace(reply))
        return outcome

    def ticket(self, number: int) -> Ticket:
        with self.db.reading() as s:
            return s.get(Ticket, number)

    def actions(self, ticket_id: int | None = None) -> list[str]:
        with self.db.reading() as s:
            q = select(AuditEvent.action).order_by(AuditEvent.id)
            if ticket_id is not None:
                q = q.where(AuditEvent.ticket_id == ticket_id)
            return list(s.execute(q).scalars())

    def count(self, model) -> int:
        with self.db.reading() as s:
            return s.execute(select(func.count()).select_from(model)).scalar_one()

    def close(self) -> None:
        self.services.close()


def text_of(outcome: Outcome) -> str:
    return "\n---\n".join(html_to_text(r.text) for r in outcome.replies)


def buttons_of(outcome: Outcome) -> dict[str, str]:
    """Button label -> callback data, over every reply."""
    return {b.label: b.data for r in outcome.replies for row in r.buttons for b in row}
