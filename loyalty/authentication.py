"""How a partner's system signs its API calls: ``Authorization: Partner <key>`` or ``X-Partner-Key``.

Kept apart from logins' tokens: a partner key authenticates no user (``request.user`` stays anonymous,
``request.auth`` is the ``Partner``), so it opens the partner endpoints and nothing else, and a
login's token opens no partner endpoint.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from crm.api_support import CountingRateThrottle
from loyalty.models import Partner

KEYWORD = "Partner"
HEADER = "HTTP_X_PARTNER_KEY"


class PartnerKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Partner] | None:
        from django.contrib.auth.models import AnonymousUser

        from loyalty.services import partner_authenticate

        key = self._key(request)
        if key is None:
            return None
        partner = partner_authenticate(key=key)
        if partner is None:
            raise exceptions.AuthenticationFailed(_("Invalid or withdrawn partner key."))
        return AnonymousUser(), partner

    @staticmethod
    def _key(request: Request) -> str | None:
        words = authentication.get_authorization_header(request).split()
        if words and words[0].lower() == KEYWORD.lower().encode():
            if len(words) != 2:
                raise exceptions.AuthenticationFailed(_("Send the key after the word Partner, with no spaces in it."))
            try:
                return words[1].decode("ascii")
            except UnicodeDecodeError:
                raise exceptions.AuthenticationFailed(_("Invalid or withdrawn partner key.")) from None
        key = request.META.get(HEADER)
        return key.strip() if key else None

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'  # so "no key" is a 401, not a 403


class IsPartner(permissions.BasePermission):
    """The request came with a valid partner key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Partner)


class PartnerRateThrottle(CountingRateThrottle):
    """Per partner, not per address: a partner's servers may sit behind one address or many."""

    scope = "partner"
    rate = "6000/minute"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, Partner):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"partner-{request.auth.pk}"}


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.authentication.PartnerKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Partner <key>` (or the header `X-Partner-Key: <key>`): the key issued to the partner.",
        }
