"""`salesbot`: run the bot (Telegram when a token is set, else a console chat), or check the scripts."""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import importlib
import json
import sys
from datetime import timedelta
from html import escape
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.channels import CHANNELS
from bot.library import LOCALES, Library, LibraryError, load_yaml
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.service import SalesService


class PlaceholderIdentity(LibraryError):
    """The example identity of agency.yaml, about to serve real customers."""


def _service(settings: Settings, *, public: bool = True) -> SalesService:
    """The sale on its database; `public`: customers reach it (not the operator's own console),
    so the example identity is refused unless this is a demonstration."""
    from bot.service import SalesService
    from storage.database import Database

    library = Library(settings.library, settings.parameters)
    if public and library.agency.placeholder and not settings.demo:
        raise PlaceholderIdentity("agency.yaml still holds the example identity (licence number "
                                  f"{library.agency.licence_number}); put in the real agent, company and "
                                  "licence number, or set SALESBOT_DEMO=1 for a demonstration")
    library.demo = library.demo or settings.demo
    model = None
    if settings.llm_url and settings.llm_model:
        from bot.model_client import ModelClient

        model = ModelClient(settings.llm_url, settings.llm_model, settings.llm_key, settings.llm_timeout)
    database = Database(settings.database_url, settings.database_connections)
    # where word for the agency can go besides an agent's own chat: the console shows it, Telegram
    # needs TELEGRAM_AGENT_CHAT_ID
    agents_chats = frozenset({"console"} | ({"telegram"} if settings.telegram_agent_chat_id else set()))
    return SalesService(library, database, settings.staff, settings.web_url or "", model, settings.llm_health,
                        keep_sent=timedelta(days=settings.keep_sent_days), agents_chats=agents_chats)


TRANSCRIPTS = Path("tests/conversations")  # conversation transcripts, when run from a checkout


