"""Data kept in two forms, English and Chinese (a city, a programme's name): the one for the reader's language.

The portal speaks English and Simplified Chinese (``settings.LANGUAGES``). Interface text goes through
gettext; names that are data (an airport's city, the loyalty programme's name) have an English form read by
everyone and a Chinese form read only in Chinese, picked here when the text is shown.
"""

from __future__ import annotations

from django.utils import translation


def reads_chinese(language: str | None = None) -> bool:
    """Whether ``language`` (the active language when not given) is a Chinese one."""
    return (language or translation.get_language() or "").lower().startswith("zh")


def in_language(english: str, chinese: str, *, language: str | None = None) -> str:
    """The Chinese form for a Chinese reader when there is one; the English form otherwise."""
    return chinese if chinese and reads_chinese(language) else english
