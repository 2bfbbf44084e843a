"""Segments: rule trees over customer attributes, checked and compiled to one SQL query.

A rule tree is ``{"all": [node, ...]}`` or ``{"any": [node, ...]}``; a node is another tree, a
condition ``{"attribute": key, "lookup": "gte", "value": ..., "params": {...}}`` or a static list
``{"list": id}``. Each attribute comes from crm's registry (whatever app owns it), each lookup must be
one its type allows, and each value must be of that type; a mistake names the rule's path, e.g.
``rules.all.2.value``. Compiling annotates only the attributes used and always leaves out erased
customers and those without a current marketing consent on the segment's channel.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import registry
from crm.errors import ApplicationError
from crm.models import Customer, User
from marketing.models import MarketingChannel, Segment, StaticList, StaticListMember

MAX_DEPTH = 4
MAX_CONDITIONS = 40
MAX_TEXT = 200
MAX_ITEMS = 300
SAMPLE_SIZE = 10
_INTEGER = re.compile(r"^-?\d{1,12}\Z")


def _refuse(path: str, message: str, code: str = "invalid_rules") -> ApplicationError:
    return ApplicationError(
        _("The rules are not valid: %(path)s: %(message)s") % {"path": path, "message": message},
        code=code,
        fields={path: [message]},
    )


@dataclass
class _Compiled:
    uses: dict[str, registry.AttributeUse] = dataclasses.field(default_factory=dict)
    conditions: int = 0


def _integer(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    raise _refuse(path, _("Enter a whole number."))


def _allowed(attribute: registry.CustomerAttribute) -> set[str] | None:
    """The codes a choice or list attribute accepts (read once per condition: tiers come from the database)."""
    if attribute.type in (registry.CHOICE, registry.LIST) and attribute.choices:
        return {code for code, _label in attribute.choices}
    return None


def _scalar(attribute: registry.CustomerAttribute, value: Any, path: str, allowed: set[str] | None = None) -> Any:
    """``value`` as the attribute's type (JSON-ready: dates stay ISO text), or a clear refusal."""
    kind = attribute.type
    if kind == registry.INTEGER:
        return _integer(value, path)
    if kind == registry.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _refuse(path, _("Enter a number."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _refuse(path, _("Enter a number.")) from None
        if not number.is_finite():
            raise _refuse(path, _("Enter a number."))
        return str(number)
    if kind == registry.DATE:
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except (AttributeError, ValueError):
            raise _refuse(path, _("Enter a date as YYYY-MM-DD.")) from None
    if kind == registry.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _refuse(path, _("Enter true or false."))
    # text, choice and list items
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _refuse(path, _("Enter a text of 1 to %(max)d characters.") % {"max": MAX_TEXT})
    value = value.strip()
    if kind in (registry.CHOICE, registry.LIST) and allowed is None:
        allowed = _allowed(attribute)
    if allowed is not None and value not in allowed:
        raise _refuse(path, _("“%(value)s” is not one of the choices.") % {"value": value})
    return value


def _items(attribute: registry.CustomerAttribute, value: Any, path: str) -> list[Any]:
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list) or not value or len(value) > MAX_ITEMS:
        raise _refuse(path, _("Enter a list of 1 to %(max)d values.") % {"max": MAX_ITEMS})
    allowed = _allowed(attribute)
    return [_scalar(attribute, item, f"{path}.{i}", allowed) for i, item in enumerate(value)]


def _value(attribute: registry.CustomerAttribute, lookup: str, value: Any, path: str) -> Any:
    if lookup == "isnull":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise _refuse(path, _("Enter true or false."))
        return value
    if lookup == "len":
        number = _integer(value, path)
        if number < 0:
            raise _refuse(path, _("Enter a whole number of 0 or more."))
        return number
    if lookup in ("in", "contains", "overlap"):
        return _items(attribute, value, path)
    return _scalar(attribute, value, path)


def _python(attribute: registry.CustomerAttribute, lookup: str, value: Any) -> Any:
    """The checked JSON value as the Python value the ORM compares with."""
    if lookup in ("isnull", "len"):
        return value
    if attribute.type == registry.DATE:
        return [date.fromisoformat(v) for v in value] if isinstance(value, list) else date.fromisoformat(value)
    if attribute.type == registry.DECIMAL:
        return [Decimal(v) for v in value] if isinstance(value, list) else Decimal(value)
    return value


def _condition(node: dict, path: str, compiled: _Compiled) -> tuple[dict, Q]:
    unknown = sorted(set(node) - {"attribute", "lookup", "value", "params"})
    if unknown:
        raise _refuse(f"{path}.{unknown[0]}", _("Unknown key in a condition."))
    key = node.get("attribute")
    if not isinstance(key, str):
        raise _refuse(f"{path}.attribute", _("Choose an attribute."))
    try:
        attribute = registry.attribute(key)
    except ApplicationError:
        raise _refuse(f"{path}.attribute", _("Unknown attribute “%(key)s”.") % {"key": key[:60]}, "unknown_attribute") from None
    lookup = node.get("lookup")
    if lookup not in attribute.lookups:
        raise _refuse(
            f"{path}.lookup",
            _("“%(attribute)s” can be compared with: %(lookups)s.") % {"attribute": key, "lookups": ", ".join(attribute.lookups)},
        )
    if "value" not in node:
        raise _refuse(f"{path}.value", _("Enter a value."))
    value = _value(attribute, lookup, node["value"], f"{path}.value")
    params = node.get("params") or {}
    if not isinstance(params, dict):
        raise _refuse(f"{path}.params", _("Parameters are written as an object."))
    try:
        use = attribute.bind(**params)
    except ApplicationError as error:
        field = next(iter(error.fields), f"{key}.")
        name = field.split(".", 1)[1] if "." in field else ""
        raise _refuse(f"{path}.params.{name}".rstrip("."), error.fields.get(field, [error.message])[0]) from None
    use = dataclasses.replace(use, alias="segment_" + use.alias.replace("__", "_"))
    compiled.uses[use.alias] = use
    clean = {"attribute": key, "lookup": lookup, "value": value}
    if use.params and attribute.params:
        clean["params"] = dict(use.params)
    return clean, Q(**{f"{use.alias}__{lookup}": _python(attribute, lookup, value)})


def _static_list(node: dict, path: str) -> tuple[dict, Q]:
    if set(node) != {"list"}:
        raise _refuse(path, _('A static list condition is written {"list": id}.'))
    list_id = node["list"]
    if not isinstance(list_id, int) or isinstance(list_id, bool) or not StaticList.objects.filter(pk=list_id).exists():
        raise _refuse(f"{path}.list", _("There is no such static list."))
    members = StaticListMember.objects.filter(static_list_id=list_id).values("customer_id")
    return {"list": list_id}, Q(pk__in=members)


def _node(node: Any, path: str, depth: int, compiled: _Compiled) -> tuple[dict, Q]:
    if not isinstance(node, dict) or not node:
        raise _refuse(path, _("Each rule is an object: a group (all / any), a condition or a static list."))
    if "list" in node:
        compiled.conditions += 1
        return _static_list(node, path)
    groups = [k for k in ("all", "any") if k in node]
    if not groups:
        compiled.conditions += 1
        if compiled.conditions > MAX_CONDITIONS:
            raise _refuse(path, _("A segment has at most %(max)d conditions.") % {"max": MAX_CONDITIONS})
        return _condition(node, path, compiled)
    if len(node) != 1:
        raise _refuse(path, _("A group has exactly one key: all or any."))
    if depth >= MAX_DEPTH:
        raise _refuse(path, _("Groups nest at most %(max)d deep.") % {"max": MAX_DEPTH})
    combine = groups[0]
    children = node[combine]
    if not isinstance(children, list) or not children:
        raise _refuse(f"{path}.{combine}", _("A group needs at least one rule."))
    clean, q = [], Q()
    for index, child in enumerate(children):
        child_clean, child_q = _node(child, f"{path}.{combine}.{index}", depth + 1, compiled)
        clean.append(child_clean)
        q = (q & child_q) if combine == "all" else (q | child_q)
    return {combine: clean}, q


def rules_clean(*, rules: Any) -> dict:
    """The rules checked and normalised (values of their attribute's type), or ``ApplicationError``."""
    clean, _q = _node(rules, "rules", 0, _Compiled())
    return clean


def _channel(channel: str) -> str:
    if channel not in MarketingChannel.values:
        raise ApplicationError(
            _("Choose a channel: %(channels)s.") % {"channels": ", ".join(MarketingChannel.values)},
            code="invalid_channel",
            fields={"consent_channel": [_("Choose a valid channel.")]},
        )
    return channel


def segment_compile(*, rules: Any, channel: str = MarketingChannel.EMAIL) -> QuerySet[Customer]:
    """The customers matching ``rules`` who may be sent marketing on ``channel``: one SQL query when read.

    Static list conditions are checked against the database here (one query each); attribute conditions
    cost nothing until the queryset is read.
    """
    compiled = _Compiled()
    _clean, q = _node(rules, "rules", 0, compiled)
    consent = registry.attribute(f"{_channel(channel)}_marketing_consent").bind(alias="segment_consent")
    uses = {**compiled.uses, consent.alias: consent}
    return Customer.objects.alias(**{alias: use.expression() for alias, use in uses.items()}).filter(
        q, anonymized_at__isnull=True, segment_consent=True
    )


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]


