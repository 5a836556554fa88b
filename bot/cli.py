"""`salesbot`: run the bot (Telegram when a token is set, else a console chat), or check the scripts."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.library import LOCALES, Library, LibraryError


def _service():  # type: ignore[no-untyped-def]
    from bot.service import SalesService
    from storage.database import Database

    return SalesService(Library(), Database())


def check_scripts(library_path: str | None) -> int:
    try:
        problems = Library(library_path).check()  # type: ignore[arg-type]
    except LibraryError as error:
        problems = [str(error)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("scripts check: every template renders in every locale")
    return 1 if problems else 0


def chat(lang: str | None, first: str = "start") -> int:
    from bot.console import chat as console_chat

    output = Path(os.environ.get("SALESBOT_OUTPUT", "salesbot-output"))
    try:
        console_chat(_service(), lang, sys.stdin, sys.stdout, output=output, first=first)
    except KeyboardInterrupt:  # Ctrl-C: everything said so far is saved
        print()
    return 0


def run(args: argparse.Namespace) -> int:
    from bot.handlers.app import run_telegram

    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    if not token:
        print("TELEGRAM_BOT_TOKEN is not set; see the README for how to get one from @BotFather.", file=sys.stderr)
        return 2
    run_telegram(_service(), token, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesbot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    chat_parser = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat_parser.add_argument("--lang", choices=LOCALES)
    rehearse_parser = commands.add_parser("rehearse", help="practise a sale: the bot plays the prospect and scores you")
    rehearse_parser.add_argument("--lang", choices=LOCALES)
    run_parser = commands.add_parser("run", help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN)")
    run_parser.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to; polling when absent")
    run_parser.add_argument("--port", type=int, default=8443, help="port the webhook server listens on")
    run_parser.add_argument("--listen", default="0.0.0.0", help="address the webhook server listens on")
    run_parser.add_argument("--base-url", default=os.environ.get("TELEGRAM_API_BASE_URL"),
                            help="Bot API server, e.g. a self-hosted one (default: Telegram's)")
    scripts = commands.add_parser("scripts", help="work with the script library")
    scripts.add_argument("action", choices=["check"])
    scripts.add_argument("--library", help="a script library folder other than the installed one")
    args = parser.parse_args(argv)

    if args.command == "scripts":
        return check_scripts(args.library)
    if args.command in ("chat", "rehearse"):
        return chat(args.lang, "start" if args.command == "chat" else "rehearse")
    if args.command == "run" or (args.command is None and os.environ.get("TELEGRAM_BOT_TOKEN")):
        if args.command is None:
            args = run_parser.parse_args([])
        return run(args)
    return chat(None)


if __name__ == "__main__":
    sys.exit(main())
