"""The web channel: the sale on a page, for customers without Telegram.

A channel adapter like the console (bot/handlers/console.py): what a form posts becomes an
`Inbound`, `Channel.handle` does the rest (the same message path as Telegram's), and the page
delivers what waits in the outbox for the visitor (`pending`, then `sent`). A signed cookie holds
the visitor's random id, so a return visit resumes; the page shows the chat as it was delivered
(storage/reports.py), options as buttons of the question that asked them (its number travels with
the press, as in Telegram, so an old page's button is refused as stale).
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.charts import render_png
from bot.flows.messages import Inbound, Reply
from bot.handlers.channel import Channel, Limits, command
from bot.handlers.console import parse_line
from bot.qr import qr_png
from bot.service import SalesService, Sender
from bot.web.pages import Pages, request_locale
from bot.web.security import VISITOR_COOKIE, VISITOR_DAYS, Signing, new_visitor
from storage.reports import ChatItem, Reports

log = logging.getLogger(__name__)
CHANNEL = "web"
UNNUMBERED = -1  # a press without the number of its question: never the current one, so stale
START_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
LONGEST_FORM = 64 * 1024  # bytes of a posted form; the sale reads far fewer characters
LOCK_WAIT = 5.0  # seconds a message waits for the visitor's previous one to be handled
HISTORY = 200  # messages shown
T = TypeVar("T")


class Busy(Exception):
    """The visitor's previous message is still being handled (another tab, a double click)."""


class TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Shown:
    """One message on the page."""

    who: str  # you | bot
    kind: str  # text | chart | share | file
    text: str
    src: str = ""  # the picture's or the file's address
    link: str = ""  # a link to pass on (share)


@dataclass(frozen=True)
class View:
    messages: list[Shown]
    options: Reply | None  # the question whose buttons are offered, if the last message asks one
    locale: str


async def read_form(request: Request) -> dict[str, str]:
    """A posted urlencoded form (anything else reads as empty), at most LONGEST_FORM bytes."""
    if int(request.headers.get("content-length") or 0) > LONGEST_FORM:
        raise TooLarge
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > LONGEST_FORM:
            raise TooLarge
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def inbound_of(form: dict[str, str]) -> Inbound | None:
    """What a posted form says: an option pressed (with the number of the question it came from),
    else the typed line — a /command as in the console, else text; None when it says nothing."""
    choice = form.get("choice", "")
    if choice:
        asked = form.get("asked", "")
        return Inbound("choice", choice, asked=int(asked) if asked.isascii() and asked.isdigit()
                       and len(asked) < 12 else UNNUMBERED)
    text = form.get("text", "").strip()
    if not text:
        return None
    return parse_line(text, (), free_input=True)


def shown(items: list[ChatItem]) -> tuple[list[Shown], Reply | None]:
    """The chat's lines as the page shows them, and the question whose options are on offer: that
    of the last message with text, if it has options (a picture after it does not count). /start is
    not shown as the person's: the page sends it on a first visit, and for a link."""
    messages: list[Shown] = []
    labels: dict[str, str] = {}
    last: Reply | None = None
    for item in items:
        if item.who == "you":
            if item.kind == "choice":
                messages.append(Shown("you", "text", labels.get(item.text, item.text)))
            elif item.kind == "command" and item.text != "start":  # the page sends /start itself
                messages.append(Shown("you", "text", f"/{item.text} {item.argument}".rstrip()))
            elif item.kind == "text":
                messages.append(Shown("you", "text", item.text))
            continue
        message = Reply.from_json(item.payload or {"text": ""})
        if item.kind == "chart":
            messages.append(Shown("bot", "chart", message.chart.title if message.chart else "",
                                  src=f"/chat/chart/{item.id}"))
        elif item.kind == "share" and message.share:
            messages.append(Shown("bot", "share", message.text, src=f"/chat/qr/{item.id}",
                                  link=message.share))
        elif item.kind == "file" and message.attachment:
            messages.append(Shown("bot", "file", message.attachment[0], src=f"/chat/file/{item.id}"))
        elif item.kind == "message" and not message.to_agent:
            if message.text:
                messages.append(Shown("bot", "text", message.text))
                last = message
            labels.update({button.value: button.label for button in message.buttons})
    return messages, last if last is not None and last.buttons else None


