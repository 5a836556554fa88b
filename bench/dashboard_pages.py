"""How long the dashboard's pages take on a big agency: the median and p95 time of each page,
against the goal of 200 ms, with `salesbot web` as its own process answering over loopback.

The database is seeded in bulk first: contacts, each with a customer conversation at a stage of the
sale (most early, fewer further on), a lead with an agent and a status, its contact log (messages
and stage changes), referrals by clients and by agents' links, and agents' rehearsals. SQLite in a
temporary directory always; PostgreSQL as well when DATABASE_URL is a postgresql URL (a schema of
its own, dropped afterwards).
Run: .venv/bin/python bench/dashboard_pages.py [--conversations 100000] [--samples 30] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 (after the path is set)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Connection, make_url  # noqa: E402

from storage.database import Database  # noqa: E402
from tests.helpers import accepts, free_port  # noqa: E402

GOAL_MS = 200.0
SECRET = "bench-secret"
AGENTS, MANAGERS = 25, 2
PATH = ["approach", "needs", "summary", "proposal", "objection", "closing", "won", "after_sales", "referral"]
# where conversations are now, by share: most stop early, as in a real funnel
STAGES = {"approach": 14, "needs": 30, "summary": 6, "proposal": 14, "objection": 4, "closing": 4, "won": 5,
          "after_sales": 3, "referral": 2, "paused": 10, "lost": 8}
STATUS = {"approach": "new", "needs": "new", "summary": "new", "proposal": "contacted",
          "objection": "contacted", "closing": "meeting", "won": "won", "after_sales": "won",
          "referral": "won", "paused": "new", "lost": "lost"}
NAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Smith", "Jones"]
GIVEN = ["Fang", "Wei", "Na", "Min", "Jie", "Lei", "Yu", "Hao", "Ann", "Tom", "Mary", "Ken"]
MANAGER_ID = "800000"


# -- the seed --------------------------------------------------------------------------------------
@dataclass
class Seed:
    conversations: int
    agents: list[int]  # staff ids
    leads: list[int]  # contact ids
    events: int
    referrals: int


class Rows:
    """Rows to insert, per table: its columns and tuples. Written with the driver's bulk path (the
    sqlite3 module's executemany, PostgreSQL's COPY), bypassing the ORM: timestamps are given as
    the text each database keeps (SQLAlchemy's on SQLite), JSON as its text."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.tables: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}

    def table(self, name: str, *columns: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        self.tables[name] = (columns, rows)
        return rows

    def stamp(self, moment: datetime) -> str:
        """A moment in UTC (naive) as the column's text: SQLAlchemy keeps naive ISO text on SQLite."""
        return moment.isoformat(" ", "microseconds") + self.zone

    @property
    def zone(self) -> str:
        return "" if self.dialect == "sqlite" else "+00:00"

    def write(self, connection: Connection) -> None:
        raw: Any = connection.connection.driver_connection
        for name, (columns, rows) in self.tables.items():
            if self.dialect == "sqlite":
                marks = ", ".join("?" for _ in columns)
                raw.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
            else:
                with raw.cursor() as cursor, cursor.copy(
                        f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)


def seed(database: Database, conversations: int, rng: random.Random) -> Seed:
    """Every row in one transaction, with explicit ids."""
    dialect = database.engine.dialect.name
    out = Rows(dialect)
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, written with the zone each database wants
    stamp = out.stamp
    stages, weights = list(STAGES), list(STAGES.values())
    agents = list(range(1, AGENTS + 1))
    staff = out.table("staff", "id", "channel", "external_id", "role", "name", "active", "joined_at")
    joined = stamp(now - timedelta(days=400))
    staff += [(i, "telegram", str(700000 + i), "agent", f"Agent {i:02d}", True, joined) for i in agents]
    staff += [(AGENTS + i, "telegram", str(int(MANAGER_ID) + i - 1), "manager", f"Manager {i}", True, joined)
              for i in range(1, MANAGERS + 1)]
    contacts = out.table("contacts", "id", "channel", "external_id", "name", "locale", "active_mode",
                         "created_at")
    talks = out.table("conversations", "id", "contact_id", "mode", "state", "data", "created_at",
                      "updated_at", "reminded")
    leads = out.table("leads", "contact_id", "agent_id", "status", "lost_reason", "handed_off_at",
                      "updated_at")
    codes = out.table("referral_codes", "code", "kind", "contact_id", "staff_id", "show_name", "label",
                      "created_at")
    referrals = out.table("referrals", "id", "code", "referrer_contact_id", "referrer_staff_id",
                          "referred_contact_id", "at", "status")
    events = out.table("contact_events", "id", "conversation_id", "at", "kind", "stage", "text", "detail")
    lines: dict[tuple[str, ...], list[tuple[str, str, str, str]]] = {}  # a path's lines, made once
    step, zone = timedelta(seconds=40), out.zone
    event_id = 0
    recent_codes: list[tuple[str, int]] = []
    for cid in range(1, conversations + 1):
        created = now - timedelta(days=180 * cid / conversations, minutes=rng.randrange(600))
        at_created = stamp(created)
        stage = rng.choices(stages, weights)[0]
        contacts.append((cid, "web" if cid % 4 == 0 else "telegram", f"b{cid}",
                         f"{rng.choice(NAMES)} {rng.choice(GIVEN)}", "en" if cid % 3 else "zh_CN", "customer",
                         at_created))
        data = json.dumps({"answers": {"age": 25 + cid % 40}, "progress": {"greeted": True}})
        talks.append((cid, cid, "customer", stage, data, at_created, stamp(created + timedelta(hours=1)),
                      False))
        agent = agents[cid % len(agents)]
        status = STATUS[stage]
        leads.append((cid, agent, status, "price" if status == "lost" else "",
                      at_created if status != "new" else None, stamp(created + timedelta(hours=2))))
        reached = tuple(PATH[:PATH.index(stage) + 1] if stage in PATH
                        else PATH[:rng.randrange(2, 5)] + [stage])
        if reached not in lines:
            made = [("inbound", "approach", "/start", "{}"),
                    ("outbound", "approach", "Hello, I am your assistant", "{}")]
            for before, after in zip(reached, reached[1:], strict=False):
                made.append(("transition", after, "next", json.dumps({"from": before, "to": after})))
                made.append(("outbound", after, f"Now the {after} stage: a question for you", "{}"))
                made.append(("inbound", after, "an answer", "{}"))
            lines[reached] = made
        at = created
        for kind, where, said, detail in lines[reached]:
            event_id += 1
            at += step
            events.append((event_id, cid, at.isoformat(" ", "microseconds") + zone, kind, where, said,
                           detail))
        if stage in ("won", "after_sales", "referral") and rng.random() < 0.5:
            codes.append((f"client-{cid}", "client", cid, None, True, "", at_created))
            recent_codes = [*recent_codes[-49:], (f"client-{cid}", cid)]
        if cid % 10 == 0 and recent_codes:  # one in ten came by a client's link
            code, referrer = rng.choice(recent_codes)
            referrals.append((len(referrals) + 1, code, referrer, None, cid, at_created,
                              "client" if stage in ("won", "after_sales", "referral") else "came"))
        elif cid % 10 == 5:  # and one in ten by an agent's
            referrals.append((len(referrals) + 1, f"agent-{agent}", None, agent, cid, at_created, "came"))
    long_ago = stamp(now - timedelta(days=300))
    codes += [(f"agent-{a}", "agent", None, a, False, "", long_ago) for a in agents]
    # each agent is a contact too, with a dozen finished rehearsals
    for number, agent in enumerate(agents):
        cid = conversations + 1 + number
        contacts.append((cid, "telegram", str(700000 + agent), f"Agent {agent:02d}", "en", "customer",
                         long_ago))
        for attempt in range(12):
            when = stamp(now - timedelta(days=12 - attempt))
            data = json.dumps({"persona": "ready_family", "score": rng.randrange(30, 100)})
            talks.append((len(talks) + 1, cid, "rehearsal", "bought", data, when, when, False))
    with database.engine.begin() as connection:
        if dialect == "postgresql" and connection.scalar(text(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
            # the rows are consistent by construction: skip the foreign keys' checks, row by row
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        out.write(connection)
        if dialect == "postgresql":  # new rows (the app's own) follow the seeded ids
            for table in ("staff", "contacts", "conversations", "referrals", "contact_events"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))  # the planner's statistics, as a live database has them
    return Seed(conversations, agents, [row[0] for row in leads], len(events), len(referrals))


def sqlite_url(workdir: str) -> str:
    return f"sqlite:///{workdir}/dashboard.sqlite3"


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    schema = f"bench_dash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- the app as its own process --------------------------------------------------------------------
@contextmanager
def web_app(url: str) -> Iterator[str]:
    """`salesbot web` on the database at url: its base URL while it runs."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "SALESBOT_WEB_URL": base, "SALESBOT_WEB_SECRET": SECRET,
           "SALESBOT_MANAGERS": MANAGER_ID, "SALESBOT_AGENTS": "", "SALESBOT_DEMO": "1"}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, text=True)

        def said() -> str:
            output.flush()
            output.seek(0)
            return output.read()

        try:
            deadline = time.monotonic() + 60
            while not accepts(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"`salesbot web` did not start:\n{said()}")
                time.sleep(0.05)
            yield base
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if "Traceback" in (log := said()):  # the first error in full
                error = log[log.index("Traceback"):]
                print(f"`salesbot web` logged errors; the first:\n{error[:6000]}", file=sys.stderr)


def log_in(database: Database, client: httpx.Client) -> None:
    """A manager's one-time link, made as the bot's /dashboard makes it, opened once."""
    with database.unit_of_work() as uow:
        staff = uow.agency.staff("telegram", MANAGER_ID)
        assert staff is not None
        code = uow.agency.new_code("login", staff=staff).code
        uow.commit()
    answer = client.get(f"/login/{code}")
    if answer.status_code not in (302, 303) or "salesbot_session" not in client.cookies:
        raise SystemExit(f"logging in failed: {answer.status_code} {answer.text[:300]}")


# -- the measurement -------------------------------------------------------------------------------
def pages(seeded: Seed, rng: random.Random) -> dict[str, Any]:
    """Each page: a function of the sample's number giving its path (samples vary the lead)."""
    agent = seeded.agents[3]
    since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    filtered = f"/dashboard/leads?stage=proposal&agent={agent}&from={since}&sort=created"
    transcripts = [rng.choice(seeded.leads) for _ in range(1000)]
    everything = (datetime.now(UTC) - timedelta(days=200)).date().isoformat()
    return {
        "funnel": lambda _n: "/dashboard",  # the last 30 days, as it opens
        "funnel, 200 days": lambda _n: f"/dashboard?from={everything}",  # every seeded conversation
        "leads page 1": lambda _n: "/dashboard/leads",
        "leads filtered": lambda _n: filtered,
        "CSV export": lambda _n: "/dashboard/leads.csv",
        "a transcript": lambda n: f"/dashboard/conversation/{transcripts[n % len(transcripts)]}",
        "referrals": lambda _n: "/dashboard/referrals",
        "rehearsals": lambda _n: "/dashboard/rehearsals",
        "diagram": lambda _n: "/dashboard/diagram",
    }


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def timed(client: httpx.Client, path: Any, samples: int, rows: int) -> tuple[float, float, float, int]:
    """A page's median, p95 and slowest time (ms) and its size: one answer first (warm, checked,
    rows: the CSV lines it must have), then `samples` timed ones (5 for a page slower than 1 s)."""
    first = client.get(path(0))
    assert first.status_code == 200, f"HTTP {first.status_code} for {path(0)}: {first.text[:200]!r}"
    if rows:
        lines = first.text.count("\n") - 1
        assert lines >= rows, f"the CSV export has {lines} rows, not {rows}"
    times, firsts = [], []
    for n in range(1, (samples if first.elapsed.total_seconds() < 1 else min(samples, 5)) + 1):
        start = time.perf_counter()
        with client.stream("GET", path(n)) as answer:
            assert answer.status_code == 200, f"HTTP {answer.status_code} for {path(n)}"
            chunks = answer.iter_raw()
            next(chunks, b"")
            firsts.append((time.perf_counter() - start) * 1000)
            for _ in chunks:  # the rest of the body
                pass
        times.append((time.perf_counter() - start) * 1000)
    if rows:
        print(f"  (the CSV export: first bytes after {statistics.median(firsts):.0f} ms, median)")
    return statistics.median(times), p95(times), max(times), len(first.content)


def measure(name: str, url: str, conversations: int, samples: int, rng: random.Random) -> list[str]:
    began = time.perf_counter()
    database = Database(url)
    seeded = seed(database, conversations, rng)
    print(f"{name}: seeded {seeded.conversations} conversations, {len(seeded.leads)} leads, "
          f"{seeded.events} contact events, {seeded.referrals} referrals in "
          f"{time.perf_counter() - began:.1f} s (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)", flush=True)
    over = []
    with web_app(url) as base, httpx.Client(base_url=base, timeout=120) as client:
        log_in(database, client)
        print(f"  {'page':<18} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  {'bytes':>10}  "
              f"goal < {GOAL_MS:.0f} ms")
        for page, path in pages(seeded, rng).items():
            try:
                result = timed(client, path, samples, len(seeded.leads) if page == "CSV export" else 0)
            except (httpx.HTTPError, AssertionError) as error:  # the page failed: say so, go on
                print(f"  {page:<18} failed: {error}", flush=True)
                over.append(f"{name} {page}: failed")
                continue
            median, high, highest, size = result
            verdict = "ok" if high < GOAL_MS else "OVER"
            if verdict != "ok":
                over.append(f"{name} {page}: p95 {high:.0f} ms")
            print(f"  {page:<18} {median:>10.1f} {high:>8.1f} {highest:>8.1f}  {size:>10}  {verdict}",
                  flush=True)
    database.close()
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, help="conversations to seed (default 100000)")
    parser.add_argument("--quick", action="store_true", help="5000 conversations, 10 samples a page")
    parser.add_argument("--samples", type=int, help="timed requests per page (default 30; --quick: 10)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the data")
    args = parser.parse_args()
    conversations = args.conversations or (5000 if args.quick else 100_000)
    samples = args.samples or (10 if args.quick else 30)
    over: list[str] = []
    base = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix="salesbot-dashboard-") as workdir:
        over += measure("SQLite", sqlite_url(workdir), conversations, samples, random.Random(args.seed))
    if base.startswith("postgresql"):
        with postgres_schema(base) as url:
            over += measure("PostgreSQL", url, conversations, samples, random.Random(args.seed))
    else:
        print("PostgreSQL: not measured (set DATABASE_URL=postgresql+psycopg://... to measure it too)")
    print("every page within the goal" if not over else "over the goal: " + "; ".join(over))
    return 0


if __name__ == "__main__":
    sys.exit(main())
