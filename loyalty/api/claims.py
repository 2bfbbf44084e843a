"""Missing-miles claims by API: a passenger claims a flight for their own membership and lists their claims."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors as crm_selectors
from crm.api import StrictInputSerializer
from crm.api_support import ErrorResponseSerializer
from crm.errors import NotFound
from loyalty import selectors, services
from loyalty.models import Member, RetroClaim


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class RetroClaimInputSerializer(StrictInputSerializer):
    ticket_number = serializers.CharField(
        max_length=20, help_text="The 13-digit e-ticket number; spaces and dashes are ignored (878-1234567890)."
    )


class RetroClaimSerializer(serializers.ModelSerializer):
    refusal_message = serializers.SerializerMethodField(help_text="Why the claim was refused, in the reader's language.")

    class Meta:
        model = RetroClaim
        fields = ["id", "ticket_number", "flight_date", "status", "refusal", "refusal_message", "miles", "created_at"]
        read_only_fields = fields

    def get_refusal_message(self, claim: RetroClaim) -> str:
        return services.refusal_message(claim.refusal)


def _own_member(request: Request) -> Member:
    """The logged-in passenger's membership; anyone without one gets a 404 (never someone else's)."""
    customer = crm_selectors.customer_get_for_user(user=request.user)
    member = selectors.member_for_customer(customer_id=customer.pk)
    if member is None:
        raise NotFound(_("You are not a member of the frequent flyer programme."), code="not_a_member")
    return member


class RetroClaimsView(generics.ListCreateAPIView):
    """My missing-miles claims (passengers, for their own membership)."""

    permission_classes = [IsAuthenticated]
    serializer_class = RetroClaimSerializer
    filter_backends: list = []

    def get_queryset(self):  # noqa: ANN201
        if getattr(self, "swagger_fake_view", False):
            return RetroClaim.objects.none()
        return selectors.retro_claims(member=_own_member(self.request))

    @extend_schema(
        operation_id="loyalty_claims_list",
        summary="My missing-miles claims",
        responses={200: RetroClaimSerializer(many=True), 404: _error("No membership for this login.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="loyalty_claims_create",
        summary="Claim missing miles by e-ticket number",
        description=(
            "Credits my membership with the miles of every flown, not yet credited flight on the e-ticket, "
            "within the programme's claim period, when the ticket's traveller has my family name and given name. "
            "A refusal answers 400 with its code (`invalid_ticket_number`, `unknown_ticket`, `name_mismatch`, "
            "`given_name_mismatch`, `not_flown`, `too_old`, `award_ticket`, `already_credited`) and is recorded "
            "among my claims (except a malformed number)."
        ),
        request=RetroClaimInputSerializer,
        responses={
            201: RetroClaimSerializer,
            400: _error("The ticket number is malformed, or the claim was refused."),
            404: _error("No membership for this login."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        member = _own_member(request)
        data = RetroClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claim = services.retro_claim_submit(member=member, ticket_number=data.validated_data["ticket_number"], by=request.user)
        return Response(RetroClaimSerializer(claim).data, status=status.HTTP_201_CREATED)


def urls() -> list:
    from django.urls import re_path

    return [re_path(r"^loyalty/claims/$", RetroClaimsView.as_view(), name="api-loyalty-claims")]
