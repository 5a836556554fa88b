"""Nothing lost, ever: a stateful property test of the Telegram message path.

Random text, buttons (current, stale, forged), commands, other messages, duplicates and restarts
of the bot (a new Application and service on the same database), over three private chats,
through the real python-telegram-bot Application (tests/helpers.Harness). After every update:

- no handler failed: nothing was logged at ERROR (on_error logs every failure) and the apology
  (errors.internal, either locale) was never sent;
- every update that is not a duplicate (nor a 'more' press, which pages its own message) got an
  answer, in messages Telegram would take (text neither empty nor too long, callback data within
  64 bytes, no more buttons than the channel's limit);
- a duplicate (an update_id seen before, also by an earlier process) changes nothing: the same
  stage, answers, progress and log, and nothing sent or edited;
- a press is taken exactly when Sale.intent_of would take it (the number of the current question
  and an option of the stage) and comes from a message of the current record; anything else
  (stale, forged, from before `/delete confirm`) is refused with errors.stale_button and changes
  neither the stage nor the answers;
- stored answers lose no key except by a restart or back move in the log, `/back`, `/delete
  confirm`, or an answer that made a later question not apply (in_passing.without_unasked);
- every keyboard sent or edited offers only options of the stage the conversation is in after
  the update (Stage.options on the stored record, plus the channel's 'more' pages), each numbered
  with a question asked in that update (a page: the current question);
- the conversation is in a stage of STAGES, in the customer mode, and its contact log is a chain
  of rows of TRANSITIONS from "approach" to the stored stage.

At the end, minimal examples of what it found, as plain tests.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy import select
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.flows.conversation import Talk
from bot.flows.machine import STAGES, TRANSITIONS
from bot.flows.progress import Progress
from bot.flows.sale import Sale
from bot.handlers import telegram as handlers
from bot.handlers.channel import more_offset
from bot.handlers.telegram import LIMITS, pressed
from bot.library import LOCALES, Library
from bot.service import SalesService
from storage.database import Database
from storage.models import ContactEvent
from tests.botapi import (DOCUMENT, LOCATION, PHOTO, STICKER, VOICE, Call, button_update, message_update,
                          value_of)
from tests.helpers import Harness

CHANNEL = "telegram"
LANGUAGES = ("en", "zh-hans", "en-GB")  # the Telegram language of each chat's person
CHAT = st.integers(0, len(LANGUAGES) - 1)  # which chat
PICK = st.integers(0, 50)  # which of several (modulo their number): shrinks to the first
_examples = itertools.count()  # each example its own chats: the database is shared by all examples

COMMANDS = ("/start", "/help", "/back", "/why", "/restart", "/lang zh", "/lang en", "/lang", "/cancel",
            "/delete", "/delete confirm", "/agent", "/start R42", "/frobnicate", "/lang@sales_assistant_bot")
WORDS = ("yes", "no", "ok", "back", "restart", "stop", "why", "agent", "help", "skip", "resume", "35", "0",
         "-1", "300000", "30万", "月薪两万", "3, 7", "office", "married", "single", "too expensive",
         "let me think", "好的", "不要", "为什么", "人工", "我想买", "太贵了", "重新开始", "😀", "👍🏽",
         "\x00", "a\x00b", "\ud83d", " ", "\n", "1e9", "NaN", "∞", "١٢٣", "三十五")
TEXT = st.one_of(
    st.sampled_from(WORDS),
    st.text(min_size=1, max_size=30).filter(lambda t: not t.startswith("/")),
    st.text(alphabet=st.sampled_from("0123456789 ,.万元岁我是想要保险不好的😀🙂\x00abc"), min_size=1,
            max_size=20).filter(lambda t: not t.startswith("/")),
    st.builds(lambda n, c: c * n, st.sampled_from([1999, 2000, 2001, 4096, 5000]), st.sampled_from("a字😀9")),
)
FORGED = st.one_of(
    st.text(max_size=64),
    st.builds(lambda v, n: f"{v}|{n}", st.sampled_from(sorted({v for s in STAGES.values() for v in s.menu})),
              st.integers(-2, 40)),
    st.builds(lambda v, n: f"more:{v}|{n}", st.sampled_from(["0", "7", "99999999999", "x", "-1", ""]),
              st.integers(0, 40)),
    st.sampled_from(["", "|", "|1", "agree|", "agree|-1", "agree|01", "more:", "more:7", "edit:age|3"]),
)
OTHER = {"sticker": STICKER, "photo": PHOTO, "voice": VOICE, "document": DOCUMENT, "location": LOCATION}
BACKWARDS = ("decline", "restart", "review", "agent", "skip")  # buttons a willing customer rarely presses
ANSWERS = ("sendMessage", "sendPhoto", "sendDocument")  # what the person sees as an answer
FORGED_LIFE = -1  # a forged press comes from no keyboard the chat was shown
APOLOGY = "errors.internal"
STALE_TEXT = "errors.stale_button"


@dataclass(frozen=True)
class Seen:
    """One chat's record as stored: None fields when the chat has no contact (new, or erased)."""

    contact: int | None = None
    conversation: int | None = None
    locale: str = "en"
    mode: str = "customer"
    state: str = "approach"
    answers: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    log: tuple[tuple[str, str, dict[str, Any]], ...] = ()  # (kind, text, detail)

    @property
    def asked(self) -> int:
        return Progress.from_json(self.progress).asked


