"""Who may do what: the roles, and the commands every channel understands, each with the roles it
is meant for. Customers never reach agents' commands; channels show each person only their own."""
from __future__ import annotations

from dataclasses import dataclass

CUSTOMER, AGENT, MANAGER = "customer", "agent", "manager"
EVERYONE = frozenset({CUSTOMER, AGENT, MANAGER})
AGENTS = frozenset({AGENT, MANAGER})
MANAGERS = frozenset({MANAGER})


@dataclass(frozen=True)
class Command:
    """A command. roles: who may use it (anyone else is refused politely). listed: shown in a
    channel's command menu, described by the locale's `commands.<name>` text; the others are typed
    only, as they are buttons or words too."""

    name: str
    roles: frozenset[str] = EVERYONE
    listed: bool = True


# In menu order.
COMMANDS = (
    Command("start"),
    Command("help"),
    Command("cancel"),
    Command("restart"),
    Command("lang"),
    Command("invite"),
    Command("referrals"),
    Command("mydata"),
    Command("delete"),
    Command("leads", AGENTS),
    Command("lead", AGENTS),
    Command("note", AGENTS),
    Command("remind", AGENTS),
    Command("status", AGENTS),
    Command("reply", AGENTS),
    Command("link", AGENTS),
    Command("dashboard", AGENTS),
    Command("rehearse", AGENTS),
    Command("stop", AGENTS),
    Command("progress", AGENTS),
    Command("script", AGENTS),
    Command("assign", MANAGERS),
    Command("addagent", MANAGERS),
    Command("campaign", MANAGERS),
    Command("back", listed=False),
    Command("why", listed=False),
    Command("agent", listed=False),
)
COMMAND_NAMES = frozenset(c.name for c in COMMANDS)
_ROLES = {c.name: c.roles for c in COMMANDS}


def allowed(name: str, role: str) -> bool:
    """Whether `role` may use the command `name` (a name that is no command is the sale's to answer)."""
    return role in _ROLES.get(name, EVERYONE)


def menu(role: str | None = None) -> list[Command]:
    """The listed commands, in order: those meant for `role`, or all of them."""
    return [c for c in COMMANDS if c.listed and (role is None or role in c.roles)]
