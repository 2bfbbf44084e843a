"""Timeline lines rendered when they are read, in the reader's language.

An entry stores its untranslated msgid (``gettext_noop``) and language-neutral params: numbers, record
locators, names as data, and codes. A code that is shown as a label (a choice's display) is stored as
``label(name, code)``, ``{"label": name, "value": code}``, and shown through the renderer registered
under ``name``; apps downstream of crm register theirs with ``register_timeline_param`` in their
``AppConfig.ready``. A phrase, itself a message with params, is ``phrase(gettext_noop("..."), **params)``.
A line with plural forms stores the singular msgid as its message and ``{"_plural": msgid, "count": n}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext, ngettext

PLURAL = "_plural"  # the plural msgid, with the count in params["count"]

_renderers: dict[str, Callable[[Any], str]] = {}


def register_timeline_param(name: str, render: Callable[[Any], str]) -> None:
    """Show params stored as ``label(name, code)`` through ``render(code)`` (a label in the active language)."""
    _renderers[name] = render


def label(name: str, value: Any) -> dict[str, Any]:
    """A param shown as the label ``name``'s renderer gives ``value`` when the line is read."""
    return {"label": name, "value": value}


def phrase(msgid: str, **params: Any) -> dict[str, Any]:
    """A param that is itself a message (mark it with ``gettext_noop``), rendered when the line is read."""
    return {"msgid": msgid, "params": params} if params else {"msgid": msgid}


def _param(value: Any) -> Any:
    if isinstance(value, dict):
        if "msgid" in value:
            return render(value["msgid"], value.get("params") or {})
        if "label" in value:
            show = _renderers.get(value["label"])
            return show(value.get("value")) if show is not None else value.get("value")
    return value


def render(message: str, params: Mapping[str, Any]) -> str:
    """``message`` translated into the active language, with its params filled in."""
    values = {key: _param(value) for key, value in params.items() if key != PLURAL}
    plural = params.get(PLURAL)
    text = ngettext(message, plural, params.get("count", 1)) if plural else gettext(message)
    return text % values if values else text


def choice_label(choices: Any) -> Callable[[Any], str]:
    """A renderer for a ``TextChoices`` code: its label, or the code itself when unknown."""
    labels = dict(choices.choices)
    return lambda value: str(labels.get(value, value))