def check_scripts(library_path: Path | None, parameters: Path | None = None) -> int:
    """Every text renders, every text the sale needs exists, transcripts name real answers."""
    from bot.flows.wording import library_problems, rendered_keys, transcript_problems

    try:
        library = Library(library_path, parameters)
        problems = library_problems(library, rendered_keys(library))
        for path in sorted(TRANSCRIPTS.rglob("*.yaml")):
            problems += transcript_problems(library, load_yaml(path.read_text(encoding="utf-8")), str(path))
    except LibraryError as error:
        problems = [str(error)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("scripts check: every template renders in every locale")
    return 1 if problems else 0


def chat(settings: Settings, lang: str | None, first: str = "start", start_payload: str | None = None) -> int:
    from bot.handlers.console import chat as console_chat

    try:
        link_base = f"https://t.me/{settings.telegram_bot_username or '<your_bot>'}?start="
        if first == "rehearse":  # `salesbot rehearse`: the terminal user practises
            settings = dataclasses.replace(settings, agents=settings.agents | {getpass.getuser()})
        service = _service(settings, public=False)
        console_chat(service, lang, sys.stdin, sys.stdout, output=settings.output, first=first,
                     link_base=link_base, start_payload=start_payload)
    except KeyboardInterrupt:  # Ctrl-C: everything said so far is saved
        print()
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.handlers.app import configure_logging, run_telegram

    if not settings.telegram_bot_token:
        print("TELEGRAM_BOT_TOKEN is not set; see the README for how to get one from @BotFather.",
              file=sys.stderr)
        return 2
    configure_logging(settings.telegram_bot_token)  # first: nothing printed after it shows the token
    return run_telegram(_service(settings), settings.telegram_bot_token, args,
                        agent_chat_id=settings.telegram_agent_chat_id,
                        webhook_secret=settings.telegram_webhook_secret, max_rate=settings.telegram_max_rate)


def parked(settings: Settings) -> int:
    """The updates whose turn kept failing, left aside: what an operator looks into (the log has
    each one's error). They stay in the inbox table until removed there."""
    rows = _service(settings, public=False).parked()
    for channel, chat_id, delivery_id, at, reason in rows:
        print(f"{at:%Y-%m-%d %H:%M:%S} UTC  {channel} chat {chat_id}  update {delivery_id}  {reason}")
    print(f"{len(rows)} parked")
    return 0


def audit_evidence(settings: Settings, action: str, conversation: int | None) -> int:
    """verify: every sale's evidence chain is walked; a broken one is named (exit status 1).
    export: one sale's evidence as JSON and as a page to read, in SALESBOT_OUTPUT."""
    service = _service(settings, public=False)
    if action == "verify":
        broken = service.evidence_problems()
        for conversation_id, why in sorted(broken.items()):
            print(f"conversation {conversation_id}: {why}")
        print("the evidence of every sale is intact" if not broken else f"{len(broken)} broken")
        return 1 if broken else 0
    if conversation is None:
        print("error: audit export needs the conversation's number", file=sys.stderr)
        return 2
    entries, problem = service.evidence_of(conversation)
    if not entries:
        print(f"error: no evidence of conversation {conversation}", file=sys.stderr)
        return 2
    settings.output.mkdir(parents=True, exist_ok=True)
    stem = settings.output / f"evidence-{conversation}"
    stem.with_suffix(".json").write_text(json.dumps({"conversation": conversation, "intact": problem is None,
                                                     "problem": problem, "entries": entries},
                                                    ensure_ascii=False, indent=2), encoding="utf-8")
    page = evidence_page(service.library, conversation, entries, problem)
    stem.with_suffix(".html").write_text(page, encoding="utf-8")
    print(f"{stem}.json and {stem}.html: {len(entries)} entries, "
          f"{'intact' if problem is None else 'BROKEN: ' + problem}")
    return 0 if problem is None else 1


def evidence_page(library: Library, conversation: int, entries: list[dict[str, Any]],
                  problem: str | None) -> str:
    """One sale's evidence as a page to read, in the agency's language (the words: audit.* in the
    locale files): each entry with its time, kind, stage and words."""
    locale = library.agent_locale
    title = escape(library.text(locale, "audit.title", conversation=conversation))
    state = escape(library.text(locale, "audit.intact") if problem is None
                   else library.text(locale, "audit.broken", problem=problem))
    columns = library.text(locale, "audit.columns").split("|")
    head = "".join(f"<th>{escape(column)}</th>" for column in columns)
    rows = "".join(
        f"<tr><td>{e['seq']}</td><td>{escape(str(e['at']))}</td><td>{escape(e['kind'])}</td>"
        f"<td>{escape(e['stage'])}</td><td>{escape(e['text']).replace(chr(10), '<br>')}</td>"
        f"<td>{escape(json.dumps(e['detail'], ensure_ascii=False)) if e['detail'] else ''}</td>"
        f"<td><code>{e['hash'][:12]}</code></td></tr>" for e in entries)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1><p>{state}</p><table border='1' cellpadding='4'><tr>{head}</tr>{rows}</table>"
            "</body></html>")


def migrate(settings: Settings) -> int:
    """Bring the database's tables up to date and stop (a worker also does it when it starts)."""
    from storage.database import Database

    Database(settings.database_url).close()
    print("the database is up to date")
    return 0


def web(settings: Settings, host: str, port: int) -> int:
    """The web app (bot/web/): the customers' chat page and the agents' and managers' dashboard,
    served by uvicorn on the same database and message path as the bot."""
    import logging

    import uvicorn

    from bot.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = _service(settings)
    service.prepare()  # before the first request: no web turn waits for a classifier's training
    app = create_app(service, settings.web_secret, settings.web_url or "")
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
    return 0


def diagram(settings: Settings, output: Path) -> int:
    """The sale's stages and moves as an SVG picture, drawn from its state machine (no graphviz)."""
    from bot.web.diagram import sale_svg

    title = Library(settings.library, settings.parameters).text("en", "web.diagram.title")
    output.write_text(sale_svg(title=title), encoding="utf-8")
    print(f"the sale's diagram is in {output}")
    return 0


