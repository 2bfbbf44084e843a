"""What every reservations endpoint shares: strict input, the error shape in the schema, API field names and local times."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers

from crm.api_support import ErrorResponseSerializer, wrong_json_types
from crm.errors import ApplicationError
from reservations.models import (
    Flight,
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, nested objects included, so a typo is an error and not a silent no-op."""

    refuses_unknown_fields = True  # the schema says so: additionalProperties false

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {str(k): [_("Unknown or read-only field.")] for k in data if k not in writable}
            unknown.update(wrong_json_types(self.fields, data))
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as invalid:
            if unknown and isinstance(invalid.detail, dict):
                raise serializers.ValidationError({**invalid.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class FieldsBuiltOnce:
    """For the serializers of what an answer shows (a booking nests a dozen): their fields are built once
    per class and language, and each instance gets copies.

    DRF builds a ModelSerializer's fields from the model's for every instance, and a serializer's
    declared fields are deep-copied for every instance, re-running each field's ``__init__`` (choices
    flattened, labels looked up in the catalogue): on a booking answer that was a third of the time of
    making the booking. The fields do not depend on the instance or the request, only on the class (and
    the language of any label). A plain field is copied shallowly (binding sets what differs per
    instance: name, parent, source); a nested serializer, which holds bound children, is deep-copied, and
    builds its own fields the same way. Put it first among the bases; never on a serializer whose
    ``get_fields`` depends on the request.
    """

    _built_fields: ClassVar[dict[tuple[type, str | None], dict[str, drf_fields.Field]]] = {}

    def get_fields(self) -> dict[str, drf_fields.Field]:
        key = (type(self), get_language())
        built = FieldsBuiltOnce._built_fields.get(key)
        if built is None:
            built = FieldsBuiltOnce._built_fields[key] = super().get_fields()
        return {name: _field_copy(field) for name, field in built.items()}


def _field_copy(field: drf_fields.Field) -> drf_fields.Field:
    # A serializer, a list or dict field, a many-relation: each holds a child bound to it, so a copy of its own.
    if isinstance(field, serializers.BaseSerializer | relations.ManyRelatedField) or hasattr(field, "child"):
        return copy.deepcopy(field)
    duplicate = object.__new__(type(field))  # copy.copy, without its pickling protocol's cost
    duplicate.__dict__.update(field.__dict__)
    return duplicate


_trees = threading.local()


def represent(serializer_class: type[serializers.BaseSerializer], instance: Any, *, context: dict[str, Any]) -> dict[str, Any]:
    """``serializer_class(instance, context=context).data``, on a tree of serializers built once per thread and
    language instead of once per answer.

    Even with ``FieldsBuiltOnce``, a booking's answer copied ~130 fields and re-created a dozen nested
    serializers for every request: half the time of writing it. Writing an answer changes nothing on the
    fields (``to_representation`` reads the instance, and the context through the root), so the tree built
    for one answer serves the next on the same thread; only the root's context is swapped. A serializer
    whose fields keep state between calls must not come through here. Re-entered on the same thread (an
    answer nesting its own kind), a fresh tree serves the inner call.
    """
    key = (serializer_class, get_language())
    built = _trees.__dict__.setdefault("roots", {})
    root = built.pop(key, None) or serializer_class(context=context)  # popped: a nested call builds its own
    root._context = context
    try:
        return root.to_representation(instance)
    finally:
        root._context = {}  # the request is not kept alive by the tree
        built[key] = root


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """``serializer_class(data=data)``'s validated data (``ValidationError`` as ``is_valid(raise_exception=True)``
    raises it), on a tree of serializers built once per thread and language, as ``represent`` does for answers.

    A booking's request nests a list of travellers and a list of flights: copying those serializers'
    fields for every request was half the time of validating it. Validating changes nothing on the fields;
    what a serializer keeps of one request (its data, errors, a list's current item) is replaced by the next.
    Only for serializers whose validation reads no context.
    """
    key = (serializer_class, get_language())
    built = _trees.__dict__.setdefault("inputs", {})
    root = built.pop(key, None) or serializer_class()  # popped: a nested call builds its own
    for kept in ("_validated_data", "_errors", "_data"):
        root.__dict__.pop(kept, None)
    root.initial_data = data
    try:
        root.is_valid(raise_exception=True)
        return root.validated_data
    finally:
        del root.initial_data  # the request is not kept alive by the tree
        built[key] = root


# Services number list items from 1 ("passengers.2.given_name"); the API, like every serializer
# error it gives, counts from 0 ("passengers.1.given_name" is the second passenger sent).
_SERVICE_ITEM = re.compile(r"^(?P<list>passengers|segments)\.(?P<n>\d+)(?P<rest>(\..*)?)$")


def _api_field_name(name: str) -> str:
    match = _SERVICE_ITEM.match(name)
    if match is None:
        return name
    return f"{match['list']}.{int(match['n']) - 1}{match['rest']}"


def _in_api_terms(error: ApplicationError) -> ApplicationError:
    error.fields = {_api_field_name(k): v for k, v in error.fields.items()}
    return error


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalTimeField(serializers.Field):
    """A flight time in an airport's own time zone, e.g. ``2026-05-01T09:40:00+02:00``."""

    def __init__(self, *, time: str, airport: str, **kwargs: Any) -> None:
        self.time_attribute, self.airport_attribute = time, airport
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, flight: Flight) -> str | None:
        value = getattr(flight, self.time_attribute)
        if value is None:
            return None
        return value.astimezone(ZoneInfo(getattr(flight, self.airport_attribute).time_zone)).isoformat()


@extend_schema_field(OpenApiTypes.DATETIME)
class AirportTimeField(serializers.Field):
    """An already local time (the boarding pass computes them), written with its offset."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return value.isoformat()