class Pictures:
    """Charts and QR codes, each drawn once and kept (a few dozen): a sent message never changes."""

    def __init__(self, kept: int = 64) -> None:
        self.kept = kept
        self._drawn: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def drawn(self, kind: str, item_id: int, message: Reply) -> bytes:
        with self._lock:
            if (kind, item_id) in self._drawn:
                self._drawn.move_to_end((kind, item_id))
                return self._drawn[(kind, item_id)]
        png = render_png(message.chart) if kind == "chart" and message.chart else qr_png(message.share or "")
        with self._lock:
            self._drawn[(kind, item_id)] = png
            while len(self._drawn) > self.kept:
                self._drawn.popitem(last=False)
        return png


class WebChat:
    def __init__(self, service: SalesService, signing: Signing, pages: Pages, web_url: str = "") -> None:
        self.service = service
        self.channel = Channel(CHANNEL, service, Limits(text=None, options=None))
        self.signing = signing
        self.pages = pages
        self.web_url = web_url.rstrip("/")
        self.pictures = Pictures()

    def routes(self) -> list[Route]:
        return [Route("/chat", self.page, methods=["GET"]), Route("/chat", self.post, methods=["POST"]),
                Route("/chat/chart/{item:int}", self.picture),
                Route("/chat/qr/{item:int}", self.picture),
                Route("/chat/file/{item:int}", self.file)]

    # -- who is writing ------------------------------------------------------------------------
    def sender(self, request: Request, visitor: str, start_payload: str | None = None) -> Sender:
        base = self.web_url or str(request.base_url).rstrip("/")
        return Sender(CHANNEL, visitor, name="", locale=request_locale(request), start_payload=start_payload,
                      link_base=f"{base}/chat?start=")

    def _cookie(self, response: Response, request: Request, visitor: str) -> Response:
        response.set_cookie(VISITOR_COOKIE, self.signing.visitor_cookie(visitor),
                            max_age=VISITOR_DAYS * 86400, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def _one_at_a_time(self, visitor: str, work: Callable[..., T], *args: Any) -> T:
        """Run `work` (I/O: off the event loop) holding the visitor's chat lock, as Telegram's
        chats are handled: one message at a time, in order (on PostgreSQL across processes too)."""
        key = f"{CHANNEL}:{visitor}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT
        while (lock := await run_in_threadpool(self.service.database.try_lock, key)) is None:
            if loop.time() > deadline:
                raise Busy
            await asyncio.sleep(0.02)
        try:
            return await run_in_threadpool(work, *args)
        finally:
            await run_in_threadpool(lock.release)

    # -- the page ------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        """The chat. A first visit (or one with a link's ?start=CODE) sends /start; then what waits
        is delivered and the whole chat shown. A link's code leaves the address at once."""
        visitor = self.signing.visitor(request.cookies.get(VISITOR_COOKIE)) or new_visitor()
        linked = "start" in request.query_params
        code = request.query_params.get("start", "")
        sender = self.sender(request, visitor, code if START_CODE.fullmatch(code) else None)
        problem = "problem" if "problem" in request.query_params else ""
        try:
            if linked:
                await self._one_at_a_time(visitor, self._begin, sender, True)
                return self._cookie(RedirectResponse("/chat", 303), request, visitor)
            view = await self._one_at_a_time(visitor, self._view, sender)
        except Busy:
            view, problem = await run_in_threadpool(self._history, sender), "busy"
        except Exception:  # nothing was saved (one transaction); the chat as it stands, and an apology
            log.exception("the web chat of a visitor could not be shown")
            view, problem = await run_in_threadpool(self._history, sender), "problem"
        if problem == "busy":
            notice = self.pages.library.text(view.locale, "web.chat.busy")
        elif problem:
            notice = await run_in_threadpool(self.channel.apology, sender)
        else:
            notice = ""
        options = view.options
        csrf = self.signing.csrf(f"chat:{visitor}")
        response = self.pages.render("chat.html", view.locale, messages=view.messages, options=options,
                                     csrf=csrf, notice=notice)
        return self._cookie(response, request, visitor)

    def _begin(self, sender: Sender, linked: bool) -> None:
        """/start for a new visitor, or for anyone who came by a link (as Telegram's /start CODE)."""
        new = self.service.locale_of(sender) is None and not self.channel.pending(sender.external_id)
        if linked or new:
            self.channel.handle(sender, command("start"))

    def _view(self, sender: Sender) -> View:
        self._begin(sender, False)
        for item in self.channel.pending(sender.external_id):
            self.service.sent(item.id)  # on the page from now on
        return self._history(sender)

    def _history(self, sender: Sender) -> View:
        with self.service.database.unit_of_work() as uow:
            items = Reports(uow.session).chat(CHANNEL, sender.external_id, HISTORY)
        messages, options = shown(items)
        return View(messages, options, self.channel.locale(sender))

    # -- a message -----------------------------------------------------------------------------
    async def post(self, request: Request) -> Response:
        """A pressed option or a typed line: handled (the same path as every channel's), then
        back to the page (303), which shows the answer."""
        visitor = self.signing.visitor(request.cookies.get(VISITOR_COOKIE))
        locale = request_locale(request)
        try:
            form = await read_form(request)
        except TooLarge:
            return self.pages.refusal(locale, 413, "refused.too_large")
        if visitor is None or not self.signing.csrf_ok(f"chat:{visitor}", form.get("csrf")):
            return self.pages.refusal(locale, 403, "refused.form")
        inbound = inbound_of(form)
        if inbound is not None:
            try:
                sender = self.sender(request, visitor)
                await self._one_at_a_time(visitor, self.channel.handle, sender, inbound)
            except Busy:
                return RedirectResponse("/chat?busy", 303)
            except Exception:  # nothing was saved: say so on the page; the same options stand
                log.exception("a web message could not be handled")
                return RedirectResponse("/chat?problem", 303)
        return RedirectResponse("/chat", 303)

    # -- what a message carries ------------------------------------------------------------------
    def _delivered(self, request: Request, kind: str) -> Any:
        visitor = self.signing.visitor(request.cookies.get(VISITOR_COOKIE))
        if visitor is None:
            return None
        with self.service.database.unit_of_work() as uow:
            item = Reports(uow.session).delivered(CHANNEL, visitor, request.path_params["item"])
        return item if item is not None and item.kind == kind else None

    async def picture(self, request: Request) -> Response:
        """A chart or a link's QR code, drawn from its outbox row: only for the visitor it went to."""
        kind = "chart" if request.url.path.startswith("/chat/chart/") else "share"
        item = await run_in_threadpool(self._delivered, request, kind)
        message = Reply.from_json(item.payload) if item is not None else None
        if message is None or not (message.chart if kind == "chart" else message.share):
            return self.pages.refusal(request_locale(request), 404, "refused.not_found")
        png = await run_in_threadpool(self.pictures.drawn, kind, item.id, message)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})

    async def file(self, request: Request) -> Response:
        item = await run_in_threadpool(self._delivered, request, "file")
        message = Reply.from_json(item.payload) if item is not None else None
        if message is None or not message.attachment:
            return self.pages.refusal(request_locale(request), 404, "refused.not_found")
        name, content = message.attachment
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(name).name) or "file.txt"
        kind = "application/json" if safe.endswith(".json") else "text/plain; charset=utf-8"
        return Response(content.encode(), media_type=kind,
                        headers={"Content-Disposition": f'attachment; filename="{safe}"',
                                 "Cache-Control": "private, no-store"})
