"""Agent rehearsal: the bot plays a prospect from the persona library, the agent sells, the bot
scores. The prospect's side of the sale is one table of stages and moves, like the customer flow;
what the agent did in each message comes from the act classifier (acts.py).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from bot.flows.acts import ActClassifier
from bot.flows.calculator import analyse
from bot.flows.machine import attached
from bot.flows.messages import Button, Inbound, Mark, Reply, Step, Trail
from bot.flows.presenting import plan_context
from bot.library import Library, keyword_in, normalise

STATES = ["persona", "difficulty", "opening", "needs", "presenting", "objection", "closing", "sold",
          "walked_out", "stopped"]
PLAYING = ["opening", "needs", "presenting", "objection", "closing"]
ENDED = ("sold", "walked_out", "stopped")
TRANSITIONS = [
    {"trigger": "choose_persona", "source": "persona", "dest": "difficulty"},
    {"trigger": "choose_difficulty", "source": "difficulty", "dest": "opening"},
    {"trigger": "explore", "source": "opening", "dest": "needs"},
    {"trigger": "present", "source": ["opening", "needs"], "dest": "presenting"},
    {"trigger": "object", "source": ["presenting", "closing", "objection"], "dest": "objection"},
    {"trigger": "resolve", "source": "objection", "dest": "closing"},
    {"trigger": "buy", "source": "closing", "dest": "sold", "conditions": "convinced"},
    {"trigger": "walk_out", "source": PLAYING, "dest": "walked_out"},
    {"trigger": "stop", "source": PLAYING + ["persona", "difficulty"], "dest": "stopped"},
]
MACHINE = Machine(model=None, states=STATES, transitions=TRANSITIONS, initial="persona", auto_transitions=False,
                  send_event=True, before_state_change="record_step")
QUESTIONS = ("open_question", "closed_question")
PUSHY = ("product_talk", "trial_close", "ask_signature")  # before any needs question, these push
WEIGHTS = {"opening": 10, "needs": 35, "presentation": 15, "objections": 20, "closing": 20}


@dataclass(eq=False)
class Rehearsal:
    state: str = "persona"
    locale: str = "zh_CN"
    data: dict[str, Any] = field(default_factory=dict)

    # -- the words ------------------------------------------------------------------------------
    def say(self, key: str, buttons: tuple[Button, ...] = (), **context: Any) -> None:
        self._trail.append(Reply(self._library.text(self.locale, key, **self.context(), **context), buttons))

    def prospect(self, line: str) -> None:
        name = self.persona()["name"][self.locale]
        self._trail.append(Reply(self._library.text(self.locale, "rehearsal.says", name=name, line=line)))

    def line(self, key: str, **context: Any) -> None:
        self.prospect(self._library.text(self.locale, f"rehearsal.prospect.{key}", **context))

    def context(self) -> dict[str, Any]:
        persona = self.persona() if self.data.get("persona") else None
        return {"name": persona["name"][self.locale], "about": persona["about"][self.locale]} if persona else {}

    def personas(self) -> list[dict[str, Any]]:
        return self._library.rehearsal["personas"]["personas"]

    def persona(self) -> dict[str, Any]:
        return next(p for p in self.personas() if p["id"] == self.data["persona"])

    def menu(self) -> list[str]:
        if self.state == "persona":
            return [p["id"] for p in self.personas()] + ["random"]
        if self.state == "difficulty":
            return list(self._library.rehearsal["personas"]["difficulties"]) + ["random"]
        return []

    def label(self, value: str) -> str:
        if value == "random":
            return self._library.text(self.locale, "rehearsal.random")
        if self.state == "persona":
            persona = next(p for p in self.personas() if p["id"] == value)
            return self._library.text(self.locale, "rehearsal.persona_label", name=persona["name"][self.locale],
                                      about=persona["about"][self.locale])
        return self._library.text(self.locale, f"rehearsal.difficulty.{value}")

    def prompt(self) -> None:
        if self.state in ("persona", "difficulty"):
            self.say(f"rehearsal.ask_{self.state}", tuple(Button(self.label(v), v) for v in self.menu()))

    # -- callbacks of the table -----------------------------------------------------------------
    def record_step(self, event: EventData) -> None:
        self._trail.append(Step(event.event.name, event.transition.source, event.transition.dest))

    def convinced(self, event: EventData) -> bool:
        d = self.data
        return bool(d["revealed"]) and not d["objections_left"] and not d.get("objection") and \
            d["warmth"] >= self.difficulty()["threshold"]

    def on_enter_difficulty(self, event: EventData) -> None:
        self.prompt()

    def on_enter_opening(self, event: EventData) -> None:
        persona = self.persona()
        self.data.update(warmth=persona["warmth"], revealed=[], acts=[], answered=[], ignored=[], missed_signals=[],
                         objections_left=[o["id"] for o in persona["objections"]], signals_given=0,
                         signals_taken=0, pushy=0, summarised=False, benefit=False, asked=False)
        self.say("rehearsal.begin")
        self.line(f"greet_{persona['awareness']}")

    def on_enter_objection(self, event: EventData) -> None:
        self.data["objection"] = self.data["objections_left"].pop(0)
        self.mark("objection", self.data["objection"])
        self.line(f"objection_{self.data['objection']}")

    def on_enter_closing(self, event: EventData) -> None:
        signals = self.persona()["signals"][self.locale]
        self.prospect(signals[min(self.data["signals_given"], len(signals) - 1)])
        self.data["signals_given"] += 1
        self.data["signal_open"] = self.data.pop("objection")  # the agent's next move should close

    def on_enter_sold(self, event: EventData) -> None:
        self.line("buys")
        self.finish()

    def on_enter_walked_out(self, event: EventData) -> None:
        self.line("walks_out")
        self.finish()

    def on_enter_stopped(self, event: EventData) -> None:
        if "acts" in self.data:
            self.finish()

    def mark(self, kind: str, detail: str = "") -> None:
        self._trail.append(Mark(kind, detail))

    # -- the agent's move -----------------------------------------------------------------------
    def difficulty(self) -> dict[str, int]:
        return self._library.rehearsal["personas"]["difficulties"][self.data["difficulty"]]

    def cool(self, reason: str) -> None:
        self.data["warmth"] -= self.difficulty()["penalty"]
        self.line(reason)

    def warm(self) -> None:
        self.data["warmth"] = min(10, self.data["warmth"] + 1)

    def next_objection_at(self, moment: str) -> bool:
        left = self.data["objections_left"]
        at = {o["id"]: o["at"] for o in self.persona()["objections"]}
        return bool(left) and at[left[0]] == moment

    def answer_question(self, act: str, text: str) -> None:
        needs = [n for n in self.persona()["hidden_needs"] if n["id"] not in self.data["revealed"]]
        asked = normalise(text)
        found = next((n for n in needs if any(keyword_in(w, asked) for w in n["topics"][self.locale])), None)
        if found:
            self.data["revealed"].append(found["id"])
            self.prospect(found["reveal"][self.locale])
        else:
            self.line("answer_open" if act == "open_question" else "answer_closed")
        if act == "open_question":
            self.warm()
        if self.state == "opening":
            self.trigger("explore")

    def present(self, act: str) -> None:
        if not self.data["revealed"]:
            return self.cool("no_need_yet") if act == "product_talk" else self.line("benefit_without_need")
        self.data["benefit"] = self.data["benefit"] or act == "benefit"
        if self.state != "presenting":
            self.trigger("present")
        if self.next_objection_at("presentation"):
            self.trigger("object")
        else:
            self.line("interested")

    def ask(self, act: str) -> None:
        if self.data.get("objection"):
            return None
        if self.next_objection_at("close") and self.state in ("presenting", "closing"):
            self.trigger("object")
        elif act == "trial_close":
            self.line("trial_yes" if self.data["revealed"] else "trial_hmm")
        elif not self.data["revealed"]:
            self.cool("no_need")
        elif self.state == "closing" and self.trigger("buy"):
            return None
        else:
            self.cool("not_convinced")

    def handle_objection(self, act: str) -> None:
        if act == "acknowledge":
            self.warm()
            self.line("acknowledged")
        elif act == "answer_objection":
            self.data["answered"].append(self.data["objection"])
            self.warm()
            self.trigger("resolve")
        else:
            if self.data["objection"] not in self.data["ignored"]:
                self.data["ignored"].append(self.data["objection"])
            self.cool("ignored")

    def play(self, text: str, act: str) -> None:
        d = self.data
        d["acts"].append(act)
        d["asked"] = d["asked"] or act == "ask_signature"
        after = d.pop("signal_open", None)
        if after and act in ("trial_close", "ask_signature"):
            d["signals_taken"] += 1
        elif after:
            d["missed_signals"].append(after)
        if act in PUSHY and not any(a in QUESTIONS for a in d["acts"]):
            d["pushy"] += 1
            self.cool("pushy")
        elif self.state == "objection":
            self.handle_objection(act)
        elif act in QUESTIONS:
            self.answer_question(act, text)
        elif act == "summarise":
            d["summarised"] = d["summarised"] or bool(d["revealed"])
            self.line("summary_yes" if d["revealed"] else "summary_no")
        elif act in ("benefit", "product_talk"):
            self.present(act)
        elif act in ("trial_close", "ask_signature"):
            self.ask(act)
        elif act == "opening":
            if d["acts"].count("opening") == 1:
                self.warm()
            self.line("small_talk")
        else:
            self.line("puzzled")
        if self.state in PLAYING and d["warmth"] <= 0:
            self.trigger("walk_out")

    def react(self, inbound: Inbound, classifier: ActClassifier) -> None:
        if inbound.kind == "command" and inbound.text == "stop":
            self.trigger("stop")
            return None
        if self.state in ("persona", "difficulty"):
            value = inbound.text if inbound.kind == "choice" else normalise(inbound.text)
            if value not in self.menu():
                return self.prompt()
            chosen = random.choice(self.menu()[:-1]) if value == "random" else value
            self.data[self.state] = chosen
            self.trigger(f"choose_{self.state}")
            return None
        if inbound.kind != "text" or not normalise(inbound.text):
            return self.say("rehearsal.type_text")
        act = classifier.classify(inbound.text)
        self.mark("act", act)
        self.play(inbound.text, act)

    # -- the scorecard ----------------------------------------------------------------------------
    def finish(self) -> None:
        card = scorecard(self, self._library)
        self.data["score"] = card["total"]
        self.mark("score", str(card["total"]))
        self.say("rehearsal/scorecard", **card)


def scorecard(r: Rehearsal, library: Library) -> dict[str, Any]:
    """Per stage: points, what was done, what was missed with a model line from the library."""
    d, persona, locale = r.data, r.persona(), r.locale
    text = lambda key, **c: library.text(locale, f"rehearsal.{key}", **c)  # noqa: E731
    model = lambda key: library.text(locale, f"rehearsal.model.{key}")  # noqa: E731
    needs = persona["hidden_needs"]
    opens = d["acts"].count("open_question")
    raised = d["answered"] + [o for o in d["ignored"] if o not in d["answered"]]
    stages: dict[str, dict[str, Any]] = {name: {"points": 0, "done": [], "missed": []} for name in WEIGHTS}

    def award(stage: str, points: float, done: str | None = None, missed: tuple[str, str] | None = None) -> None:
        stages[stage]["points"] += points
        if done:
            stages[stage]["done"].append(done)
        if missed:
            stages[stage]["missed"].append({"what": missed[0], "model": missed[1]})

    if d["acts"][:1] == ["opening"]:
        award("opening", 10, text("done.opening"))
    else:
        award("opening", 0, missed=(text("missed.opening"), model("opening")))
    award("needs", 20 * len(d["revealed"]) / len(needs),
          text("done.revealed", n=len(d["revealed"]), total=len(needs)) if d["revealed"] else None)
    for need in needs:
        if need["id"] not in d["revealed"]:
            award("needs", 0, missed=(need["miss"][locale], model("needs_question")))
    award("needs", 5 * min(opens, 3) / 3,
          missed=None if opens >= 2 else (text("missed.open_questions", n=opens), model("open_question")))
    award("needs", 10 if d["summarised"] else 0, text("done.summarised") if d["summarised"] else None,
          None if d["summarised"] else (text("missed.summary"), model("summarise")))
    award("presentation", 10 if d["benefit"] else 0, text("done.benefit") if d["benefit"] else None,
          None if d["benefit"] else (text("missed.benefit"), model("benefit")))
    award("presentation", 0 if d["pushy"] else 5, None,
          (text("missed.pushy", n=d["pushy"]), model("pushy")) if d["pushy"] else None)
    if raised:
        award("objections", 20 * len(d["answered"]) / len(raised), text("done.answered", n=len(d["answered"]),
                                                                           total=len(raised)))
    plan = persona_plan(persona, library, locale)
    for objection in d["ignored"]:
        track = library.text(locale, f"objection/{objection}", **plan).split("\n")[0]
        award("objections", 0, missed=(text("missed.ignored", objection=library.text(locale, f"buttons.{objection}")),
                                       track))
    signals = max(d["signals_given"], 1)
    award("closing", 10 * d["signals_taken"] / signals)
    for after in d["missed_signals"]:
        award("closing", 0, missed=(text("missed.signal", objection=library.text(locale, f"buttons.{after}")),
                                    model("trial_close")))
    award("closing", 10 if d["asked"] else 0, text("done.asked") if d["asked"] else None,
          None if d["asked"] else (text("missed.ask"), model("ask_signature")))
    for name, stage in stages.items():
        stage["points"] = round(stage["points"])
        stage["max"] = WEIGHTS[name]
        stage["title"] = text(f"stages.{name}")
    outcome = {"sold": "sold", "walked_out": "walked_out"}.get(r.state, "stopped")
    return {"stages": list(stages.values()), "total": sum(s["points"] for s in stages.values()),
            "outcome": text(f"outcome.{outcome}")}


def persona_plan(persona: dict[str, Any], library: Library, locale: str) -> dict[str, Any]:
    """The plan the persona's own answers lead to, so talk tracks render with their figures."""
    return plan_context(library, locale, analyse(persona["answers"], library.parameters), "standard",
                        persona["answers"])


def handle_rehearsal(rehearsal: Rehearsal, inbound: Inbound, library: Library, classifier: ActClassifier) -> Trail:
    """One message of the agent in a rehearsal; the prospect's answer and, at the end, the scorecard."""
    with attached(MACHINE, rehearsal, library) as trail:
        if inbound.kind == "command" and inbound.text == "rehearse":
            rehearsal.prompt()
        else:
            rehearsal.react(inbound, classifier)
    return trail
