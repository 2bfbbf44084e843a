"""Extension points through which every app contributes to the customer record.

crm knows no other app. At start-up (``AppConfig.ready``) each app registers what it holds
about a customer: a panel on the customer 360 and a section of the 360 API, an exporter for
"download my data", an eraser for "delete my account", a merge handler for duplicates, and
optionally a searcher so the office search box finds customers by that app's references (FF
number, PNR...). Apps also register their navigation items, e-mail attachment builders and
**customer attributes**: typed values computed in SQL (last flight date, tier, miles...) that
segments, analytics and API filters use without importing the app that owns them.

A registry is wired once at start-up, so registering the same name twice is an error
(``ImproperlyConfigured``): two apps never silently replace each other. A panel or API section
that raises is logged and left out; the page or answer still comes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.db.models.deletion import Collector, get_candidate_relations_to_delete
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict

if TYPE_CHECKING:
    from django.db.models import Expression
    from django.http import HttpRequest
    from rest_framework.serializers import Serializer

    from crm.models import Customer, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Panel:
    """One block of the customer 360 (or of another page with panels): a template and its context."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


PanelFn = Callable[["HttpRequest", "Customer"], "Panel | None"]
ApiSectionFn = Callable[["Customer", "User"], "dict[str, Any] | None"]
ExportFn = Callable[["Customer"], dict[str, Any]]
EraseFn = Callable[["Customer"], None]
MergeFn = Callable[["Customer", "Customer"], dict[str, int]]
SearchFn = Callable[[str], Iterable[int]]


@dataclass(frozen=True)
class CustomerExtension:
    """What one app holds about a customer. Every callable is optional except the label.

    ``api_section(customer, user)`` returns the app's part of ``GET /api/v1/customers/{number}/360/``
    (JSON-ready, or None when this user may not see it); ``api_serializer`` describes its shape in
    the OpenAPI schema.
    """

    label: str
    panel: PanelFn | None = None
    api_section: ApiSectionFn | None = None
    api_serializer: type[Serializer] | None = None
    exporter: ExportFn | None = None
    eraser: EraseFn | None = None
    merger: MergeFn | None = None
    searcher: SearchFn | None = None
    order: int = 100


_extensions: dict[str, CustomerExtension] = {}


def register(extension: CustomerExtension) -> CustomerExtension:
    """Register one app's extension; a second extension with the same label is a wiring error."""
    if extension.label in _extensions:
        raise ImproperlyConfigured(f"A customer extension labelled {extension.label!r} is already registered.")
    _extensions[extension.label] = extension
    return extension


def unregister(label: str) -> None:
    """Remove an extension (tests that register their own use this to clean up)."""
    _extensions.pop(label, None)


def extensions() -> list[CustomerExtension]:
    return sorted(_extensions.values(), key=lambda e: (e.order, e.label))


def panels_collect(calls: Iterable[tuple[str, Callable[[], Panel | None]]]) -> list[Panel]:
    """Call each panel builder; one that raises is logged and left out, so the page still renders.

    Shared by every page with panels (the customer 360 here, the booking page in reservations).
    """
    found = []
    for name, build in calls:
        try:
            panel = build()
        except Exception:
            logger.exception("The %s panel failed and was left out of the page.", name)
            continue
        if panel is not None:
            found.append(panel)
    return sorted(found, key=lambda p: p.order)


def panels(request: HttpRequest, customer: Customer) -> list[Panel]:
    return panels_collect(
        (ext.label, lambda ext=ext: ext.panel(request, customer)) for ext in extensions() if ext.panel is not None
    )


def api_sections(customer: Customer, user: User) -> dict[str, Any]:
    """Each app's part of the customer 360 API, by label; a section that raises is logged and left out."""
    sections: dict[str, Any] = {}
    for ext in extensions():
        if ext.api_section is None:
            continue
        try:
            data = ext.api_section(customer, user)
        except Exception:
            logger.exception("The %s section of the customer 360 API failed and was left out.", ext.label)
            continue
        if data is not None:
            sections[ext.label] = data
    return sections


def export(customer: Customer) -> dict[str, Any]:
    return {ext.label: ext.exporter(customer) for ext in extensions() if ext.exporter}


