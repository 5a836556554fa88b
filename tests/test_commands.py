"""The command table: every command names the part that answers it and the roles it is for, and
every listed one has its help text in each language; the parts take their commands from it."""
from __future__ import annotations

from bot.commands import (AGENCY, COACHING, COMMANDS, PRIVACY, REHEARSAL, SALE, WORKSPACE, commands_of,
                          handler_of)
from bot.library import SOURCE_LOCALES, Library
from bot.workspace import COMMANDS as WORKSPACE_COMMANDS


def test_every_command_has_a_known_handler_and_listed_ones_a_help_text(library: Library) -> None:
    parts = {SALE, AGENCY, WORKSPACE, COACHING, REHEARSAL, PRIVACY}
    for command in COMMANDS:
        assert command.handler in parts, command
        if command.listed:
            for locale in SOURCE_LOCALES:
                assert library.has(locale, f"commands.{command.name}"), (locale, command.name)


def test_the_parts_take_their_commands_from_the_table() -> None:
    assert commands_of(WORKSPACE) == WORKSPACE_COMMANDS
    assert handler_of("command", "delete") == PRIVACY and handler_of("command", "leads") == WORKSPACE
    assert handler_of("command", "no-such-command") == SALE  # the sale says it does not know it
    assert handler_of("text", "leads") is None  # words are not commands
