"""What every conversation model shares: a way to speak (`Talk`) and a typed place on a machine.

A model is plain data plus behaviour. It is never attached to its machine: `trigger` asks the
shared machine to run one event on it, so no per-conversation machine state is ever built and
nothing needs detaching afterwards. The library and the reply trail come in through `Talk`.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self, cast

from transitions import EventData, Machine

from bot.flows.messages import Button, Mark, Reply, Step, Trail
from bot.library import Library


@dataclass
class Talk:
    """The words of one message's answer: the library to read from, the locale, and the trail
    of replies and log marks collected in order."""

    library: Library
    locale: str
    trail: Trail = field(default_factory=list)

    def text(self, key: str, **context: Any) -> str:
        return self.library.text(self.locale, key, **context)

    def has(self, key: str) -> bool:
        return self.library.has(self.locale, key)

    def say(self, key: str, buttons: tuple[Button, ...] = (), **context: Any) -> None:
        self.trail.append(Reply(self.text(key, **context), buttons))

    def send(self, reply: Reply) -> None:
        self.trail.append(reply)

    def mark(self, kind: str, detail: str = "") -> None:
        self.trail.append(Mark(kind, detail))


class StoredAsJson:
    """A dataclass kept in the conversation's JSON: unset (None) values are left out, keys of
    other versions ignored, and loading takes a copy (the stored original changes only when the
    conversation is saved again)."""

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(cast(Any, self)).items() if value is not None}

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Self:
        known = {f.name for f in fields(cast(Any, cls))}
        return cls(**{name: copy.deepcopy(value) for name, value in (raw or {}).items() if name in known})


class OnMachine:
    """A model moved by a shared transitions machine (named guards and actions are its methods)."""

    machine: ClassVar[Machine]
    state: str
    talk: Talk

    def trigger(self, name: str, *args: Any) -> bool:
        """Run an event of the table on this model; False when a guard says no."""
        return bool(self.machine.events[name].trigger(self, *args))

    def fire(self, name: str, *args: Any) -> bool:
        """Like trigger, but False (rather than an error) when the current stage has no such move."""
        return name in self.machine.get_triggers(self.state) and self.trigger(name, *args)

    def record_step(self, event: EventData) -> None:
        """Named in the machine as before_state_change: every change of stage goes to the log."""
        moved = event.transition
        assert moved is not None and moved.dest is not None  # a change of stage always has both
        self.talk.trail.append(Step(event.event.name, moved.source, moved.dest))
