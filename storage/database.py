"""The database: engine from a URL, schema by Alembic migrations, and units of work."""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from storage.queues import Queues, queues
from storage.unit_of_work import UnitOfWork

MIGRATIONS = Path(__file__).with_name("migrations")


def transient(error: BaseException) -> bool:
    """Whether a failure may pass if the work is tried again: the database went away or is busy
    (a dropped connection, too many clients, no connection free in the pool, a lock time-out),
    rather than the work itself being wrong."""
    if isinstance(error, SQLAlchemyTimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


CONNECTIONS = 18  # a process's connections by default: 5 processes (4 workers, the web app) in 90


def make_engine(url: str, connections: int = CONNECTIONS) -> Engine:
    # On PostgreSQL each chat being handled holds a connection for its lock (ChatLock), beside the
    # connections of the transactions themselves: two thirds kept open, the rest opened when needed.
    kept = max(1, connections * 2 // 3)
    pooling = {"pool_size": kept, "max_overflow": connections - kept} if url.startswith("postgresql") else {}
    engine = create_engine(url, future=True, **pooling)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration (a no-op when it already is). On PostgreSQL the
    migration holds a lock: workers started together migrate one after the other, and all but the
    first find nothing to do."""
    if current_revision(engine) == newest_revision():  # the usual start: no need to load Alembic
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('salesbot:migrate', 0))"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def newest_revision() -> str:
    """The newest migration's revision id, which begins its file's name (0008_lead_rotation_index.py)."""
    return max(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("*.py"))


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, as Alembic recorded it; None for a database not yet migrated."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table
        return None


class HeldKeys:
    """The keys locked in this process: a set behind a mutex, so it holds only the chats in hand."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._mutex = threading.Lock()

    def add(self, key: str) -> bool:
        with self._mutex:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def discard(self, key: str) -> None:
        with self._mutex:
            self._keys.discard(key)


# A session advisory lock's number: the key's hash within the schema the tables are in. Advisory
# locks are one set per database, and bots (or test runs) on other schemas of it have chats of
# the same numbers: unscoped, they would hold each other's chats.
_ADVISORY_KEY = "hashtextextended(coalesce(current_schema(), '') || ':' || :key, 0)"
_TRY_LOCK = text(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})")


class ChatLock:
    """Held while one worker handles a chat: its updates and its messages are taken one at a time,
    in order, by one holder. In the process a plain lock; on PostgreSQL also a session advisory lock,
    so that workers in other processes keep out too, and a worker that dies lets go at once."""

    def __init__(self, held: HeldKeys, connection: Connection | None, key: str) -> None:
        self._held, self._connection, self._key = held, connection, key

    def release(self) -> None:
        try:
            if self._connection is not None:
                self._connection.execute(_UNLOCK, {"key": self._key})
        except Exception:  # a connection that cannot unlock must not go back to the pool holding it
            if self._connection is not None:
                self._connection.invalidate()
            raise
        finally:
            if self._connection is not None:
                self._connection.close()
            self._held.discard(self._key)


class Database:
    """Where conversations are kept, at a SQLAlchemy URL. Migrates on open; hands out units of work."""

    def __init__(self, url: str, connections: int = CONNECTIONS) -> None:
        self.url = url
        self.connections = connections  # at most, on PostgreSQL (SQLite opens what it needs)
        self.engine = make_engine(url, connections)
        migrate(self.engine)
        self._sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self._held = HeldKeys()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    def queues(self, atomic: bool = True) -> AbstractContextManager[Queues]:
        """A transaction over the message path's own tables alone (storage/queues.py): the inbox,
        the outbox, delivery claims and the contact log, without the ORM's session. atomic=False:
        statements that need no transaction around them, each committed as it runs."""
        return queues(self.engine, atomic)

    @property
    def one_process_only(self) -> bool:
        """SQLite: chats are locked in this process only, so one process may use the database."""
        return self.engine.dialect.name != "postgresql"

    def try_lock(self, key: str) -> ChatLock | None:
        """The lock of a chat (see ChatLock), or None when another worker holds it now."""
        if not self._held.add(key):
            return None
        if self.one_process_only:
            return ChatLock(self._held, None, key)
        try:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            held = connection.scalar(_TRY_LOCK, {"key": key})
        except Exception:
            self._held.discard(key)
            raise
        if not held:
            connection.close()
            self._held.discard(key)
            return None
        return ChatLock(self._held, connection, key)

    def close(self) -> None:
        self.engine.dispose()
