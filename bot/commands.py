"""Who may do what: the commands every channel understands, each in one row with the roles it is
meant for, whether menus list it, and the part of the bot that answers it (its handler). Customers
never reach agents' commands; channels show each person only their own; the routing (bot/routing.py)
hands each command to its part by this table. Each command's help text is `commands.<name>` in the
locale files."""
from __future__ import annotations

from dataclasses import dataclass

CUSTOMER, AGENT, MANAGER = "customer", "agent", "manager"
EVERYONE = frozenset({CUSTOMER, AGENT, MANAGER})
AGENTS = frozenset({AGENT, MANAGER})
MANAGERS = frozenset({MANAGER})


# The parts of the bot that answer commands.
SALE, AGENCY, WORKSPACE, COACHING, REHEARSAL, PRIVACY = (
    "sale", "agency", "workspace", "coaching", "rehearsal", "privacy")


@dataclass(frozen=True)
class Command:
    """A command. roles: who may use it (anyone else is refused politely). listed: shown in a
    channel's command menu, described by the locale's `commands.<name>` text; the others are typed
    only, as they are buttons or words too. handler: the part that answers it."""

    name: str
    roles: frozenset[str] = EVERYONE
    listed: bool = True
    handler: str = SALE


# In menu order.
COMMANDS = (
    Command("start"),
    Command("help"),
    Command("cancel"),
    Command("restart"),
    Command("lang"),
    Command("invite", handler=AGENCY),
    Command("referrals", handler=AGENCY),
    Command("mydata", handler=AGENCY),
    Command("delete", handler=PRIVACY),
    Command("leads", AGENTS, handler=WORKSPACE),
    Command("lead", AGENTS, handler=WORKSPACE),
    Command("note", AGENTS, handler=WORKSPACE),
    Command("remind", AGENTS, handler=WORKSPACE),
    Command("status", AGENTS, handler=WORKSPACE),
    Command("reply", AGENTS, handler=WORKSPACE),
    Command("done", AGENTS, handler=WORKSPACE),
    Command("link", AGENTS, handler=AGENCY),
    Command("dashboard", AGENTS, handler=AGENCY),
    Command("rehearse", AGENTS, handler=REHEARSAL),
    Command("stop", AGENTS, handler=REHEARSAL),
    Command("progress", AGENTS, handler=COACHING),
    Command("script", AGENTS, handler=COACHING),
    Command("assign", MANAGERS, handler=WORKSPACE),
    Command("addagent", MANAGERS, handler=AGENCY),
    Command("campaign", MANAGERS, handler=AGENCY),
    Command("back", listed=False),
    Command("why", listed=False),
    Command("agent", listed=False),
)
COMMAND_NAMES = frozenset(c.name for c in COMMANDS)
_ROLES = {c.name: c.roles for c in COMMANDS}
_HANDLERS = {c.name: c.handler for c in COMMANDS}


def allowed(name: str, role: str) -> bool:
    """Whether `role` may use the command `name` (a name that is no command is the sale's to answer)."""
    return role in _ROLES.get(name, EVERYONE)


def menu(role: str | None = None) -> list[Command]:
    """The listed commands, in order: those meant for `role`, or all of them."""
    return [c for c in COMMANDS if c.listed and (role is None or role in c.roles)]


def handler_of(inbound_kind: str, name: str) -> str | None:
    """The part that answers a command (None: not a command; a name that is no command: the sale's)."""
    return _HANDLERS.get(name, SALE) if inbound_kind == "command" else None


def commands_of(handler: str) -> tuple[str, ...]:
    """The commands one part answers, in menu order."""
    return tuple(c.name for c in COMMANDS if c.handler == handler)
