"""Shared fixtures: the library, and a database on SQLite always and on PostgreSQL when reachable."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.library import Library
from bot.service import SalesService
from storage.database import Database

# The figures the tests are worked out on: a frozen copy, so that the business may tune the shipped
# scripts_library/parameters.yaml without a test going red. The bot processes tests start read it too.
TEST_PARAMETERS = Path(__file__).with_name("parameters.yaml")
os.environ["SALESBOT_PARAMETERS"] = str(TEST_PARAMETERS)
os.environ["SALESBOT_DEMO"] = "1"  # the bots the tests start serve the library's example identity


def frozen_library() -> Library:
    """The shipped words and questions, on the tests' frozen figures."""
    return Library(parameters=TEST_PARAMETERS)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# No per-example deadline: a first example that loads a converter or a model, or a machine under
# load, must not fail a property test on time alone.
settings.register_profile("steady", deadline=None)
settings.load_profile("steady")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long process-level test (deselect with -m 'not slow')")


@pytest.fixture(scope="session")
def library() -> Library:
    return frozen_library()


def postgres_problem(url: str = POSTGRES_URL) -> str | None:
    """None when a PostgreSQL server answers at url; else why not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except (OperationalError, ImportError) as error:
        return f"no PostgreSQL server reachable at {url} ({type(error).__name__})"
    return None


@pytest.fixture(scope="session")
def postgres_unavailable() -> str | None:
    return postgres_problem()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path,
             postgres_unavailable: str | None) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'salesbot.sqlite3'}")
        yield db
        db.close()
        return
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    schema = f"test_{uuid.uuid4().hex[:12]}"  # each test its own schema, dropped afterwards
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.close()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'salesbot.sqlite3'}")
    yield db
    db.close()


@pytest.fixture
def service(library: Library, sqlite_database: Database) -> SalesService:
    return SalesService(library, sqlite_database)
