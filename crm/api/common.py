"""What every part of the API shares: the error answer's schema, strict input, the login check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate
from django.http import HttpRequest
from drf_spectacular.utils import (
    OpenApiResponse,
)
from rest_framework import exceptions, serializers
from rest_framework.request import Request

from crm.api_support import (
    ErrorResponseSerializer,
    wrong_json_types,
)
from crm.models import (
    User,
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


def _locked_out(django_request: HttpRequest) -> exceptions.APIException:
    cool_off = get_cool_off(django_request)
    return exceptions.Throttled(
        wait=cool_off.total_seconds() if cool_off else None,
        detail="Too many failed attempts; this login is locked for a while.",
        code="locked_out",
    )


def _authenticate(request: Request, *, username: str, password: str) -> User | None:
    """authenticate() with the Django request, so django-axes counts failures and locks out.

    When axes locks the login it flags the request for its middleware, which would answer
    with an HTML page; the API answers 429 in its own error shape instead.
    """
    django_request = request._request
    user = authenticate(django_request, username=username, password=password)
    if user is None and getattr(django_request, "axes_locked_out", False):
        django_request.axes_locked_out = False
        raise _locked_out(django_request)
    return user


class StrictInputSerializer(serializers.Serializer):
    """Input serializers refuse keys they do not know, so a typo is an error, not a silent no-op."""

    refuses_unknown_fields = True  # the schema says so: additionalProperties false

    def to_internal_value(self, data: Any) -> Any:
        """In a JSON body text is a string and yes/no a boolean, as the schema says (``0`` is not ``"0"``)."""
        wrong = wrong_json_types(self.fields, data) if isinstance(data, Mapping) and not hasattr(data, "getlist") else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as invalid:
            if wrong and isinstance(invalid.detail, dict):
                raise serializers.ValidationError({**invalid.detail, **wrong}) from None
            raise
        if wrong:
            raise serializers.ValidationError(wrong)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if hasattr(self.initial_data, "keys"):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(k) for k in self.initial_data if k not in writable)
            if unknown:
                raise serializers.ValidationError({k: ["Unknown or read-only field."] for k in unknown})
        return super().validate(attrs)
