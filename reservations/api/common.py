"""What every reservations endpoint shares: strict input, the error shape in the schema, API field names and local times."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

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
