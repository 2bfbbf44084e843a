"""The logged-in person's own customer record: read, change, consents, export and erasure."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors, services
from crm.api.common import StrictInputSerializer, _authenticate
from crm.api.customers import (
    NO_RECORD,
    ConsentEventSerializer,
    ConsentInputSerializer,
    ConsentStateSerializer,
    CustomerSerializer,
    PassengerProfileInputSerializer,
    _consent_state,
    _customer_context,
    _record_consent,
)
from crm.models import (
    Customer,
)

# --- Me: the logged-in person's own record --------------------------------------------------


class EraseInputSerializer(StrictInputSerializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False, help_text="The login's password, to confirm.")


def _own_customer(request: Request) -> Customer:
    return selectors.customer_get_for_user(user=request.user)


class MeView(APIView):
    """The logged-in person's own customer record (passengers; anyone whose login has one)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me_retrieve", summary="My customer record", responses={200: CustomerSerializer, 404: NO_RECORD})
    def get(self, request: Request, **kwargs: Any) -> Response:
        customer = _own_customer(request)
        return Response(CustomerSerializer(customer, context=_customer_context(request, own=True)).data)

    @extend_schema(
        operation_id="me_partial_update",
        summary="Change my profile and preferences",
        description="The login e-mail is changed in the portal, where the new address is verified.",
        request=PassengerProfileInputSerializer,
        responses={200: CustomerSerializer, 404: NO_RECORD},
    )
    def patch(self, request: Request, **kwargs: Any) -> Response:
        customer = _own_customer(request)
        data = PassengerProfileInputSerializer(
            customer, data=request.data, partial=True, context={"request": request, "own_record": True}
        )
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer=customer, data=dict(data.validated_data), by=request.user)
        return Response(CustomerSerializer(customer, context=_customer_context(request, own=True)).data)

    @extend_schema(
        operation_id="me_erase",
        summary="Delete my account",
        description="Anonymizes my personal data in every app (records the airline must keep, such as tickets and "
        "payments, stay without my identity) and closes the login. Confirm with the password.",
        request=EraseInputSerializer,
        responses={204: None, 404: NO_RECORD},
    )
    def delete(self, request: Request, **kwargs: Any) -> Response:
        customer = _own_customer(request)
        data = EraseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _authenticate(request, username=request.user.get_username(), password=data.validated_data["password"])
        if user is None or user.pk != request.user.pk:
            raise exceptions.ValidationError({"password": ["The password is not correct."]})
        services.customer_erase(customer=customer, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeConsentsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_consents_retrieve",
        summary="My consent, current and history",
        responses={200: ConsentStateSerializer, 404: NO_RECORD},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(ConsentStateSerializer(_consent_state(_own_customer(request))).data)

    @extend_schema(
        operation_id="me_consents_record",
        summary="Grant or withdraw consent",
        request=ConsentInputSerializer,
        responses={201: ConsentEventSerializer, 404: NO_RECORD},
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        event = _record_consent(request, _own_customer(request))
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)


class MeExportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_export",
        summary="Download my data",
        description="One JSON document with everything every app holds about me, one key per app.",
        responses={200: OpenApiTypes.OBJECT, 404: NO_RECORD},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(services.customer_export(customer=_own_customer(request)))