def serve(settings: Settings, channel: str) -> int:
    """Run a channel from the registry (bot/channels.py): its entry, with the service and settings."""
    module, _, function = (CHANNELS[channel].entry or "").partition(":")
    entry: Callable[[SalesService, Settings], int] = getattr(importlib.import_module(module), function)
    return entry(_service(settings), settings)


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesbot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    chat_parser = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat_parser.add_argument("--lang", choices=LOCALES)
    chat_parser.add_argument("--start", metavar="CODE", help="start as if from a link with this code")
    rehearse_parser = commands.add_parser("rehearse",
                                          help="practise a sale: the bot plays the prospect and scores you")
    rehearse_parser.add_argument("--lang", choices=LOCALES)
    run_parser = commands.add_parser("run", help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN)")
    run_parser.add_argument("--webhook-url",
                            help="public HTTPS URL Telegram posts updates to; polling when absent")
    run_parser.add_argument("--port", type=int, default=8443, help="port the webhook server listens on")
    run_parser.add_argument("--listen", default="0.0.0.0", help="address the webhook server listens on")
    run_parser.add_argument("--base-url", default=settings.telegram_api_base_url,
                            help="Bot API server, e.g. a self-hosted one "
                                 "(default: TELEGRAM_API_BASE_URL, else Telegram's)")
    commands.add_parser("parked", help="list the messages left aside because handling them kept failing")
    audit = commands.add_parser("audit", help="check the evidence of every sale, or export one sale's")
    audit.add_argument("action", choices=["verify", "export"])
    audit.add_argument("conversation", nargs="?", type=int, help="export: the conversation's number")
    commands.add_parser("migrate", help="create or update the database's tables (DATABASE_URL), then stop")
    web_parser = commands.add_parser("web", help="serve the web chat and the dashboard (SALESBOT_WEB_URL, "
                                                 "SALESBOT_WEB_SECRET)")
    web_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web_parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    diagram_parser = commands.add_parser("diagram", help="write the sale's state machine as an SVG picture")
    diagram_parser.add_argument("--output", type=Path, default=Path("sale.svg"),
                                help="the file to write (default sale.svg)")
    serve_parser = commands.add_parser("serve", help="run a channel registered in bot/channels.py")
    serve_parser.add_argument("channel", choices=sorted(name for name, c in CHANNELS.items() if c.entry))
    scripts = commands.add_parser("scripts", help="work with the script library")
    scripts.add_argument("action", choices=["check"])
    scripts.add_argument("--library", type=Path, help="a script library folder other than the installed one")
    return parser


def _command(settings: Settings, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    simple: dict[str, Callable[[], int]] = {
        "migrate": lambda: migrate(settings),
        "parked": lambda: parked(settings),
        "audit": lambda: audit_evidence(settings, args.action, args.conversation),
        "web": lambda: web(settings, args.host, args.port),
        "diagram": lambda: diagram(settings, args.output),
        "scripts": lambda: check_scripts(args.library or settings.library, settings.parameters),
        "serve": lambda: serve(settings, args.channel),
    }
    if args.command in simple:
        return simple[args.command]()
    if args.command in ("chat", "rehearse"):
        payload = getattr(args, "start", None)
        return chat(settings, args.lang, "start" if args.command == "chat" else "rehearse", payload)
    if args.command == "run" or (args.command is None and settings.telegram_bot_token):
        defaults = parser.parse_args(["run"])  # `salesbot` alone with a token: run with run's defaults
        return run(settings, args if args.command == "run" else defaults)
    return chat(settings, None)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
        parser = _parser(settings)
        return _command(settings, parser.parse_args(argv), parser)
    except (SettingsError, LibraryError) as error:  # a wrong setting or figure: say which, and stop
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
