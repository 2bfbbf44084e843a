"""Extension points through which every app contributes to the customer record.

crm knows no other app. At start-up (``AppConfig.ready``) each app registers what it holds
about a customer: a panel on the customer 360, an exporter for "download my data", an
eraser for "delete my account", a merge handler for duplicates, and optionally a searcher
so the office search box finds customers by that app's references (FF number, PNR...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from crm.models import Customer


@dataclass(frozen=True)
class Panel:
    """One block of the customer 360: a template and its context."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


PanelFn = Callable[["HttpRequest", "Customer"], "Panel | None"]
ExportFn = Callable[["Customer"], dict[str, Any]]
EraseFn = Callable[["Customer"], None]
MergeFn = Callable[["Customer", "Customer"], dict[str, int]]
SearchFn = Callable[[str], Iterable[int]]


@dataclass(frozen=True)
class CustomerExtension:
    """What one app holds about a customer. Every callable is optional except the label."""

    label: str
    panel: PanelFn | None = None
    exporter: ExportFn | None = None
    eraser: EraseFn | None = None
    merger: MergeFn | None = None
    searcher: SearchFn | None = None
    order: int = 100


_extensions: dict[str, CustomerExtension] = {}


def register(extension: CustomerExtension) -> None:
    """Register (or replace, so reloading an app is harmless) one app's extension."""
    _extensions[extension.label] = extension


def extensions() -> list[CustomerExtension]:
    return sorted(_extensions.values(), key=lambda e: (e.order, e.label))


def panels(request: HttpRequest, customer: Customer) -> list[Panel]:
    found = [ext.panel(request, customer) for ext in extensions() if ext.panel]
    return sorted((p for p in found if p is not None), key=lambda p: p.order)


def export(customer: Customer) -> dict[str, Any]:
    return {ext.label: ext.exporter(customer) for ext in extensions() if ext.exporter}


def erase(customer: Customer) -> None:
    for ext in extensions():
        if ext.eraser:
            ext.eraser(customer)


def merge(survivor: Customer, loser: Customer) -> dict[str, dict[str, int]]:
    """Move everything pointing at ``loser`` to ``survivor``; returns counts per app."""
    return {ext.label: ext.merger(survivor, loser) for ext in extensions() if ext.merger}


def search(query: str) -> set[int]:
    """Customer ids that any app recognises ``query`` as a reference of."""
    ids: set[int] = set()
    for ext in extensions():
        if ext.searcher:
            ids.update(ext.searcher(query))
    return ids


# --- E-mail attachments -----------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


AttachmentFn = Callable[[dict[str, Any]], Attachment]

_attachment_builders: dict[str, AttachmentFn] = {}


def register_attachment(name: str, builder: AttachmentFn) -> None:
    """An app names a builder (e.g. "reservations.eticket_receipt_pdf") that a queued e-mail can ask for.

    E-mails keep the builder's name and its parameters, not the file: the attachment is built when the
    message is sent, in the e-mail's language, from the data as it is then.
    """
    _attachment_builders[name] = builder


def attachment_build(name: str, params: dict[str, Any]) -> Attachment:
    builder = _attachment_builders.get(name)
    if builder is None:
        raise LookupError(f"No e-mail attachment builder is registered as {name!r}.")
    return builder(params)
