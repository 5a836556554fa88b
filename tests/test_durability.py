"""Nothing lost, ever: the bot as its own process (webhook mode), 50 people in scripted sales at
once, while the process is killed (SIGKILL) at random moments and restarted, while the Bot API
answers 5xx or refuses connections for seconds, and with 4 workers on one PostgreSQL database.

Telegram's side is played as Telegram plays it: an update that did not get HTTP 200 is posted
again (also after a restart), and each person sends their next message only once the reply to
the last one has arrived (they press buttons of the last question they got). The checks:

- every acknowledged update is handled exactly once (the contact log's inbound events carry
  its update_id);
- every conversation ends at the stage, with the answers, of the same script run without faults;
- every reply reaches the person exactly once, in order: the same texts as without faults. The
  one exception, which the Bot API makes unavoidable (it has no idempotency key): a message the
  Bot API took just before a crash, before the bot could record it as sent, is sent again after
  the restart. Such repeats are allowed only for messages whose outbox row was not 'sent' when
  the process died (read right after the kill), and they are counted and printed;
- the contact log's outbound events are what the person got.

The expected replies and end state come from the same script run in process (tests.helpers.Harness),
without faults. Waiting is on conditions (the recording Bot API's calls), with deadlines; the only
sleeps are the random moment of a fault and the length of an outage.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from bot.service import SalesService
from tests.botapi import BotApiServer, ServerError, button_update, message_update
from tests.conftest import POSTGRES_URL
from tests.helpers import (
    ROOT,
    BotProcess,
    Harness,
    chat_records,
    claimed_deliveries,
    current_conversation,
    inbound_update_ids,
    postgres_schema,
    tracebacks,
    unsent_outbox,
)

pytestmark = pytest.mark.slow

# The greeting, consent, and the first questions answered by typing and by buttons. The expected
# replies come from running it once in process (`reference`), so the questions' order may change.
SCRIPT: list[tuple[str, str]] = [("say", "/start"), ("press", "agree"), ("say", "35"), ("press", "office"),
                                 ("press", "no"), ("press", "married_children")]
PATIENCE = 60.0  # seconds a person waits with the bot doing nothing (no Bot API call) before giving up;
# generous: a loaded machine (2 cores, two suites) must not read as a stalled chat
LONGEST = 600.0  # a reply that has not come in this long, however busy the bot, has stalled
START_TIMEOUT = 60.0  # a process start on a busy machine (2 cores, other processes starting)
SHOWN = 4  # examples printed per kind of problem


# -- the expected conversation -------------------------------------------------------------------
@dataclass
class Reference:
    """The script run once in process, without faults: what each step is answered, and where the
    conversation ends."""

    replies: list[list[str]]  # per step of SCRIPT, the texts of the messages sent, in order
    state: str
    answers: dict[str, Any]

    @property
    def texts(self) -> list[str]:
        return [text for step in self.replies for text in step]


def reference(service: SalesService) -> Reference:
    harness, chat = Harness(service), 4000
    replies: list[list[str]] = []

    async def scenario(h: Harness) -> None:
        for kind, value in SCRIPT:
            before = len(h.api.sent(chat))
            await h.feed(message_update(chat, value) if kind == "say" else button_update(chat, value))
            replies.append([m["text"] for m in h.api.sent(chat)[before:]])

    harness.run(scenario)
    silent = [number for number, texts in enumerate(replies, 1) if not texts]
    assert not silent, f"the in-process run of the script sent nothing at steps {silent}"
    with service.database.unit_of_work() as uow:
        conversation = current_conversation(uow, "telegram", str(chat))
        return Reference(replies, conversation.state, dict(conversation.data.get("answers", {})))


def in_order(texts: list[str], expected: list[str]) -> bool:
    """Whether `expected` occurs in `texts` in order (other messages may come between)."""
    remaining = iter(texts)
    return all(any(text == wanted for text in remaining) for wanted in expected)


# -- people, each in their own thread --------------------------------------------------------------
class Stalled(Exception):
    """A person gave up: their message was never taken, or its reply never came."""


class Person(threading.Thread):
    """One chat following SCRIPT: post a step (again and again until it gets 200, as Telegram
    does), wait for its whole reply, then the next step; a press is of the last question's keyboard."""

    def __init__(self, run: Run, chat: int, index: int) -> None:
        super().__init__(name=f"chat-{chat}", daemon=True)
        self.run_, self.chat, self.index = run, chat, index
        self.acknowledged: list[int] = []  # update ids that got 200
        self.posts = 0
        self.steps_done = 0
        self.problem: str | None = None

    def run(self) -> None:
        try:
            for step, (kind, value) in enumerate(SCRIPT):
                before = len(self.run_.api.api.delivered(self.chat))
                self.deliver(step, self.update(step, kind, value))
                self.await_reply(step, before)
                self.steps_done += 1
        except Stalled as problem:
            self.problem = str(problem)

    def update(self, step: int, kind: str, value: str) -> dict[str, Any]:
        if kind == "say":
            return message_update(self.chat, value)
        question = self.run_.reference.replies[step - 1][-1]
        asked = [m for m in self.run_.api.api.delivered(self.chat)
                 if m["text"] == question and m.get("reply_markup")]
        if not asked:
            raise Stalled(f"step {step + 1}: no question with buttons to press {value!r} on")
        keyboard = asked[-1]["reply_markup"]["inline_keyboard"]
        return button_update(self.chat, value, text=question, keyboard=keyboard)

    def deliver(self, step: int, update: dict[str, Any]) -> None:
        deadline = time.monotonic() + PATIENCE
        status: int | None = None
        while not self.run_.aborted.is_set():
            if not self.run_.up.wait(timeout=max(0.0, deadline - time.monotonic())):
                break
            status = self.run_.target(self.index, step).post_update(update)
            self.posts += 1
            with self.run_.lock:
                self.run_.statuses[status] += 1
            if status == 200:
                self.acknowledged.append(update["update_id"])
                return
            if time.monotonic() > deadline:
                break
            self.run_.aborted.wait(0.2)  # Telegram waits a little before it posts again
        raise Stalled(f"step {step + 1} {SCRIPT[step]}: update {update['update_id']} "
                      f"never acknowledged in {PATIENCE:.0f} s (last answer: {status})")

    def await_reply(self, step: int, before: int) -> None:
        expected = self.run_.reference.replies[step]
        api = self.run_.api.api

        def arrived() -> bool:
            got = [m["text"] for m in api.delivered(self.chat)[before:]]
            return self.run_.aborted.is_set() or in_order(got, expected)

        # as long as the bot is busy with other chats' work, the reply is on its way (a backlog
        # after a restart): give up only when nothing is being done for PATIENCE seconds
        if not api.wait_while_working(arrived, PATIENCE, LONGEST) or self.run_.aborted.is_set():
            got = [m["text"][:40] for m in api.delivered(self.chat)[before:]]
            raise Stalled(f"step {step + 1} {SCRIPT[step]}: the reply did not arrive "
                          f"in {PATIENCE:.0f} s (expected {[t[:40] for t in expected]}, got {got})")


