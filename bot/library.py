"""Loads the script library (scripts_library/): templates, questions, objections, parameters.

Everything is read and compiled once, at start; rendering a text is then pure CPU work.
"""
from __future__ import annotations

import importlib.util
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from bot.flows import figures
from bot.flows.figures import F, Agency, Parameters
from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, UndefinedError, pass_context

SOURCE_LOCALES = ("zh_CN", "en")  # written by people, every text in each
# Locales generated from a written one (OpenCC's conversion), with overrides in locales/<locale>.yaml:
# Traditional Chinese for Hong Kong, Taiwan and overseas readers. Messages are read in the base's words.
DERIVED_LOCALES = {"zh_Hant": ("zh_CN", "s2hk")}
LOCALES = (*SOURCE_LOCALES, *DERIVED_LOCALES)
DEFAULT_LOCALE = "zh_CN"


# Language tags (Telegram's language_code, a browser's Accept-Language) that mean Traditional Chinese.
_TRADITIONAL_TAGS = ("zh-hant", "zh-tw", "zh-hk", "zh-mo", "zh_hant", "zh_tw", "zh_hk")


def locale_for_tag(tag: str) -> str | None:
    """The product's locale for a language tag such as 'en-GB', 'zh-hans' or 'zh-HK'; None for others."""
    tag = tag.lower()
    if tag.startswith(_TRADITIONAL_TAGS):
        return "zh_Hant"
    return "zh_CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None


def source_locale(locale: str) -> str:
    """The written locale a locale's texts and words come from."""
    return DERIVED_LOCALES[locale][0] if locale in DERIVED_LOCALES else locale


def converted(locale: str, text: str) -> str:
    """A written text as a derived locale shows it (unchanged for a written locale)."""
    if locale not in DERIVED_LOCALES or text.isascii():
        return text
    return str(_converter(DERIVED_LOCALES[locale][1]).convert(text))


_CONVERTERS: dict[str, Any] = {}


def _converter(config: str) -> Any:
    if config not in _CONVERTERS:
        import opencc  # only when a derived locale is first shown

        _CONVERTERS[config] = opencc.OpenCC(config)
    return _CONVERTERS[config]
# Locale sections that are word lists, not templates.
_PLAIN_SECTIONS = {"keywords", "language_name"}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml: 10x faster
    """YAML as people write it: yes, no, on and off stay words (only true/false are booleans)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


class LibraryError(Exception):
    """A file of the script library is missing, malformed or does not render."""


@dataclass(frozen=True)
class Question:
    id: str
    type: str  # choice | number | text | yes_no
    required: bool = True
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    max_items: int | None = None
    unit: str | None = None
    per: str | None = None  # an amount per "year" or per "month" (月薪两万 is 240 000 a year)
    plausible: tuple[float | None, float | None] = (None, None)  # outside it, the value is confirmed
    default: Any = None
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # earlier answer -> values that ask this
    # choice -> locale -> words that mean it, also inside a sentence ("办公室", "I work in an office")
    synonyms: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    # choice -> earlier answer -> values that offer it (education as a worry only with children)
    choice_when: dict[str, dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    cues: tuple[str, ...] = ()  # words that say a part of a message is about this question
    cued_by_choices: bool = False  # a choice's own words mark a part as about it too ("nurse, 34")
    birth_year: bool = False  # a year of birth answers it (an age)
    counts_people: bool = False  # the answer is a count of people ("2 of them")
    sum: bool = False  # several amounts in one part add up ("a mortgage of 1.5m plus a car loan of 100k")
    confirm_yes: tuple[str, ...] = ()  # words that make a yes/no answer "yes", to be confirmed ("surgery")
    within_years: int = 0  # a yes/no question about the last N years: older events are confirmed
    # choices that, said equally, are asked about, not guessed ("married": with children or without?)
    ask_on_tie: tuple[str, ...] = ()
    yields_to: tuple[str, ...] = ()  # a part about one of these is theirs ("老婆月薪8000" is not my income)

    def asked(self, answers: dict[str, Any]) -> bool:
        return all(answers.get(earlier) in values for earlier, values in self.when.items())

    def offered(self, answers: dict[str, Any]) -> Question:
        """This question with only the choices that apply, given the answers so far."""
        keep = tuple(c for c in self.choices if all(answers.get(earlier) in values for earlier, values
                                                    in self.choice_when.get(c, {}).items()))
        return self if keep == self.choices else replace(self, choices=keep)


@dataclass(frozen=True)
class Objection:
    id: str
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    follow_up: tuple[str, ...] = ()  # options offered after the answer (what is behind the doubt)
    share: bool = False  # the answer comes with a summary of the plan to forward


def default_library_path() -> Path:
    """The installed scripts_library/ folder. Another one (SALESBOT_LIBRARY) comes in as Library(root)."""
    spec = importlib.util.find_spec("scripts_library")  # a folder of words, not a code package
    if spec is None or not spec.submodule_search_locations:
        raise LibraryError("the scripts_library folder is not installed; set SALESBOT_LIBRARY")
    return Path(list(spec.submodule_search_locations)[0])


def normalise(text: str) -> str:
    """Fold full-width characters and case, trim spaces and closing punctuation."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s.!?。！？,，、~～]+$", "", text).strip()


