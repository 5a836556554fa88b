"""Pages as HTML: the templates (bot/web/templates/, Jinja2, every value escaped), their words from
the script library (`web.*` in scripts_library/locales/), and the language a page is in."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.flows.stage import display_key
from bot.library import LOCALES, Library, locale_for_tag

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
NO_STORE = {"Cache-Control": "no-store"}
_LINK = re.compile(r"https?://[^\s<>\"'）」』，。]+[^\s<>\"'）」』，。.,;:!?)]")


def accepted_locale(header: str | None) -> str:
    """The locale for an Accept-Language header: the first language the person prefers that the
    product speaks (zh-Hant, zh-TW and zh-HK are Traditional, other zh* zh_CN, en* en), else English."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.lower()))
    return next((found for _, _, tag in sorted(ranked) if (found := locale_for_tag(tag))), "en")


def request_locale(request: Request) -> str:
    return accepted_locale(request.headers.get("accept-language"))


def linkify(text: str) -> Markup:
    """A message's text as HTML: escaped, with its web links made links."""
    out, last = [], 0
    for match in _LINK.finditer(text):
        out.append(escape(text[last:match.start()]))
        link = match.group(0)
        out.append(Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(link))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


class Words:
    """A page's words in its locale: `t("chat.send")` is the library's `web.chat.send`. Each is
    rendered once a page, however many rows repeat it."""

    def __init__(self, library: Library, locale: str) -> None:
        self.library = library
        self.locale = locale if locale in LOCALES else "en"
        self._said: dict[tuple[str, str], str] = {}

    def _text(self, key: str, name: str = "", value: str = "") -> str:
        said = self._said.get((key, value))
        if said is None:
            said = self.library.text(self.locale, key, **({name: value} if name else {}))
            self._said[(key, value)] = said
        return said

    def __call__(self, key: str) -> str:
        return self._text(f"web.{key}")

    def stage(self, stage: str | None) -> str:
        return self._text(display_key(stage))

    def status(self, status: str) -> str:
        return self._text("workspace/status", "status", status)

    def question(self, question_id: str | None) -> str:
        if question_id is None:
            return self("funnel.before_questions")
        if self.library.has(self.locale, f"questions.{question_id}.label"):
            return self.library.text(self.locale, f"questions.{question_id}.label")
        return question_id

    def persona(self, persona_id: str) -> str:
        for persona in self.library.rehearsal.get("personas", {}).get("personas", []):
            if persona.get("id") == persona_id:
                return str(persona["name"].get(self.locale, persona_id))
        return persona_id


class Pages:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters["linkify"] = linkify
        self.css = (STATIC / "web.css").read_text(encoding="utf-8")

    def html(self, name: str, locale: str, **context: Any) -> str:
        words = Words(self.library, locale)
        lang = "zh-CN" if words.locale == "zh_CN" else "en"
        return self.env.get_template(name).render(t=words, locale=words.locale, lang=lang, **context)

    def render(self, name: str, locale: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.html(name, locale, **context), status_code=status, headers=NO_STORE)

    def refusal(self, locale: str, status: int, key: str) -> HTMLResponse:
        """A page that says no (403) or that there is nothing here (404), in a word of the library."""
        return self.render("refused.html", locale, status=status, reason=key)
