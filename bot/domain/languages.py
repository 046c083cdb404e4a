"""The languages sopbot speaks, and which of them a language tag from outside means.

Telegram sends an IETF tag as the person's app language (`zh-hans`, `en-US`, `zh`); config files
and `/language` may write `zh_CN` or `ZH-cn`. All of them come here, so one table decides.
"""

from __future__ import annotations

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGES = (ENGLISH, CHINESE)

# Tags that mean Simplified Chinese. Traditional Chinese (zh-hant, zh-tw, zh-hk) is not here:
# sopbot does not speak it, so those readers get the team's default rather than a wrong script.
_CHINESE = frozenset({"zh", "zh-cn", "zh-hans", "zh-sg", "zh-hans-cn", "zh-hans-sg", "zh-my"})


def language_of(tag: str | None) -> str | None:
    """The language sopbot speaks that `tag` names, or None when it speaks none of it."""
    if not tag:
        return None
    key = tag.strip().replace("_", "-").lower()
    if key in _CHINESE:
        return CHINESE
    if key == "en" or key.startswith("en-"):
        return ENGLISH
    return None


def reader_language(chosen: str | None, telegram: str | None, default: str) -> str:
    """A person's language: the one they chose with /language, else their Telegram app's, else
    the team's default."""
    return language_of(chosen) or language_of(telegram) or default
