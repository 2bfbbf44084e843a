"""What every app's API shares: the one error shape, pagination, parsing, permissions and the schema.

Every failure answers ``{"error": {"code", "message", "fields"}}``, whatever raised it: a
serializer, a service (``ApplicationError``), DRF (401, 403, 404, 405, 406, 415, 429), Django
(``Http404``, ``PermissionDenied``) or a malformed body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import django_filters
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import authentication, exceptions, parsers, permissions, serializers, status, throttling
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from crm.errors import ApplicationError
from crm.http import client_ip
from crm.permissions import is_staff_member
from crm.tokens import token_has_expired
from crm.validation import SCHEMA_PATTERNS


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names none of the filters: building and validating the
    form of every filter costs about as much as a whole search, for a result that would change nothing."""

    def filter_queryset(self, request, queryset, view):  # noqa: ANN001, ANN201
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not set(filterset_class.base_filters).intersection(request.query_params):
            return queryset
        if filterset_class is not None:
            _refuse_empty_values(filterset_class, request.query_params)
        return super().filter_queryset(request, queryset, view)


def _refuse_empty_values(filterset_class, params) -> None:  # noqa: ANN001
    """``?created_before=`` is a 400, as the schema says (a date-time, a choice, a number is never empty),
    not silently no filter at all. A text filter may be empty."""
    empty = sorted(
        name
        for name, declared in filterset_class.base_filters.items()
        if params.get(name) == "" and not isinstance(declared, django_filters.CharFilter)
    )
    if empty:
        raise exceptions.ValidationError({name: ["Enter a value, or leave the parameter out."] for name in empty})


class ClientAddressMixin:
    """Throttles know the client by ``crm.http.client_ip``: DRF's own ``get_ident`` believes whatever
    ``X-Forwarded-For`` says (NUM_PROXIES unset), so a forged header would give every request a fresh limit."""

    def get_ident(self, request) -> str:  # noqa: ANN001
        return client_ip(request)


