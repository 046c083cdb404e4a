"""Real databases for tests: a SQLite file per test, and a PostgreSQL database per test cloned
from a migrated template (CREATE DATABASE ... TEMPLATE is fast)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import migrate
from bot.db.engine import make_engine

PG_ENV = "SOPBOT_TEST_POSTGRES_URL"
REQUIRE_PG_ENV = "SOPBOT_REQUIRE_POSTGRES"
# One template per test run, so runs by several people on one server never collide.
_TEMPLATE = f"sopbot_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _admin_engine(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def make_template(url: str) -> None:
    """Create (once per test run) a database at the head revision to clone from."""
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{_TEMPLATE}"'))
    admin.dispose()
    engine = make_engine(make_url(url).set(database=_TEMPLATE).render_as_string(False))
    migrate.upgrade(engine)
    engine.dispose()


def drop_template(url: str) -> None:
    drop_postgres_database(make_url(url).set(database=_TEMPLATE).render_as_string(False))


def new_postgres_database(url: str, *, migrated: bool = True) -> str:
    name = f"sopbot_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(url)
    with admin.connect() as conn:
        template = f' TEMPLATE "{_TEMPLATE}"' if migrated else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
