"""The web app: one ASGI application (Starlette) with the customers' chat and the dashboard, on the
bot's own database and message path. `salesbot web` serves it with uvicorn (bot/cli.py)."""
from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.service import SalesService
from bot.web.chat import WebChat
from bot.web.dashboard import Dashboard
from bot.web.leads import LeadPages
from bot.web.pages import Pages, request_locale
from bot.web.security import Signing, new_secret

log = logging.getLogger(__name__)

# Every answer: no scripts at all, nothing framed, no address (a login link's code) sent on as a referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP answer (a plain ASGI middleware: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


def create_app(service: SalesService, secret: str | None = None, web_url: str = "") -> ASGIApp:
    """The app over `service`. secret signs cookies and forms (SALESBOT_WEB_SECRET); without one a
    random secret is made, and every session and visitor cookie ends when the process does.
    web_url: the address the app is reached at, for the links it gives out (else the request's)."""
    if not secret:
        log.warning("SALESBOT_WEB_SECRET is not set: a random secret is used, so dashboard sessions end "
                    "and web customers start a new chat when the app restarts")
        secret = new_secret()
    signing = Signing(secret)
    pages = Pages(service.library)
    chat = WebChat(service, signing, pages, web_url)
    dashboard = Dashboard(service, signing, pages)
    leads = LeadPages(service, signing, pages)

    async def home(_request: Request) -> Response:
        return RedirectResponse("/chat", 303)

    async def stylesheet(_request: Request) -> Response:
        return Response(pages.css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    async def refused(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        key = "refused.not_found" if status in (404, 405) else "refused.staff_only"
        return pages.refusal(request_locale(request), status, key)

    routes = [Route("/", home), Route("/static/web.css", stylesheet), *chat.routes(), *dashboard.routes(),
              *leads.routes()]
    app = Starlette(routes=routes, exception_handlers={HTTPException: refused})
    return SecurityHeaders(app)