class CountingRateThrottle(ClientAddressMixin, SimpleRateThrottle):
    """DRF's rate limits keep the time of every request in the window (up to 6,000 at the default user rate)
    and read and write that whole list on every call. A counter that starts with the first request and
    expires with the window costs one small round trip at any rate (crm.cache.RedisCache.count)."""

    def allow_request(self, request, view):  # noqa: ANN001, ANN201
        if self.rate is None or not hasattr(self.cache, "count"):
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self.seconds_left = self.cache.count(self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> float | None:
        if hasattr(self, "seconds_left"):
            return max(self.seconds_left, 1)
        return super().wait()


class UserRateThrottle(CountingRateThrottle, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(CountingRateThrottle, throttling.AnonRateThrottle):
    pass


class RankedRows(Sequence):
    """A ranked list of ids as rows, in rank order, loading only the slice a page asks for.

    Paginating a queryset instead would make PostgreSQL fetch and sort every ranked row (ORDER BY a CASE
    over all the ids) and count them again, to show 25. ``load(ids)`` returns the rows of those ids in
    their order, leaving out any that no longer exist.
    """

    def __init__(self, ids: list[Any], load: Callable[[list[Any]], list[Any]]) -> None:
        self.ids, self.load = ids, load

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int | slice) -> Any:
        if not isinstance(index, slice):
            return self[index : index + 1 if index != -1 else None][0]
        return self.load(self.ids[index])


_INTEGER = re.compile(r"^-?[0-9]+\Z")


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:  # noqa: ANN001
        """A page size that is not an integer is a 400, as the schema says, not silently the default."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not _INTEGER.match(raw):
            raise exceptions.ValidationError({self.page_size_query_param: ["Enter a whole number."]})
        return super().get_page_size(request)

    def get_page_number(self, request, paginator):  # noqa: ANN001, ANN201
        """A page that is not an integer (``?page=``, ``?page=x``) is a 400; one out of range stays a 404."""
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings and not _INTEGER.match(raw):
            raise exceptions.ValidationError({self.page_query_param: ["Enter a whole number."]})
        return super().get_page_number(request, paginator)


# A lone UTF-16 surrogate ("\ud800" in JSON) is valid JSON but not text: it cannot be stored or even
# echoed back in an error message, so it is refused at the door.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(data: Any) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; absurd nesting and unencodable strings are a 400 like any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
        if _has_lone_surrogate(data):
            raise exceptions.ParseError("JSON parse error - the document contains an unpaired surrogate (\\uD800-\\uDFFF).")
        return data


def wrong_json_types(fields: Mapping[str, serializers.Field], data: Mapping) -> dict[str, list[str]]:
    """Text is a JSON string, a whole number a JSON number and a yes/no a JSON boolean, as the schema says; DRF
    would turn 0 into "0" and "yes" into true. Only for a JSON body: a form's values are all text."""
    wrong: dict[str, list[str]] = {}
    for name, field in fields.items():
        value = data.get(name)
        if value is None or field.read_only:
            continue
        if isinstance(field, serializers.CharField) and not isinstance(value, str):
            wrong[name] = [_("Enter text (a JSON string).")]
        elif isinstance(field, serializers.IntegerField) and not _json_whole_number(value):
            wrong[name] = [_("Enter a whole number (a JSON number).")]
        elif isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
            wrong[name] = [_("Enter true or false (a JSON boolean).")]
    return wrong


def _json_whole_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


# --- The error shape ------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable reason, e.g. `invalid`, `not_found`, `throttled`.")
    message = serializers.CharField(help_text="For people; may be translated.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted for nested input) to its messages; empty unless the input was invalid.",
    )


class ErrorResponseSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    error = ErrorSerializer()


def _text(value: Any) -> str:
    """Messages may echo the input; make sure whatever they echo can be encoded."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _fields(value).items():
                    out[f"{_text(key)}.{sub}"] = msgs
            elif isinstance(value, list):
                flat: list[str] = []
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        for sub, msgs in _fields(item).items():
                            out[f"{_text(key)}[{i}].{sub}"] = msgs
                    elif isinstance(item, list):
                        for msg in item:
                            out.setdefault(f"{_text(key)}[{i}]", []).append(_text(msg))
                    else:
                        flat.append(_text(item))
                if flat:
                    out[_text(key)] = flat
            else:
                out[_text(key)] = [_text(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [_text(d) for d in detail]}
    return {}


# Headers of DRF's own error responses worth keeping (the rest is rebuilt by the renderer).
_KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow")


def error_response(
    *, code: str, message: str, fields: dict | None = None, status_code: int = 400, headers: dict | None = None
) -> Response:
    body = {"code": code, "message": _text(message), "fields": fields or {}}
    return Response({"error": body}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API failure, whatever raised it, answers {"error": {"code", "message", "fields"}} in JSON."""
    response = _error_for(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        # Even to a client that asked for HTML (a browser): an error is JSON, never the browsable page.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    return response


def _error_for(exc: Exception, context: dict) -> Response | None:
    # Imported here: rest_framework.views reads the parser setting, which points back at this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ApplicationError):
        return error_response(code=exc.code, message=exc.message, fields=exc.fields, status_code=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
        return error_response(code="invalid", message=" ".join(exc.messages), fields=fields)
    if isinstance(exc, RequestDataTooBig):
        return error_response(code="too_large", message="The request body is too large.", status_code=413)
    if isinstance(exc, SuspiciousOperation):  # too many fields or files, a malformed body Django refused to read
        return error_response(code="bad_request", message="The request could not be read.", status_code=400)
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
    headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
    return error_response(code=str(code), message=message, status_code=response.status_code, headers=headers)


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status_code)


@csrf_exempt  # a POST to an unknown path is a 404 like any other, not a CSRF failure page
def api_not_found(request, *args, **kwargs) -> JsonResponse:  # noqa: ANN001, ANN002, ANN003
    """For the end of the API URLconfs (``re_path(r"^api(/|$)", api_not_found)``): unknown paths get the error shape too."""
    return json_error("not_found", "No such API endpoint.", 404)


def is_api_path(request) -> bool:  # noqa: ANN001
    path = request.path_info
    return path == "/api" or path.startswith("/api/")


# --- Authentication -------------------------------------------------------------------------


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token auth, but a key that cannot be a token (NUL bytes, 10 kB of junk) never reaches SQL, and a
    token past ``API_TOKEN_TTL`` is refused.

    PostgreSQL refuses NUL characters in a query, and the driver error would be a 500. The login and its
    token come in one plain query: every API call makes it, and through the ORM it cost twice as long.
    """

    def authenticate_credentials(self, key: str):  # noqa: ANN201
        if not (key.isascii() and key.isalnum() and len(key) <= 64):
            raise exceptions.AuthenticationFailed("Invalid token.")
        token_model = self.get_model()
        user_model = token_model._meta.get_field("user").related_model
        users = list(
            user_model.objects.raw(
                f"SELECT u.*, t.created AS token_created FROM {user_model._meta.db_table} u "  # noqa: S608 - table names
                f"JOIN {token_model._meta.db_table} t ON t.user_id = u.id WHERE t.key = %s",
                [key],
            )
        )
        if not users:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = users[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token_has_expired(user.token_created):
            raise exceptions.AuthenticationFailed(_("The token has expired; ask for a new one."))
        return user, token_model(key=key, user=user, created=user.token_created)


# --- Permissions ----------------------------------------------------------------------------


class StaffPermission(permissions.BasePermission):
    """Back-office endpoints: a staff member holding every permission the view asks for this action.

    A viewset says what it needs with ``required_permissions(self) -> tuple[str, ...]`` (or a
    ``permissions_by_action`` dict). Anyone else who is logged in (a passenger) gets 403 on a
    collection and 404 on any object under it, so an answer never tells them what exists.
    """

    def has_permission(self, request, view) -> bool:  # noqa: ANN001
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # a method the endpoint does not have: DRF answers 405, the same to anyone
        if not is_staff_member(user):
            if getattr(view, "detail", False):
                raise exceptions.NotFound()
            return False
        return user.has_perms(self._required(view))

    @staticmethod
    def _required(view) -> tuple[str, ...]:  # noqa: ANN001
        required = getattr(view, "required_permissions", None)
        if callable(required):
            return tuple(required())
        by_action = getattr(view, "permissions_by_action", {})
        return tuple(by_action.get(getattr(view, "action", None), by_action.get(None, ())))


def country_choices() -> list[tuple[str, str]]:
    """One ``CountryEnum`` for nationality, country and passport country (SPECTACULAR_SETTINGS)."""
    from django_countries import countries

    return [(code, name) for code, name in countries]


def language_choices() -> list[tuple[str, str]]:
    """The languages a customer may prefer (``LanguageEnum``): any Django knows, as the office offers."""
    from crm.validation import known_language_codes

    return [(code, code) for code in sorted(known_language_codes())]


def portal_language_choices() -> list[tuple[str, str]]:
    """The languages a passenger may choose (``PortalLanguageEnum``): the portal's own."""
    from crm.validation import portal_language_codes

    return [(code, code) for code in sorted(portal_language_codes())]


# --- OpenAPI --------------------------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input: malformed body or query, or a business rule refused it (`fields` says where).",
    "401": "Not authenticated: send `Authorization: Token <key>` or a session cookie.",
    "403": "Authenticated, but this login may not do this.",
    "404": "No such object, or not one this login may reach.",
    "409": "Conflicts with the current state (e.g. already converted, already merged).",
    "413": "The request body is too large.",
    "414": "The request line is longer than the web server reads (about 4 kB of path and query); the web "
    "server answers, before the API, so the body is not the error shape.",
    "415": "Unsupported media type: send `application/json`.",
    "429": "Too many requests (throttled, or the login is locked out after failed attempts); see `Retry-After`.",
}


_MERGED_DESCRIPTION = (
    "This customer number was merged into another record: `Location` is the same endpoint of the surviving "
    "customer (301 for a read; 308 for a write, to repeat with the same method and body), and "
    "`fields.customer_number` names it. The error code is `customer_merged`."
)


def _may_be_blank(field: serializers.Field) -> bool:
    """Whether a field may answer ``""``: it says so, or it is a read-only copy of a model field that may be
    blank (ModelSerializer drops ``allow_blank`` from read-only fields, so the schema would not know)."""
    if getattr(field, "allow_blank", False):
        return True
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if not isinstance(parent, serializers.ModelSerializer) or model is None or "." in field.source or field.source == "*":
        return False
    try:
        model_field = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return False
    return isinstance(model_field, (models.CharField, models.TextField)) and model_field.blank


def _build_auto_schema() -> type:
    from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

    class AutoSchema(SpectacularAutoSchema):
        """drf-spectacular's schema, plus the error shape on every operation's 4xx answers."""

        def _error_codes(self) -> list[str]:
            codes = ["400"]
            try:
                open_to_all = all(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
            except Exception:  # noqa: BLE001 - a view whose permissions need a real request: assume protected
                open_to_all = False
            if not open_to_all:
                codes += ["401", "403"]
            # An object path names something that may not exist; a paginated list has pages that may not.
            if "{" in self.path or (self._is_list_view() and self._get_paginator() is not None):
                codes.append("404")
            if self.method in ("POST", "PUT", "PATCH"):
                codes += ["413", "415"]
            codes.append("429")
            return codes

        def _map_serializer(self, serializer, direction, bypass_extensions=False):  # noqa: ANN001, ANN202
            """A serializer that refuses unknown keys says so (``additionalProperties: false``)."""
            schema = super()._map_serializer(serializer, direction, bypass_extensions)
            if direction == "request" and getattr(serializer, "refuses_unknown_fields", False) and "properties" in schema:
                schema["additionalProperties"] = False
            return schema

        def map_parsers(self) -> list[str]:
            """Bodies are documented as JSON. The form parsers still read a form (``curl -d``), with HTML form
            conventions no JSON schema can state (an empty value is null, a missing checkbox false)."""
            media_types = super().map_parsers()
            return ["application/json"] if "application/json" in media_types else media_types

        def _map_serializer_field(self, field, direction, bypass_extensions=False):  # noqa: ANN001, ANN202
            """Lists say how many items they take, nested serializers (``many=True``) included; text states
            the pattern its validators enforce (crm.validation.SCHEMA_PATTERNS); an answer's field that may be
            blank says so (a code's enum takes ``""``, an e-mail may be empty)."""
            schema = super()._map_serializer_field(field, direction, bypass_extensions)
            if direction == "request" and isinstance(schema, dict) and schema.get("type") == "string":
                pattern = next((p for rule, p in SCHEMA_PATTERNS.items() if rule in field.validators), None)
                if pattern and "pattern" not in schema:
                    schema["pattern"] = pattern
            enum = schema.get("enum") if isinstance(schema, dict) else None
            if direction == "response" and isinstance(enum, list) and "" not in enum and _may_be_blank(field):
                schema["enum"] = [*enum, ""]
            if direction == "request" and isinstance(schema, dict) and schema.get("type") == "array":
                least = max(getattr(field, "min_length", None) or 0, 0 if getattr(field, "allow_empty", True) else 1)
                if least:
                    schema["minItems"] = max(schema.get("minItems", 0), least)
                if getattr(field, "max_length", None) and "maxItems" not in schema:
                    schema["maxItems"] = field.max_length
            return schema

        def _insert_field_validators(self, field, schema) -> None:  # noqa: ANN001
            """A formatted string that may be blank (an e-mail address) takes the empty string too."""
            super()._insert_field_validators(field, schema)
            if schema.get("type") == "string" and "format" in schema and _may_be_blank(field):
                schema["anyOf"] = [{"format": schema.pop("format")}, {"maxLength": 0}]

        def _get_response_bodies(self, direction: str = "response") -> dict:
            responses = super()._get_response_bodies(direction)
            if direction != "response":
                return responses
            # Any URL may be too long for the web server (gunicorn's limit_request_line), whatever the operation.
            responses.setdefault("414", {"description": _ERROR_DESCRIPTIONS["414"]})
            for code in self._error_codes():
                if code not in responses:
                    response = self._get_response_for_code(ErrorResponseSerializer, code, direction=direction)
                    response["description"] = _ERROR_DESCRIPTIONS[code]
                    responses[code] = response
            # A view that answers a merged-away customer number with a permanent redirect says so.
            if getattr(self.view, "redirects_merged_customers", False) and "{customer_number}" in self.path:
                code = "301" if self.method in ("GET", "HEAD") else "308"
                response = self._get_response_for_code(ErrorResponseSerializer, code, direction=direction)
                response["description"] = _MERGED_DESCRIPTION
                responses.setdefault(code, response)
            return responses

    return AutoSchema


def __getattr__(name: str) -> Any:
    """``AutoSchema`` is built on first use: DRF imports this module (for the pagination class) while
    it is still importing ``rest_framework.generics``, which drf-spectacular's schema module needs."""
    if name == "AutoSchema":
        schema_class = _build_auto_schema()
        globals()["AutoSchema"] = schema_class
        return schema_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