class Run:
    """People talking to one or more bot processes at once; step `s` of person `i` goes to process
    (i + s) mod n, so one chat's updates are spread round-robin over the processes."""

    def __init__(self, api: BotApiServer, bots: list[BotProcess], reference: Reference, people: int,
                 first_chat: int = 8000) -> None:
        self.api, self.bots, self.reference = api, bots, reference
        self.up = threading.Event()  # cleared while the bot is down (killed, not yet restarted)
        self.up.set()
        self.aborted = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[int | None] = Counter()
        self.people = [Person(self, first_chat + i, i) for i in range(people)]

    def target(self, index: int, step: int) -> BotProcess:
        return self.bots[(index + step) % len(self.bots)]

    def start(self) -> None:
        for person in self.people:
            person.start()

    def finished(self) -> bool:
        return not any(person.is_alive() for person in self.people)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for person in self.people:
            person.join(max(0.0, deadline - time.monotonic()))
        if not self.finished():
            self.aborted.set()
            for person in self.people:
                person.join(5)

    def expected_messages(self) -> int:
        return len(self.people) * len(self.reference.texts)

    def wait_for_messages(self, count: int) -> bool:
        """Wait until `count` messages have been delivered in all; False when everyone is done first."""
        api = self.api.api
        api.wait_while_working(lambda: api.delivered_count() >= count or self.finished(), PATIENCE, LONGEST)
        return api.delivered_count() >= count