def erase(customer: Customer) -> None:
    for ext in extensions():
        if ext.eraser:
            ext.eraser(customer)


def references(customer: Customer) -> dict[str, int]:
    """Rows in any table that still point at ``customer``, counted per model (``app_label.Model``).

    Walks the relations Django's deletion collector walks — every foreign key to Customer, whatever
    app declares it and whatever its ``on_delete`` (cascade, set null, protect, do nothing) — so a new
    app's table is covered the day it is added, whether or not that app registered a merger.
    """
    collector = Collector(using=customer._state.db or "default", origin=customer)
    found: dict[str, int] = {}
    for relation in get_candidate_relations_to_delete(customer._meta):
        rows = collector.related_objects(relation.related_model, [relation.field], [customer])
        count = rows.count()
        if count:
            label = relation.related_model._meta.label
            found[label] = found.get(label, 0) + count
    return found


def merge(survivor: Customer, loser: Customer) -> dict[str, dict[str, int]]:
    """Move everything pointing at ``loser`` to ``survivor``; returns counts per app.

    Then proves nothing still points at ``loser``: a row no merger moved would be deleted, nulled or
    would block the loser's deletion, so the merge is refused (the caller's transaction rolls back).
    """
    moved = {ext.label: ext.merger(survivor, loser) for ext in extensions() if ext.merger}
    left = references(loser)
    if left:
        tables = ", ".join(f"{label} ({count})" for label, count in sorted(left.items()))
        logger.error("Merge of customer %s refused: rows still point at it: %s", loser.pk, tables)
        raise Conflict(
            _("These records cannot be merged: some data still belongs to the duplicate (%(tables)s).") % {"tables": tables},
            code="merge_incomplete",
        )
    return moved


def search(query: str) -> set[int]:
    """Customer ids that any app recognises ``query`` as a reference of."""
    ids: set[int] = set()
    for ext in extensions():
        if ext.searcher:
            ids.update(ext.searcher(query))
    return ids


# --- The portal home page -------------------------------------------------------------------------

HomeSectionFn = Callable[["HttpRequest", "Customer | None"], "Panel | None"]
_home_sections: dict[str, HomeSectionFn] = {}


def register_home_section(name: str, build: HomeSectionFn) -> None:
    """An app puts a block on the portal home page (the flight search leads it); the panel's order places it."""
    if name in _home_sections:
        raise ImproperlyConfigured(f"A portal home section named {name!r} is already registered.")
    _home_sections[name] = build


def unregister_home_section(name: str) -> None:
    _home_sections.pop(name, None)


def home_sections(request: HttpRequest, customer: Customer | None) -> list[Panel]:
    """The portal home page's blocks for this visitor (``customer`` is None when signed out); one that
    raises is logged and left out."""
    return panels_collect((name, lambda build=build: build(request, customer)) for name, build in _home_sections.items())


# --- Navigation -------------------------------------------------------------------------------

OFFICE = "office"
PORTAL = "portal"
ANYONE = "anyone"
SIGNED_IN = "signed_in"
SIGNED_OUT = "signed_out"


@dataclass(frozen=True)
class NavItem:
    """One link in a surface's menu.

    Office items show to staff holding every one of ``permissions`` (roles are groups of
    permissions, so this is "per role"); portal items show to ``audience``: anyone, signed-in
    passengers or visitors who are signed out. ``current`` lists the URL names (without namespace)
    on which the link is marked as the current page. ``home_for`` names the roles whose office home
    is this page instead of the customer desk (a marketer lands on campaigns, not on customer search).
    """

    surface: str
    label: str
    url_name: str
    permissions: tuple[str, ...] = ()
    audience: str = ANYONE
    current: tuple[str, ...] = ()
    order: int = 100
    home_for: tuple[str, ...] = ()

    def visible_to(self, user: Any) -> bool:
        signed_in = bool(getattr(user, "is_authenticated", False))
        if self.audience == SIGNED_IN and not signed_in:
            return False
        if self.audience == SIGNED_OUT and signed_in:
            return False
        return not self.permissions or (signed_in and user.has_perms(self.permissions))