_NEGATIONS = ("不", "没", "别", "未")


# A Latin word's edges: no Latin letter, digit or apostrophe beside it (a Chinese character may be).
NOT_AFTER_LATIN, NOT_BEFORE_LATIN = r"(?<![A-Za-z0-9_'])", r"(?![A-Za-z0-9_'])"


@lru_cache(maxsize=16384)  # the library's words are a few thousand: each normalised and compiled once
def word_pattern(keyword: str) -> tuple[str, re.Pattern[str] | None]:
    """A keyword as it is looked for: normalised, and a whole-word pattern if it is in Latin script."""
    keyword = normalise(keyword)
    if not keyword.isascii():
        return keyword, None
    # a whole word among Latin letters; beside Chinese ("做sales的", "有group insurance") it is one too
    return keyword, re.compile(rf"{NOT_AFTER_LATIN}{re.escape(keyword)}{NOT_BEFORE_LATIN}")


def keyword_in(keyword: str, text: str) -> bool:
    """True when keyword appears in normalised text as a word (Latin) or unnegated (Chinese)."""
    keyword, whole_word = word_pattern(keyword)
    if not keyword:
        return False
    if whole_word is not None:
        return keyword in text and whole_word.search(text) is not None
    if len(keyword) == 1:
        return text == keyword
    start = text.find(keyword)
    while start != -1:
        if not text[:start].endswith(_NEGATIONS) or keyword.startswith(_NEGATIONS):
            return True
        start = text.find(keyword, start + 1)
    return False


def _format_money(value: Any, locale: str) -> str:
    number, chinese = float(value), source_locale(locale) == "zh_CN"
    if chinese and abs(number) >= 10000:
        unit, name = (100_000_000, "亿元") if abs(number) >= 100_000_000 else (10_000, "万元")
        return converted(locale, f"{number / unit:,.1f}".rstrip("0").rstrip(".") + f" {name}")
    shown = f"{number:,.0f}" if number == int(number) or abs(number) >= 100 else f"{number:,.2f}"
    return f"{shown} 元" if chinese else f"CNY {shown}"