# -- the checks ------------------------------------------------------------------------------------
def without_repeats(sent: list[str], expected: list[str], repeatable: Counter[str]) -> tuple[list[str], int]:
    """The texts sent to a chat, less the repeats allowed: a text already sent that is in
    `repeatable` (its outbox row was not 'sent' at a crash) and is not the next one expected.
    Returns the texts kept and the count of repeats taken out."""
    kept: list[str] = []
    allowance = Counter(repeatable)
    repeats = 0
    for said in sent:
        expected_next = expected[len(kept)] if len(kept) < len(expected) else None
        if said != expected_next and allowance[said] > 0 and said in kept:
            allowance[said] -= 1
            repeats += 1
        else:
            kept.append(said)
    return kept, repeats


def difference(got: list[str], expected: list[str]) -> str:
    at = next((i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
              min(len(got), len(expected)))
    first_got = repr(got[at][:50]) if at < len(got) else "nothing"
    first_expected = repr(expected[at][:50]) if at < len(expected) else "nothing"
    return (f"{len(got)} vs {len(expected)} messages, first difference at #{at + 1}: "
            f"{first_got} instead of {first_expected}")


@dataclass
class Outcome:
    """What a run left: per chat its end state and the texts it got (allowed repeats taken out)."""

    problems: dict[str, list[str]] = field(default_factory=dict)  # kind of problem -> chats' details
    ends: dict[int, tuple[str | None, dict[str, Any], list[str]]] = field(default_factory=dict)
    repeats: int = 0
    facts: list[str] = field(default_factory=list)

    def problem(self, kind: str, detail: str) -> None:
        self.problems.setdefault(kind, []).append(detail)

    def report(self, title: str) -> str:
        lines = [f"== {title}", *(f"   {fact}" for fact in self.facts)]
        for kind, details in self.problems.items():
            lines.append(f"   FAIL {kind}: {len(details)}")
            lines += [f"      {detail}" for detail in details[:SHOWN]]
        if not self.problems:
            lines.append("   all checks passed")
        return "\n".join(lines)


def check(run: Run, url: str, repeatable: dict[int, Counter[str]], outputs: list[str]) -> Outcome:
    outcome = Outcome()
    expected = run.reference.texts
    people = run.people
    acknowledged = [update for person in people for update in person.acknowledged]
    reposts = sum(person.posts for person in people) - len(acknowledged)
    outcome.facts.append(f"{len(people)} chats, {len(SCRIPT)} steps each; {len(acknowledged)} updates "
                         f"acknowledged, {reposts} posts not answered 200 and posted again "
                         f"(answers: {dict(run.statuses)})")
    for person in people:
        if person.problem:
            outcome.problem("chats that stalled", f"chat {person.chat}: {person.problem}")

    handled, claimed = inbound_update_ids(url), claimed_deliveries(url)
    never = [u for u in acknowledged if handled[u] == 0]
    twice = [u for u in acknowledged if handled[u] > 1]
    outcome.facts.append(f"acknowledged updates in the contact log: {len(acknowledged) - len(never)} of "
                         f"{len(acknowledged)}; in the deliveries table: "
                         f"{sum(1 for u in acknowledged if u in claimed)}")
    for update in never:
        where = "claimed in deliveries" if update in claimed else "not in deliveries either"
        outcome.problem("acknowledged updates never handled (no inbound event with their update_id)",
                        f"update {update} ({where})")
    for update in twice:
        outcome.problem("acknowledged updates handled more than once",
                        f"update {update}: {handled[update]} times")

    records = chat_records(url)
    for person in people:
        record = records.get(person.chat)
        state, answers = (record.state, record.answers) if record else (None, {})
        if (state, answers) != (run.reference.state, run.reference.answers):
            missing = sorted(set(run.reference.answers) - set(answers))
            outcome.problem("conversations not where the script leads",
                            f"chat {person.chat}: at {state} (expected {run.reference.state}); "
                            f"answers missing: {missing}, differing: "
                            f"{sorted(k for k in answers if answers[k] != run.reference.answers.get(k))}")
        sent = [m["text"] for m in run.api.api.delivered(person.chat)]
        kept, repeats = without_repeats(sent, expected, repeatable.get(person.chat, Counter()))
        outcome.repeats += repeats
        if kept != expected:
            outcome.problem("chats whose replies were not delivered exactly once, in order",
                            f"chat {person.chat}: {difference(kept, expected)}")
        logged = record.outbound if record else []
        if logged != kept:
            outcome.problem("chats whose contact log (outbound events) differs from what was delivered",
                            f"chat {person.chat}: log vs delivered: {difference(logged, kept)}")
        outcome.ends[person.chat] = (state, answers, kept)
    outcome.facts.append(f"messages sent again after a crash (allowed: outbox row not yet 'sent' when "
                         f"killed): {outcome.repeats}")
    printed = Counter(tracebacks(outputs))  # told, not judged: a failing call may well be logged
    if printed:
        outcome.facts.append(f"the bot's output has {sum(printed.values())} tracebacks: "
                             + "; ".join(f"{n} x {line[:220]}" for line, n in printed.most_common(3)))
    return outcome


def finish(outcome: Outcome, title: str) -> None:
    report = outcome.report(title)
    print(report)
    assert not outcome.problems, report


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 postgres_unavailable: str | None) -> Iterator[str]:
    """An empty database for the bot process: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durability.sqlite3'}"
        return
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    with postgres_schema(POSTGRES_URL) as url:
        yield url


def stop_all(bots: list[BotProcess]) -> None:
    for bot in bots:
        if bot.alive():
            bot.stop()


# -- (1) SIGKILL at random moments -----------------------------------------------------------------
PEOPLE = 50
KILLS = 3
KILL_SEED = 20240611


def test_sigkill_at_random_moments_loses_and_repeats_nothing(database_url: str,
                                                             service: SalesService) -> None:
    expected = reference(service)
    rng = random.Random(KILL_SEED)
    repeatable: dict[int, Counter[str]] = {}
    began = time.monotonic()
    with BotApiServer() as api:
        bot = BotProcess(api, database_url)
        bot.start(timeout=START_TIMEOUT)
        run = Run(api, [bot], expected, PEOPLE)
        total = run.expected_messages()
        # one random moment in each of KILLS equal stretches of the run (the first and last tenth left out)
        stretch = total * 8 // 10 // KILLS
        moments = [total // 10 + k * stretch + rng.randrange(stretch) for k in range(KILLS)]
        kills: list[str] = []
        try:
            run.start()
            for moment in moments:
                if not run.wait_for_messages(moment):
                    break  # everyone is done or stalled: nothing left to interrupt
                time.sleep(rng.uniform(0, 0.3))  # a random moment after the moment-th message
                run.up.clear()
                at = api.api.delivered_count()
                bot.kill()
                unsent = unsent_outbox(database_url)
                for chat, texts in unsent.items():
                    repeatable.setdefault(chat, Counter()).update(texts)
                restarting = time.monotonic()
                bot.start(clear=False, timeout=START_TIMEOUT)
                run.up.set()
                kills.append(f"after {at} messages ({sum(map(sum, (c.values() for c in unsent.values())))} "
                             f"unsent in the outbox; restarted in {time.monotonic() - restarting:.1f} s)")
            run.join(timeout=6 * PATIENCE)
        finally:
            run.aborted.set()
            run.up.set()
            stop_all([bot])
        outcome = check(run, database_url, repeatable, bot.outputs)
    outcome.facts.insert(0, f"seed {KILL_SEED}: {len(kills)} kills (SIGKILL) at messages {moments}: "
                            + "; ".join(kills))
    outcome.facts.append(f"took {time.monotonic() - began:.1f} s")
    finish(outcome, f"SIGKILL durability on {database_url.split(':')[0]}")


# -- (2) the Bot API failing: 5xx answers, connections refused ----------------------------------------
FAULT_PEOPLE = 20
FAULT_SEED = 7051
OUTAGE_SECONDS = 5.0  # longer than an in-memory retry loop waits (3 retries: 0.5 + 1 + 2 s)


def test_bot_api_errors_and_refused_connections_lose_and_repeat_nothing(database_url: str,
                                                                        service: SalesService) -> None:
    expected = reference(service)
    rng = random.Random(FAULT_SEED)
    began = time.monotonic()
    with BotApiServer() as api:
        bot = BotProcess(api, database_url)
        bot.start(timeout=START_TIMEOUT)
        run = Run(api, [bot], expected, FAULT_PEOPLE)
        total = run.expected_messages()
        faults = sorted([(m, "5xx") for m in rng.sample(range(total // 10, total * 8 // 10), 3)]
                        + [(rng.randrange(total // 3, total * 2 // 3), "outage")])
        done: list[str] = []
        try:
            run.start()
            for moment, fault in faults:
                if not run.wait_for_messages(moment):
                    break
                if fault == "5xx":
                    burst = [ServerError(rng.choice([500, 502, 503, 504]), "Internal Server Error")
                             for _ in range(rng.randint(2, 5))]
                    api.api.fail("sendMessage", *burst)
                    done.append(f"{len(burst)} x 5xx after {moment} messages")
                else:
                    with api.refusing():
                        time.sleep(OUTAGE_SECONDS)  # the length of the outage, not a wait for anything
                    done.append(f"connections refused for {OUTAGE_SECONDS:.0f} s after {moment} messages")
            run.join(timeout=6 * PATIENCE)
        finally:
            run.aborted.set()
            stop_all([bot])
        outcome = check(run, database_url, {}, bot.outputs)
        errors = Counter(c.status for c in api.api.calls if c.method == "sendMessage" and c.status != 200)
        left = len(api.api.failures.get("sendMessage", ()))
    outcome.facts.insert(0, f"seed {FAULT_SEED}: " + "; ".join(done)
                            + f"; sendMessage answered with errors: {dict(errors)}; 5xx not used: {left}")
    outcome.facts.append(f"took {time.monotonic() - began:.1f} s")
    finish(outcome, f"Bot API faults on {database_url.split(':')[0]}")


# -- (3) 4 workers on one PostgreSQL database -------------------------------------------------------
WORKER_PEOPLE = 12


def run_workers(url: str, workers: int, expected: Reference) -> tuple[Outcome, float]:
    """Start `workers` processes together on the (empty) database at url, run the script in
    WORKER_PEOPLE chats with each chat's updates spread over them round-robin, and check."""
    began = time.monotonic()
    start_problems: list[str] = []
    with BotApiServer() as api:
        bots = [BotProcess(api, url) for _ in range(workers)]
        run = Run(api, bots, expected, WORKER_PEOPLE)
        try:
            registered = [bot.launch(clear=False) for bot in bots]  # all at once: they meet in migrations
            for number, (bot, before) in enumerate(zip(bots, registered, strict=True), 1):
                try:
                    bot.wait_ready(before, timeout=START_TIMEOUT)
                except AssertionError as error:  # e.g. it died in a migration another worker was running
                    last = [line for line in str(error).splitlines() if line.strip()][-3:]
                    start_problems.append(f"worker {number} did not start: {' | '.join(last)[:300]}")
                    if bot.alive():
                        bot.kill()
                    else:
                        bot.outputs.append(bot.output())
                    bot.start(clear=False, timeout=START_TIMEOUT)  # again, to check the rest
            run.start()
            run.join(timeout=4 * PATIENCE)
        finally:
            run.aborted.set()
            stop_all(bots)
        outcome = check(run, url, {}, [output for bot in bots for output in bot.outputs])
    for problem in start_problems:
        outcome.problem("workers that failed to start together on an empty schema", problem)
    versions = migration_versions(url)
    if len(versions) != 1:
        outcome.problem("migration records", f"alembic_version holds {versions}")
    return outcome, time.monotonic() - began