@dataclass(frozen=True)
class Keyboard:
    """A keyboard the chat was shown: the record it belongs to (the chat's count of erasures), the
    question that asked it, its buttons."""

    life: int
    number: int | None
    data: tuple[str, ...]
    text: str

    def markup(self) -> list[list[dict[str, Any]]]:
        return [[{"text": value_of(d) or "?", "callback_data": d}] for d in self.data]


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def is_row(trigger: str, source: str, dest: str) -> bool:
    """A stage change that the transition table allows (any source "*"; internal or reflexive rows)."""
    for row in TRANSITIONS:
        sources = row["source"]
        if row["trigger"] != trigger or (sources != "*" and source not in
                                          ([sources] if isinstance(sources, str) else sources)):
            continue
        target = row.get("dest")
        if (source if target in (None, "=") else target) == dest:
            return True
    return False


def buttons_of(call: Call) -> list[str]:
    """The callback data of a call's buttons (a link button, e.g. to forward, has none)."""
    markup = call.params.get("reply_markup") or {}
    if isinstance(markup, str):  # a form field of an upload
        markup = json.loads(markup)
    rows = markup.get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


class MessagePath(RuleBasedStateMachine):
    library: ClassVar[Library]
    database: ClassVar[Database]

    def __init__(self) -> None:
        super().__init__()
        base = 8_000_000 + 10 * next(_examples)
        self.chats = [base + i for i in range(len(LANGUAGES))]
        self.loop = asyncio.new_event_loop()
        self.errors = ErrorLog()
        logging.getLogger().addHandler(self.errors)
        self.harness = self.start_process()
        self.fed: list[tuple[int, dict[str, Any]]] = []  # (chat index, update): for duplicates
        self.keyboards: dict[int, list[Keyboard]] = {chat: [] for chat in self.chats}
        # the log of each conversation as read so far: the id of its last event, and its events
        self.logs: dict[int, tuple[int, tuple[tuple[str, str, dict[str, Any]], ...]]] = {}
        self.conversation: dict[int, int] = {}  # chat -> its conversation when last read
        self.life = dict.fromkeys(self.chats, 0)  # chat -> how many times its record was erased
        self.records: dict[int, Seen] = {chat: Seen() for chat in self.chats}  # as stored after each update
        self.apologies = {self.library.text(locale, APOLOGY) for locale in LOCALES}

    # -- the bot as a process ------------------------------------------------------------------
    def start_process(self) -> Harness:
        """The bot as a new process would be: a new Application (and service) on the same database."""
        harness = Harness(SalesService(self.library, self.database))
        self.run(harness.app.initialize())
        return harness

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the machine's event loop, then until everything it set going is done."""
        async def settled() -> None:
            await work
            while busy := self.in_flight():
                await asyncio.gather(*busy, return_exceptions=True)  # a failure is logged: see ErrorLog
        self.loop.run_until_complete(settled())

    def in_flight(self) -> list[asyncio.Future[Any]]:
        """Tasks the bot set going on its own: answers to presses, chats being drained."""
        answering: set[asyncio.Task[None]] = getattr(handlers, "answering", set())
        updates = self.harness.app.bot_data.get("updates") if hasattr(self, "harness") else None
        draining: dict[str, asyncio.Task[None]] = getattr(updates, "draining", {})
        return [*answering, *draining.values()]

    def teardown(self) -> None:
        try:
            self.run(self.harness.app.shutdown())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            logging.getLogger().removeHandler(self.errors)

    # -- what is stored --------------------------------------------------------------------------
    def seen(self, chat: int) -> Seen:
        with self.database.unit_of_work() as uow:
            contact = uow.contacts.find(CHANNEL, str(chat))
            record = uow.conversations.current(contact, contact.active_mode) if contact else None
            known = self.conversation.get(chat)
            if known is not None and (record is None or record.id != known):
                # erased: what comes next is a new record (SQLite may give it the erased one's ids)
                del self.conversation[chat], self.logs[known]
                self.life[chat] += 1
            if contact is None:
                return Seen()
            if record is None:
                return Seen(contact.id, locale=contact.locale, mode=contact.active_mode)
            self.conversation[chat] = record.id
            # the log read from where it was read last (it only grows): a long log costs no more
            last, log = self.logs.get(record.id, (0, ()))
            new = uow.session.scalars(select(ContactEvent).where(ContactEvent.conversation_id == record.id,
                                                                 ContactEvent.id > last)
                                      .order_by(ContactEvent.id)).all()
            if new:
                log += tuple((e.kind, e.text, dict(e.detail)) for e in new)
            self.logs[record.id] = (new[-1].id if new else last, log)
            return Seen(contact.id, record.id, contact.locale, record.mode, record.state,
                        copy.deepcopy(record.data.get("answers", {})),
                        copy.deepcopy(record.data.get("progress", {})), log)

    def sale(self, seen: Seen) -> Sale:
        return Sale(Talk(self.library, seen.locale), seen.state, copy.deepcopy(seen.answers),
                    Progress.from_json(seen.progress))

    def options(self, seen: Seen) -> list[str]:
        """What the stored conversation's stage offers now (what a press may choose)."""
        return STAGES[seen.state].options(self.sale(seen))

    def current(self, chat: int) -> Keyboard | None:
        """The keyboard of the chat's current question, if that question has buttons."""
        seen = self.records[chat]
        if seen.conversation is None:
            return None
        mine = [k for k in self.keyboards[chat] if k.life == self.life[chat] and k.number == seen.asked]
        return mine[-1] if mine else None

    def stale(self, chat: int) -> list[Keyboard]:
        now = self.current(chat)
        return [k for k in self.keyboards[chat] if k != now]

    # -- one update, and the checks that follow it -------------------------------------------------
    def deliver(self, index: int, update: dict[str, Any], duplicate: bool = False,
                source: Keyboard | None = None) -> None:
        """Feed one update and check what followed. source: the keyboard a press came from."""
        chat = self.chats[index]
        before = self.seen(chat)
        life = self.life[chat]
        start = len(self.harness.api.calls)
        self.run(self.harness.feed(update))
        calls = [c for c in self.harness.api.calls[start:] if int(c.params.get("chat_id", chat)) == chat]
        after = self.records[chat] = self.seen(chat)
        if not duplicate:
            self.fed.append((index, update))
        where = f"chat {index}, update {describe(update)}"
        assert not self.errors.records, f"{where}: logged {self.errors.records[0].getMessage()[:2000]}"
        sent = [c for c in calls if c.method == "sendMessage"]
        for call in sent:
            assert call.params["text"] not in self.apologies, f"{where}: apologised"
        if duplicate:
            self.check_duplicate(where, before, after, calls)
            return
        self.check_sent(where, update, before, after, calls)
        self.check_record(where, after)
        self.check_answers(where, update, before, after)
        self.check_press(where, update, before, after, sent, source is None or source.life == life)
        for call in calls:
            if buttons_of(call):
                numbers = {pressed(d)[1] for d in buttons_of(call)}
                self.keyboards[chat].append(Keyboard(self.life[chat], numbers.pop() if len(numbers) == 1
                                                     else None, tuple(buttons_of(call)),
                                                     str(call.params.get("text", ""))))

    def check_duplicate(self, where: str, before: Seen, after: Seen, calls: list[Call]) -> None:
        """An update handled before changes nothing: no record, no message, no edit."""
        assert after == before, f"{where}: a duplicate changed the record\n{before}\n{after}"
        made = [c.method for c in calls if c.method != "answerCallbackQuery"]  # the button stops spinning
        assert not made, f"{where}: a duplicate made calls {made}"

    def check_sent(self, where: str, update: dict[str, Any], before: Seen, after: Seen,
                   calls: list[Call]) -> None:
        query = update.get("callback_query")
        paging = query is not None and more_offset(pressed(query["data"])[0]) is not None
        sent = [c for c in calls if c.method == "sendMessage"]
        assert paging or [c for c in calls if c.method in ANSWERS], f"{where}: nothing was answered"
        for call in sent:
            text = call.params["text"]
            assert text.strip() and len(text) <= MessageLimit.MAX_TEXT_LENGTH, f"{where}: unsendable {text!r}"
        options = self.options(after)  # with no record (erased, or never kept): a new conversation's
        first = before.asked if before.conversation == after.conversation else 0
        # the same question asked again, unchanged, keeps its number (Sale.numbered)
        offered = Progress.from_json(before.progress).offered
        if first and first == after.asked and offered == Progress.from_json(after.progress).offered != "":
            first -= 1
        for call in calls:
            data = buttons_of(call)
            if not data:
                continue
            assert len(data) <= (LIMITS.options or len(data)), f"{where}: {len(data)} buttons"
            for item in data:
                assert len(item.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA, f"{where}: {item}"
                value, number = pressed(item)
                page = more_offset(value)
                assert value in options or (page is not None and 0 <= page < len(options)), \
                    f"{where}: {call.method} offers {value!r}, not an option of {after.state}: {options}"
                if call.method == "sendMessage":
                    assert first < number <= after.asked, \
                        f"{where}: button {item!r} is not of a question asked now ({first}, {after.asked}]"
                else:  # a page of the current question
                    assert number == after.asked, f"{where}: page button {item!r}, question {after.asked}"

    def check_record(self, where: str, after: Seen) -> None:
        if after.contact is None:
            return
        assert after.mode == "customer" and after.state in STAGES, f"{where}: {after.mode}/{after.state}"
        stage = "approach"
        for kind, trigger, detail in after.log:
            if kind != "transition":
                continue
            moved = (trigger, detail["from"], detail["to"])
            assert is_row(*moved), f"{where}: logged {moved}, not a row of TRANSITIONS"
            assert detail["from"] == stage, f"{where}: logged {moved} while at {stage}"
            stage = detail["to"]
        assert stage == after.state, f"{where}: the log ends at {stage}, the record at {after.state}"

    def check_answers(self, where: str, update: dict[str, Any], before: Seen, after: Seen) -> None:
        text = update.get("message", {}).get("text", "")
        if before.contact is not None and after.contact not in (None, before.contact):
            raise AssertionError(f"{where}: the contact was replaced")
        if after.contact is None or before.conversation != after.conversation:
            assert text == "/delete confirm" or before.contact is None, f"{where}: the record was erased"
            return
        moves = {trigger for kind, trigger, _ in after.log[len(before.log):] if kind == "transition"}
        if moves & {"restart", "back"} or text.startswith("/back"):
            return
        questions = {q.id: q for q in self.library.questions}
        for key in set(before.answers) - set(after.answers):
            assert key in questions and not questions[key].asked(after.answers), \
                f"{where}: answer {key}={before.answers[key]!r} lost ({before.state} -> {after.state})"

    def check_press(self, where: str, update: dict[str, Any], before: Seen, after: Seen,
                    sent: list[Call], this_record: bool) -> None:
        """A press is taken exactly when it is of the current question and an option of the stage
        (Sale.intent_of), from a message of this record (a message from before `/delete confirm`
        is stale whatever its number); anything else is refused and changes nothing."""
        query = update.get("callback_query")
        if query is None:
            return
        value, number = pressed(query["data"])
        if more_offset(value) is not None:
            assert (after.state, after.answers) == (before.state, before.answers), f"{where}: a page changed"
            return
        if not Progress.from_json(before.progress).greeted:  # anything at all is greeted first
            assert after.state == "approach", f"{where}: a first message moved to {after.state}"
            return
        locale = before.locale if before.contact is not None else after.locale
        refused = self.library.text(locale, STALE_TEXT) in [c.params["text"] for c in sent]
        current = this_record and number == before.asked and value in self.options(before)
        if current:
            assert not refused, f"{where}: a press of the current question was refused as stale"
        else:
            assert refused, f"{where}: a stale or forged press was not refused " \
                            f"({before.state} -> {after.state}, asked {before.asked})"
            assert (after.state, after.answers) == (before.state, before.answers), \
                f"{where}: a refused press changed the record"

    # -- rules -----------------------------------------------------------------------------------
    def update_for(self, index: int, text: str) -> dict[str, Any]:
        return message_update(self.chats[index], text, language=LANGUAGES[index])

    def press(self, index: int, keyboard: Keyboard, data: str) -> None:
        """A press of the button with callback data `data` on the message that showed `keyboard`."""
        update = button_update(self.chats[index], data, message_id=7, text=keyboard.text,
                               language=LANGUAGES[index], keyboard=keyboard.markup())
        self.deliver(index, update, source=None if keyboard.life == FORGED_LIFE else keyboard)

    @rule(index=CHAT, text=TEXT)
    def type_text(self, index: int, text: str) -> None:
        self.deliver(index, self.update_for(index, text))

    @rule(index=CHAT, what=st.sampled_from(["sticker", "photo", "voice", "document", "location", "edited"]))
    def send_something_else(self, index: int, what: str) -> None:
        """A message the sale cannot read, or an edit of an earlier message."""
        if what == "edited":
            update = message_update(self.chats[index], "35", language=LANGUAGES[index], edited=True)
        else:
            update = message_update(self.chats[index], language=LANGUAGES[index], **OTHER[what])
        self.deliver(index, update)

    @rule(index=CHAT, command=st.sampled_from(COMMANDS))
    def send_command(self, index: int, command: str) -> None:
        self.deliver(index, self.update_for(index, command))

    @rule(index=CHAT, button=PICK)
    def press_a_current_button(self, index: int, button: int) -> None:
        keyboard = self.current(self.chats[index])
        if keyboard is not None:
            self.press(index, keyboard, keyboard.data[button % len(keyboard.data)])

    @precondition(lambda self: any(self.stale(chat) for chat in self.chats))
    @rule(index=CHAT, keyboard=PICK, button=PICK, alike=st.booleans())
    def press_a_stale_button(self, index: int, keyboard: int, button: int, alike: bool) -> None:
        """A button of an earlier message of a chat: the `keyboard`-th of them, counting from the
        first; alike: counting only those with the current question's number, if there are any
        (a page of the current question, or a message from before an erasure)."""
        chats = [chat for chat in self.chats if self.stale(chat)]
        chat = chats[index % len(chats)]
        stale = self.stale(chat)
        if alike and (same := [k for k in stale if k.number == self.records[chat].asked]):
            stale = same
        shown = stale[keyboard % len(stale)]
        self.press(self.chats.index(chat), shown, shown.data[button % len(shown.data)])

    @rule(index=CHAT, forged=FORGED)
    def press_a_forged_button(self, index: int, forged: str) -> None:
        self.press(index, Keyboard(FORGED_LIFE, None, (forged,), "question"), forged)

    @precondition(lambda self: bool(self.fed))
    @rule(update=PICK, presses=st.booleans())
    def deliver_again(self, update: int, presses: bool) -> None:
        """The `update`-th update fed (counting from the first) delivered again, with its
        update_id; presses: counting only the presses, if there were any."""
        fed = self.fed
        if presses and (only := [one for one in fed if "callback_query" in one[1]]):
            fed = only
        index, again = fed[update % len(fed)]
        self.deliver(index, again, duplicate=True)

    @rule()
    def restart_the_bot(self) -> None:
        self.run(self.harness.app.shutdown())
        self.harness = self.start_process()

    @rule(index=CHAT, picks=st.lists(PICK, min_size=1, max_size=12))
    def go_ahead(self, index: int, picks: list[int]) -> None:
        """Answer as a willing customer would, once per pick: a number typed where one is asked,
        else a button of the current question (mostly the first, the stage's way forward), so
        that the later stages are reached too."""
        chat = self.chats[index]
        for pick in picks:
            keyboard = self.current(chat)
            typed = self.typed_answer(self.records[chat], pick)
            if typed is not None:
                self.deliver(index, self.update_for(index, typed))
            elif keyboard is not None:
                forward = [d for d in keyboard.data if value_of(d) not in BACKWARDS] or list(keyboard.data)
                self.press(index, keyboard, forward[0] if pick % 4 else forward[pick % len(forward)])
            else:
                self.deliver(index, self.update_for(index, "/start"))

    def typed_answer(self, seen: Seen, pick: int) -> str | None:
        """A number for the current needs question when it asks one (None: press a button):
        within the plausible range, further up the higher the pick."""
        if seen.conversation is None or seen.state != "needs":
            return None
        questionnaire = self.sale(seen).questionnaire
        question = questionnaire.current
        if questionnaire.progress.pending is not None or question.type not in ("number", "numbers"):
            return None
        low, high = question.plausible
        low = max(x for x in (low, question.min, 0) if x is not None)
        high = min(x for x in (high, question.max, 10**9) if x is not None)
        number = int(low + (high - low) * (pick % 8) / 7)
        if question.type == "numbers":
            return ", ".join(str(max(int(low), number - i)) for i in range(1 + pick % 3))
        return str(number)

    @invariant()
    def nothing_failed(self) -> None:
        assert not self.errors.records, self.errors.records[0].getMessage()[:2000]


def describe(update: dict[str, Any]) -> str:
    if "callback_query" in update:
        return f"{update['update_id']} press {update['callback_query']['data']!r}"
    text = update.get("message", {}).get("text", "")
    return f"{update['update_id']} text {text[:60]!r}{'…' if len(text) > 60 else ''}"


# Shrinking a failing example of this machine runs into Hypothesis's five minutes per test (each
# candidate replays its steps through the Application), so by default a failure is reported as
# found, at once; MESSAGE_PATH_SHRINK=1 shrinks it to a minimal example (slow).
SHRINK = os.environ.get("MESSAGE_PATH_SHRINK") == "1"
SETTINGS = settings(max_examples=8, stateful_step_count=30, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck))


