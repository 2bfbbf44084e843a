"""Token login: a token for a username and password, throttled and locked out as the portal's login is."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_logged_in
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from crm import services
from crm.api.common import StrictInputSerializer, _authenticate, error
from crm.api_support import (
    ClientAddressMixin,
)
from crm.errors import ApplicationError
from crm.permissions import login_needs_verification
from crm.tokens import token_expires_at

# --- Token login ----------------------------------------------------------------------------


class TokenObtainThrottle(ClientAddressMixin, SimpleRateThrottle):
    """Password guessing is throttled per client address (``crm.http.client_ip``), whoever it claims to be."""

    scope = "token"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenObtainInputSerializer(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expires_at = serializers.DateTimeField(
        help_text="When the token stops working (`API_TOKEN_TTL` after it was issued); a password change ends it "
        "at once. Ask for a new one with the password."
    )


class TokenObtainView(APIView):
    """Exchange a username and password for the login's API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenObtainThrottle]

    @extend_schema(
        operation_id="auth_token_obtain",
        request=TokenObtainInputSerializer,
        responses={200: TokenOutputSerializer, 403: error("The passenger has not verified their e-mail address yet.")},
        auth=[],
        description="Bad credentials answer 400; repeated failures lock the login out (429, code `locked_out`). "
        "A passenger must have verified their e-mail address, as for the portal (403, code `unverified`). "
        "The same login gets the same token until it expires.",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _authenticate(request, username=data.validated_data["username"], password=data.validated_data["password"])
        if user is None:
            raise exceptions.ValidationError({"non_field_errors": ["Unable to log in with these credentials."]})
        if login_needs_verification(user):
            raise ApplicationError(
                "Please verify your e-mail address before logging in: open the link in the e-mail we sent you.",
                code="unverified",
                status=status.HTTP_403_FORBIDDEN,
            )
        # Like a session login: last_login, axes' success log and the reset of its failure count.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        token = services.api_token_issue(user=user)
        return Response(TokenOutputSerializer({"token": token.key, "expires_at": token_expires_at(token.created)}).data)