def migration_versions(url: str) -> list[str]:
    """The rows of alembic_version: one, once every worker has migrated."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]
    except DBAPIError:  # no such table: nothing migrated
        return []
    finally:
        engine.dispose()


MIGRATE_ROUNDS = 3


def migrating_together(workers: int, rounds: int) -> list[str]:
    """`salesbot migrate` in `workers` processes started at once on an empty schema, `rounds` times
    (the workers' own start is a few seconds of imports, which spreads them out; these meet in the
    migration far more often). What went wrong, if anything."""
    problems = []
    for round_ in range(1, rounds + 1):
        with postgres_schema(POSTGRES_URL) as url:
            env = {**os.environ, "DATABASE_URL": url}
            processes = [subprocess.Popen([sys.executable, "-m", "bot.cli", "migrate"], cwd=ROOT, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                         for _ in range(workers)]
            for number, process in enumerate(processes, 1):
                output, _ = process.communicate(timeout=START_TIMEOUT)
                if process.returncode != 0:
                    lines = [line for line in output.splitlines() if line.strip()] or ["no output"]
                    said = next((line for line in reversed(lines) if "rror" in line), lines[-1])
                    problems.append(f"round {round_}, process {number}: exit {process.returncode}: "
                                    f"{said[:200]}")
            versions = migration_versions(url)
            if len(versions) != 1:
                problems.append(f"round {round_}: alembic_version holds {versions}")
    return problems


def test_four_workers_on_one_postgresql_database_end_as_one(service: SalesService,
                                                            postgres_unavailable: str | None) -> None:
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    expected = reference(service)
    racing = migrating_together(4, MIGRATE_ROUNDS)
    with postgres_schema(POSTGRES_URL) as alone_url, postgres_schema(POSTGRES_URL) as shared_url:
        alone, alone_took = run_workers(alone_url, 1, expected)
        shared, shared_took = run_workers(shared_url, 4, expected)
    alone.facts.append(f"took {alone_took:.1f} s")
    shared.facts.append(f"took {shared_took:.1f} s")
    for chat, end in alone.ends.items():
        other = shared.ends.get(chat)
        if other is None or other[:2] != end[:2]:
            shared.problem("chats whose end state differs from one worker's",
                           f"chat {chat}: {other[0] if other else None} vs {end[0]}")
        if other is None or other[2] != end[2]:
            shared.problem("chats whose sequence of texts differs from one worker's",
                           f"chat {chat}: {difference(other[2] if other else [], end[2])}")
    for problem in racing:
        shared.problem(f"`salesbot migrate` x 4 at once on an empty schema ({MIGRATE_ROUNDS} rounds)",
                       problem)
    report = "\n".join([alone.report("1 worker on PostgreSQL"),
                        shared.report("4 workers on PostgreSQL, round-robin")])
    print(report)
    assert not alone.problems and not shared.problems, report