_nav: dict[tuple[str, str], NavItem] = {}


def register_nav(*items: NavItem) -> None:
    """An app adds its menu links; the same URL twice on one surface is a wiring error."""
    for item in items:
        if item.surface not in (OFFICE, PORTAL):
            raise ImproperlyConfigured(f"Unknown navigation surface {item.surface!r}.")
        if item.audience not in (ANYONE, SIGNED_IN, SIGNED_OUT):
            raise ImproperlyConfigured(f"Unknown navigation audience {item.audience!r}.")
        key = (item.surface, item.url_name)
        if key in _nav:
            raise ImproperlyConfigured(f"A {item.surface} navigation item for {item.url_name!r} is already registered.")
        _nav[key] = item


def unregister_nav(surface: str, url_name: str) -> None:
    _nav.pop((surface, url_name), None)


def nav_items(surface: str, user: Any) -> list[NavItem]:
    """The links of ``surface``'s menu this user sees, in order."""
    items = [item for item in _nav.values() if item.surface == surface and item.visible_to(user)]
    return sorted(items, key=lambda i: (i.order, i.url_name))


def home_item(surface: str, user: Any, roles: frozenset[str] | set[str]) -> NavItem | None:
    """The first link of the menu that is the home of one of ``roles``, if the user may open it."""
    return next((item for item in nav_items(surface, user) if set(item.home_for) & set(roles)), None)


# --- Customer attributes ----------------------------------------------------------------------

DATE = "date"
INTEGER = "integer"
DECIMAL = "decimal"
TEXT = "text"
BOOLEAN = "boolean"
CHOICE = "choice"
LIST = "list"
ATTRIBUTE_TYPES = (DATE, INTEGER, DECIMAL, TEXT, BOOLEAN, CHOICE, LIST)
# What a segment rule or an API filter may ask of each type (Django lookups on the annotation).
LOOKUPS: dict[str, tuple[str, ...]] = {
    DATE: ("exact", "gt", "gte", "lt", "lte", "isnull"),
    INTEGER: ("exact", "gt", "gte", "lt", "lte", "isnull"),
    DECIMAL: ("exact", "gt", "gte", "lt", "lte", "isnull"),
    TEXT: ("exact", "iexact", "icontains", "isnull"),
    BOOLEAN: ("exact", "isnull"),
    CHOICE: ("exact", "in", "isnull"),
    LIST: ("contains", "overlap", "len"),
}


@dataclass(frozen=True)
class AttributeParam:
    """A parameter of an attribute, e.g. ``months`` of "flights in the last N months" (integers only)."""

    name: str
    label: str
    default: int
    minimum: int = 1
    maximum: int = 1200


