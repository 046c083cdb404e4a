"""/language: which language the bot speaks to a person, remembered for them.

`/language zh-CN` (or `中文`, `en`, `auto`) sets it; `/language` alone says which one is in use
and offers a button per language. `auto` forgets the choice: the Telegram app's language again.
"""

from __future__ import annotations

from bot.db.models import Person
from bot.domain.languages import LANGUAGES, language_of, reader_language
from bot.render import speaking
from bot.services import buttons as data
from bot.services.context import Ctx, Registry
from bot.services.messages import Button, Outcome

AUTO = "auto"
# What people may type after /language besides the codes themselves.
_NAMES = {"english": "en", "chinese": "zh-CN", "中文": "zh-CN", "简体中文": "zh-CN", "英文": "en"}


def install(registry: Registry) -> None:
    registry.command("language", language)
    registry.button(data.PickLanguage, _picked)


def language(ctx: Ctx, args: str) -> None:
    """/language [code]: show the language in use, or set it."""
    wanted = args.strip()
    if not wanted:
        _show(ctx)
        return
    if wanted.lower() == AUTO:
        _set(ctx, None)
        return
    code = language_of(_NAMES.get(wanted.lower(), wanted))
    if code is None:
        ctx.say("chat/language.html", what="unknown", wanted=wanted, languages=LANGUAGES)
        return
    _set(ctx, code)


def _picked(ctx: Ctx, pressed: data.PickLanguage) -> Outcome | None:
    _set(ctx, None if pressed.code == AUTO else pressed.code)
    return None


def _show(ctx: Ctx) -> None:
    person = _person(ctx)
    rows = (
        tuple(
            Button(data.label("language", code=code), data.PickLanguage(code).encode())
            for code in LANGUAGES
        ),
        (Button(data.label("language", code=AUTO), data.PickLanguage(AUTO).encode()),),
    )
    ctx.say(
        "chat/language.html",
        what="current",
        current=ctx.lang,
        chosen=person.language if person else None,
        buttons=rows,
    )


def _set(ctx: Ctx, code: str | None) -> None:
    person = _person(ctx)
    if person is not None:
        person.language = code
        ctx.lang = reader_language(code, person.language_code, ctx.config.language)
    ctx.audit("person.language", details={"language": code or AUTO})
    with speaking(ctx.lang):  # the answer is already in the new language
        ctx.say("chat/language.html", what="set", current=ctx.lang, chosen=code)


def _person(ctx: Ctx) -> Person | None:
    return ctx.session.get(Person, ctx.actor.user_id) if ctx.actor.user_id else None
