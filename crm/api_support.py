"""What every app's API shares: the one error shape, pagination, the audit of staff reads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.errors import ApplicationError


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _fields(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                flat: list[str] = []
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        for sub, msgs in _fields(item).items():
                            out[f"{key}[{i}].{sub}"] = msgs
                    else:
                        flat.append(str(item))
                if flat:
                    out[key] = flat
            else:
                out[key] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(d) for d in detail]}
    return {}


def error_response(
    *, code: str, message: str, fields: dict | None = None, status_code: int = 400, headers: dict | None = None
) -> Response:
    return Response({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API failure, whatever raised it, answers {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, ApplicationError):
        return error_response(code=exc.code, message=exc.message, fields=exc.fields, status_code=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
        return error_response(code="invalid", message=" ".join(exc.messages), fields=fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            code="invalid",
            message="The request has invalid fields.",
            fields=_fields(exc.detail),
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    detail = getattr(exc, "detail", "")
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    message = str(detail) if not isinstance(detail, (dict, list)) else str(getattr(exc, "default_detail", "Error."))
    headers = dict(response.items())
    return error_response(code=str(code), message=message, status_code=response.status_code, headers=headers)