def machine_on(library: Library, database: Database) -> type[MessagePath]:
    class OnThisDatabase(MessagePath):
        pass

    OnThisDatabase.library, OnThisDatabase.database = library, database
    return OnThisDatabase


def test_nothing_is_lost_on_the_message_path(library: Library, database: Database) -> None:
    run_state_machine_as_test(machine_on(library, database), settings=SETTINGS)


# -- what the machine found, shrunk: each the steps of a minimal failing example ---------------------
def test_a_button_from_before_delete_confirm_does_not_answer_the_new_record(library: Library,
                                                                           database: Database) -> None:
    """The new record after `/delete confirm` counts its questions from 1 again (Progress.asked is
    erased with the rest), so a button of an earlier message whose number comes round again is
    taken: here the health question's "Yes" confirms an unlikely age."""
    state = machine_on(library, database)()
    try:
        state.send_command(index=0, command="/start")  # the approach: question 1
        state.press_a_current_button(index=0, button=0)  # agree: the age, question 2
        state.type_text(index=0, text="35")  # the work, question 3
        state.type_text(index=0, text="office")  # health, yes or no: question 4
        state.send_command(index=0, command="/delete confirm")
        state.send_command(index=0, command="/start")  # a new record: the approach, question 1 again
        state.press_a_current_button(index=0, button=0)  # agree: the age, question 2
        state.type_text(index=0, text="abc")  # not an age: asked again, question 3
        state.type_text(index=0, text="95")  # "did you mean 95?", yes or no: question 4
        # the health question's "Yes" (yes|4), pressed now
        state.press_a_stale_button(index=0, keyboard=0, button=0, alike=True)
    finally:
        state.teardown()


def test_a_page_of_options_delivered_again_changes_nothing(library: Library, database: Database) -> None:
    """A 'more' press is paged by the channel without the delivery guard of the sale, so Telegram
    delivering it again edits the message again (to the page of whatever the question is now)."""
    state = machine_on(library, database)()
    try:
        state.send_command(index=0, command="/start")
        state.press_a_forged_button(index=0, forged="more:0|1")
        state.deliver_again(update=1, presses=True)
    finally:
        state.teardown()