@dataclass(frozen=True)
class CustomerAttribute:
    """A typed value about every customer, computed in SQL.

    ``expression(**params)`` returns a Django expression evaluated per Customer row (typically a
    ``Subquery`` on ``OuterRef("pk")``), so any number of customers is annotated in one query.
    ``choices`` are the allowed values of a ``choice`` attribute or of a ``list`` attribute's items.
    """

    key: str
    label: str
    type: str
    expression: Callable[..., Expression]
    app: str = ""
    params: tuple[AttributeParam, ...] = ()
    choices: tuple[tuple[str, str], ...] = ()
    description: str = ""

    @property
    def lookups(self) -> tuple[str, ...]:
        return LOOKUPS[self.type]

    def bind(self, alias: str | None = None, **params: Any) -> AttributeUse:
        """This attribute with its parameters checked (``ApplicationError`` naming the bad one)."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ApplicationError(
                _("Unknown parameter for %(attribute)s: %(names)s.") % {"attribute": self.key, "names": ", ".join(unknown)},
                code="invalid_attribute",
                fields={f"{self.key}.{name}": [_("Unknown parameter.")] for name in unknown},
            )
        values: dict[str, int] = {}
        for param in self.params:
            raw = params.get(param.name, param.default)
            try:
                value = int(raw)
            except (TypeError, ValueError):
                value = None
            if value is None or isinstance(raw, bool) or not param.minimum <= value <= param.maximum:
                message = _("Enter a whole number from %(min)d to %(max)d.") % {"min": param.minimum, "max": param.maximum}
                raise ApplicationError(message, code="invalid_attribute", fields={f"{self.key}.{param.name}": [message]})
            values[param.name] = value
        if alias is None:
            alias = "__".join([self.key, *(f"{k}_{v}" for k, v in values.items() if k in params)])
        return AttributeUse(attribute=self, params=values, alias=alias)


@dataclass(frozen=True)
class AttributeUse:
    """An attribute with its parameter values, under the name it is annotated as."""

    attribute: CustomerAttribute
    params: Mapping[str, int]
    alias: str

    def expression(self) -> Expression:
        return self.attribute.expression(**self.params)


_attributes: dict[str, CustomerAttribute] = {}


def register_attribute(attribute: CustomerAttribute) -> CustomerAttribute:
    if attribute.type not in ATTRIBUTE_TYPES:
        raise ImproperlyConfigured(f"Customer attribute {attribute.key!r} has unknown type {attribute.type!r}.")
    if not attribute.key.isidentifier():
        raise ImproperlyConfigured(f"Customer attribute key {attribute.key!r} must be a Python identifier.")
    if attribute.key in _attributes:
        raise ImproperlyConfigured(f"A customer attribute {attribute.key!r} is already registered.")
    from django.apps import apps

    # ``annotate`` uses the key as the annotation's name, which may not be a field of Customer.
    customer_fields = {f.name for f in apps.get_model("crm", "Customer")._meta.get_fields()}
    customer_fields |= {f.attname for f in apps.get_model("crm", "Customer")._meta.concrete_fields}
    if attribute.key in customer_fields:
        raise ImproperlyConfigured(f"Customer attribute key {attribute.key!r} is the name of a Customer field; choose another.")
    _attributes[attribute.key] = attribute
    return attribute


def unregister_attribute(key: str) -> None:
    _attributes.pop(key, None)


def attributes() -> list[CustomerAttribute]:
    return sorted(_attributes.values(), key=lambda a: (a.app, a.key))


def attribute(key: str) -> CustomerAttribute:
    """The attribute registered as ``key``; an unknown key is a clear ``ApplicationError``."""
    found = _attributes.get(key)
    if found is None:
        raise ApplicationError(
            _("Unknown customer attribute: %(key)s.") % {"key": key}, code="unknown_attribute", fields={key: [_("Unknown.")]}
        )
    return found


def annotate(queryset: QuerySet[Customer], *uses: AttributeUse | str) -> QuerySet[Customer]:
    """``queryset`` with each attribute as an annotation (its alias), all in the same single query."""
    bound = [attribute(use).bind() if isinstance(use, str) else use for use in uses]
    return queryset.annotate(**{use.alias: use.expression() for use in bound})


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    import calendar

    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


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
    if name in _attachment_builders:
        raise ImproperlyConfigured(f"An e-mail attachment builder named {name!r} is already registered.")
    _attachment_builders[name] = builder


def attachment_build(name: str, params: dict[str, Any]) -> Attachment:
    builder = _attachment_builders.get(name)
    if builder is None:
        raise LookupError(f"No e-mail attachment builder is registered as {name!r}.")
    return builder(params)


# --- Demo data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSeeder:
    """An app's part of ``manage.py seed_demo``, run after crm's customers and the flight schedule.

    ``seed(stdout=...)`` adds the app's demo data and returns one line saying what it added, or ""
    when its data is already there (every seeder is idempotent, like the command).
    """

    name: str
    seed: Callable[..., str]
    order: int = 100


_demo_seeders: dict[str, DemoSeeder] = {}


def register_demo_seeder(name: str, seed: Callable[..., str], order: int = 100) -> DemoSeeder:
    if name in _demo_seeders:
        raise ImproperlyConfigured(f"A demo seeder named {name!r} is already registered.")
    _demo_seeders[name] = DemoSeeder(name=name, seed=seed, order=order)
    return _demo_seeders[name]


def unregister_demo_seeder(name: str) -> None:
    _demo_seeders.pop(name, None)


def demo_seeders() -> list[DemoSeeder]:
    return sorted(_demo_seeders.values(), key=lambda s: (s.order, s.name))