class Library:
    """The words and rules of the sale, compiled and ready to render."""

    def __init__(self, root: Path | None = None, parameters: Path | None = None) -> None:
        """The library in `root` (the installed one by default); `parameters`: a figures file to use
        instead of the library's own parameters.yaml (a market's, or the tests' frozen one)."""
        self.root = Path(root) if root else default_library_path()
        self.agency = self._figures(Agency, self.root / "agency.yaml")
        self.parameters = self._figures(Parameters, parameters or self.root / "parameters.yaml")
        self.agent_locale = self.agency.agent_locale
        self.demo = self.agency.placeholder  # every greeting says it is a demonstration (SALESBOT_DEMO too)
        self._agency_context: dict[str, dict[str, Any]] = {}
        self._rendered: dict[tuple[str, str], str] = {}  # texts that take no context, as rendered
        self.understanding: dict[str, Any] = self._yaml("understanding.yaml")
        questions = self._yaml("questions.yaml")["questions"]
        self.questions = tuple(Question(**_question_fields(q)) for q in questions)
        self.objections = tuple(
            Objection(o["id"], {loc: tuple(words) for loc, words in o["keywords"].items()},
                      tuple(o.get("follow_up", ())), bool(o.get("share")))
            for o in self._yaml("objections.yaml")["objections"]
        )
        self._env = Environment(
            undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["money"] = pass_context(
            lambda ctx, v: _format_money(v, ctx.get("locale", DEFAULT_LOCALE)))
        self.keywords: dict[str, dict[str, tuple[str, ...]]] = {}
        # Each text's source is kept at load and compiled on its first use: compiling all of them
        # would be most of the start-up time, for texts most conversations never show.
        self.texts: dict[tuple[str, str], str] = {}
        self.templates: dict[tuple[str, str], Template] = {}
        self.sources: dict[tuple[str, str], str] = {}
        for locale in SOURCE_LOCALES:
            self._load_locale(locale)
        for locale, (base, _) in DERIVED_LOCALES.items():
            self.keywords[locale] = self.keywords[base]  # a message is read as Simplified Chinese
            self._load_overrides(locale)
        # Each intent's words in every locale, normalised once: a command works in either language.
        self.words_anywhere: dict[str, frozenset[str]] = {
            intent: frozenset(normalise(w) for loc in SOURCE_LOCALES
                              for w in self.keywords[loc].get(intent, ()))
            for intent in self.keywords[DEFAULT_LOCALE]
        }

    # The rehearsal's, the intents' and the checks' files are two thirds of the library: read on
    # first use, so that a customer's chat starts without them.
    @cached_property
    def rehearsal(self) -> dict[str, Any]:
        return self._folder("rehearsal", ("examples", "heldout", "personas", "compliance"))

    @cached_property
    def intents(self) -> dict[str, Any]:
        return self._folder("intents", ("intents", "examples", "dev", "heldout"))

    @cached_property
    def samples(self) -> dict[str, Any]:
        samples: dict[str, Any] = self._yaml("samples.yaml")
        return samples

    def _folder(self, folder: str, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: self._yaml(f"{folder}/{name}.yaml") for name in names
                if (self.root / folder / f"{name}.yaml").exists()}

    # -- loading -------------------------------------------------------------------------------
    def _yaml(self, relative: str) -> Any:
        return self._read(self.root / relative, relative)

    @staticmethod
    def _read(path: Path, relative: str | Path) -> Any:
        try:
            return load_yaml(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise LibraryError(f"{relative}: file is missing") from error
        except yaml.YAMLError as error:
            raise LibraryError(f"{relative}: not valid YAML: {error}") from error

    def _figures(self, model: type[F], path: Path) -> F:
        try:
            return figures.load(model, self._read(path, path), str(path))
        except figures.FiguresError as error:
            raise LibraryError(str(error)) from None

    def _compile(self, locale: str, key: str, source: str, where: str) -> None:
        self.texts[(locale, key)] = source
        self.sources[(locale, key)] = where

    def _template(self, locale: str, key: str) -> Template:
        template = self.templates.get((locale, key))
        if template is None:
            if (locale, key) not in self.texts and (source_locale(locale), key) in self.texts:
                base = source_locale(locale)
                source = converted(locale, self.texts[(base, key)])
                self._compile(locale, key, source, self.sources[(base, key)])
            try:
                source = self.texts[(locale, key)]
            except KeyError:
                raise LibraryError(f"no text {key!r} for locale {locale}") from None
            try:
                template = self.templates[(locale, key)] = self._env.from_string(source)
            except TemplateSyntaxError as error:
                where = self.sources[(locale, key)]
                raise LibraryError(f"{where}, line {error.lineno}: {error.message}") from error
        return template

    def _load_locale(self, locale: str) -> None:
        strings = self._yaml(f"locales/{locale}.yaml")
        self.keywords[locale] = {intent: tuple(map(str, words))
                                 for intent, words in strings["keywords"].items()}
        for key, value in _flatten(strings):
            if key.split(".")[0] not in _PLAIN_SECTIONS:
                self._compile(locale, key, str(value), f"locales/{locale}.yaml ({key})")
        folder = self.root / "templates" / locale
        for path in sorted(folder.rglob("*.j2")):
            key = path.relative_to(folder).with_suffix("").as_posix()
            self._compile(locale, key, path.read_text(encoding="utf-8"), f"templates/{locale}/{key}.j2")

    def _load_overrides(self, locale: str) -> None:
        """A derived locale's own wording where the converted text is not how its readers say it."""
        path = self.root / "locales" / f"{locale}.yaml"
        strings = load_yaml(path.read_text(encoding="utf-8")) if path.exists() else None
        for key, value in _flatten(strings or {}):
            self._compile(locale, key, str(value), f"locales/{locale}.yaml ({key})")

    # -- use -----------------------------------------------------------------------------------
    def has(self, locale: str, key: str) -> bool:
        return (locale, key) in self.texts or (source_locale(locale), key) in self.texts

    def text(self, locale: str, key: str, **context: Any) -> str:
        """Render one text of the library; a missing variable raises, naming the file. A text with
        no context of its own (a button's label, a choice) is rendered once."""
        if not context:
            rendered = self._rendered.get((locale, key))
            if rendered is None:
                rendered = self._rendered[(locale, key)] = self._render(locale, key)
            return rendered
        return self._render(locale, key, **context)

    def _render(self, locale: str, key: str, **context: Any) -> str:
        template = self._template(locale, key)
        try:
            return template.render(self.agency_context(locale), locale=locale, parameters=self.parameters,
                                   **context).strip()
        except UndefinedError as error:
            raise LibraryError(f"{self.sources[(locale, key)]}: {error.message}") from error

    def money(self, locale: str, value: float) -> str:
        return _format_money(value, locale)

    def agency_context(self, locale: str) -> dict[str, Any]:
        """Who is selling, in `locale` (worked out once per locale: every text renders with it)."""
        known = self._agency_context.get(locale)
        if known is None:
            known = self._agency_context[locale] = {
                key: (value.get(locale) or converted(locale, value[source_locale(locale)]))
                if isinstance(value, dict) else value for key, value in self.agency.model_dump().items()}
            known["demo"] = self.demo
        return known

    def question(self, question_id: str) -> Question:
        return next(q for q in self.questions if q.id == question_id)


def _question_fields(raw: dict[str, Any]) -> dict[str, Any]:
    fields = dict(raw)
    fields["choices"] = tuple(fields.get("choices", ()))
    fields["when"] = {earlier: tuple(values) for earlier, values in fields.get("when", {}).items()}
    fields["choice_when"] = {choice: {earlier: tuple(values) for earlier, values in condition.items()}
                             for choice, condition in fields.get("choice_when", {}).items()}
    plausible = fields.get("plausible") or {}
    fields["plausible"] = (plausible.get("min"), plausible.get("max"))
    fields["cues"] = tuple(map(str, fields.get("cues", ())))
    fields["confirm_yes"] = tuple(map(str, fields.get("confirm_yes", ())))
    fields["ask_on_tie"] = tuple(map(str, fields.get("ask_on_tie", ())))
    fields["yields_to"] = tuple(map(str, fields.get("yields_to", ())))
    fields["synonyms"] = {  # normalised, as texts are read
        choice: {locale: tuple(normalise(str(w)) for w in words) for locale, words in by_locale.items()}
        for choice, by_locale in (fields.get("synonyms") or {}).items()}
    return fields


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in tree.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items