def segment_preview(*, rules: Any, channel: str = MarketingChannel.EMAIL) -> Preview:
    """How many customers the rules reach today and the first few of them (reads only)."""
    customers = segment_compile(rules=rules, channel=channel)
    sample = list(customers.order_by("family_name", "given_name", "id")[:SAMPLE_SIZE])
    return Preview(count=customers.count(), sample=sample)


def _fields(*, name: Any, description: Any) -> tuple[str, str]:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 120 or any(c in name for c in "\r\n\t"):
        raise ApplicationError(
            _("Enter a name of 1 to 120 characters on one line."), code="invalid", fields={"name": [_("Enter a name.")]}
        )
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > 2000:
        raise ApplicationError(
            _("The description is too long."), code="invalid", fields={"description": [_("At most 2000 characters.")]}
        )
    return name, description


def _name_free(name: str, exclude: int | None = None) -> None:
    taken = Segment.objects.filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ApplicationError(
            _("A segment with this name already exists."), code="segment_name_taken", fields={"name": [_("Choose another name.")]}
        )


@transaction.atomic
def segment_create(
    *, name: str, rules: Any, consent_channel: str = MarketingChannel.EMAIL, description: str = "", by: User | None = None
) -> Segment:
    """A new segment; its rules are checked first and its size counted, so the list page shows it."""
    name, description = _fields(name=name, description=description)
    clean = rules_clean(rules=rules)
    count = segment_compile(rules=clean, channel=consent_channel).count()
    _name_free(name)
    return Segment.objects.create(
        name=name, description=description, rules=clean, consent_channel=consent_channel,
        last_count=count, counted_at=timezone.now(), created_by=by,
    )  # fmt: skip


@transaction.atomic
def segment_update(
    *, segment: Segment, name: str, rules: Any, consent_channel: str = MarketingChannel.EMAIL, description: str = ""
) -> Segment:
    """Change a segment: nothing changes if the rules or the name are refused."""
    name, description = _fields(name=name, description=description)
    clean = rules_clean(rules=rules)
    count = segment_compile(rules=clean, channel=consent_channel).count()
    _name_free(name, exclude=segment.pk)
    segment.name, segment.description, segment.rules, segment.consent_channel = name, description, clean, consent_channel
    segment.last_count, segment.counted_at = count, timezone.now()
    segment.save()
    return segment


def segment_recount(*, segment: Segment) -> Segment:
    """Count the segment again (its customers change as they fly, earn miles and answer consent)."""
    segment.last_count = segment_compile(rules=segment.rules, channel=segment.consent_channel).count()
    segment.counted_at = timezone.now()
    segment.save(update_fields=["last_count", "counted_at", "updated_at"])
    return segment
