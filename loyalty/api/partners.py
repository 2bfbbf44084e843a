"""``POST /api/v1/loyalty/partner-accruals/``: a partner credits miles its customer earned.

Authenticated with the partner's own key, never a login's token. The partner's transaction reference
makes the call safe to retry: the same reference again answers 200 with the first credit; with other
miles or another member, 409. ``POST /api/v1/loyalty/partner-reversals/`` takes a credit back (a
cancelled stay), once.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.validation import validate_single_line_text
from loyalty import services
from loyalty.authentication import IsPartner, PartnerKeyAuthentication, PartnerRateThrottle
from loyalty.services.partners import REFERENCE
from reservations.api.common import StrictSerializer, error


class PartnerAccrualInputSerializer(StrictSerializer):
    member_number = serializers.CharField(
        max_length=20, help_text="The member's 10-digit frequent flyer number (spaces allowed); its check digit is verified."
    )
    transaction_reference = serializers.RegexField(
        REFERENCE.pattern.replace("\\Z", "$"), max_length=64,
        help_text="Your own unique reference for this transaction (1-64 visible ASCII characters). Sending it again "
        "never credits twice.",
    )  # fmt: skip
    miles = serializers.IntegerField(min_value=1, max_value=services.MAX_MILES_PER_TRANSACTION)
    description = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        validators=[validate_single_line_text],
        help_text="Shown to the member on their statement, e.g. the hotel's name.",
    )
    occurred_on = serializers.DateField(required=False, help_text="When the stay or rental happened (not in the future).")


class PartnerAccrualSerializer(serializers.Serializer):
    """A partner credit as the partner sees it (read from the ledger entry)."""

    id = serializers.IntegerField()
    member_number = serializers.CharField(source="member.number")
    transaction_reference = serializers.CharField(source="details.reference")
    miles = serializers.IntegerField(source="award_miles")
    description = serializers.CharField(source="details.description", default="")
    occurred_on = serializers.DateField(source="details.occurred_on", default=None, allow_null=True)
    credited_at = serializers.DateTimeField(source="created_at")


class PartnerAccrualView(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [IsPartner]
    throttle_classes = [PartnerRateThrottle]

    @extend_schema(
        operation_id="loyalty_partner_accrual_create",
        summary="Credit a member's miles (partners)",
        description="For partners (hotels, car rentals), with the key issued to them: `Authorization: Partner <key>` or "
        "`X-Partner-Key: <key>`. Credits award miles to the member with this frequent flyer number. 201 with the new "
        "credit; **200 with the original credit** when this `transaction_reference` was already credited with the same "
        "miles to the same member (a retry). The miles count for the partner's monthly clearing statement.",
        request=PartnerAccrualInputSerializer,
        responses={
            201: PartnerAccrualSerializer,
            200: PartnerAccrualSerializer,
            400: error("`invalid`, `invalid_frequent_flyer_number`, `unknown_frequent_flyer_number`: see `fields`."),
            401: error("No partner key, or one that is wrong or was replaced."),
            409: error("`partner_reference_conflict`: this reference was credited with other miles or to another member."),
        },
        examples=[
            OpenApiExample(
                "A night's stay",
                value={
                    "member_number": "1234567897",
                    "transaction_reference": "H-2026-000123",
                    "miles": 500,
                    "description": "Harbour Hotel, 1 night",
                    "occurred_on": "2026-05-01",
                },
                request_only=True,
            )  # fmt: skip
        ],
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = PartnerAccrualInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        accrual = services.partner_accrue(
            partner=request.auth,
            member_number=values["member_number"],
            transaction_reference=values["transaction_reference"],
            miles=values["miles"],
            description=values.get("description", ""),
            occurred_on=values.get("occurred_on"),
        )
        body = PartnerAccrualSerializer(accrual.entry).data
        return Response(body, status=status.HTTP_201_CREATED if accrual.created else status.HTTP_200_OK)


class PartnerReversalInputSerializer(StrictSerializer):
    transaction_reference = serializers.RegexField(
        REFERENCE.pattern.replace("\\Z", "$"), max_length=64, help_text="The reference of the credit to take back."
    )


class PartnerReversalSerializer(serializers.Serializer):
    """The reversal entry: the credit's miles taken back (a negative number)."""

    id = serializers.IntegerField()
    member_number = serializers.CharField(source="member.number")
    transaction_reference = serializers.CharField(source="details.reference")
    miles = serializers.IntegerField(source="award_miles", help_text="Negative: the miles taken back.")
    reversed_at = serializers.DateTimeField(source="created_at")


class PartnerReversalView(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [IsPartner]
    throttle_classes = [PartnerRateThrottle]

    @extend_schema(
        operation_id="loyalty_partner_reversal_create",
        summary="Take back a credit (partners)",
        description="For a stay or rental that was cancelled: takes back the miles of your credit with this "
        "`transaction_reference`. 201 with the reversal; 200 with the same reversal when it was already taken back. "
        "Counts on your statement of the month it is posted.",
        request=PartnerReversalInputSerializer,
        responses={
            201: PartnerReversalSerializer,
            200: PartnerReversalSerializer,
            401: error("No partner key, or one that is wrong or was replaced."),
            404: error("`partner_transaction_not_found`: you have no credit with this reference."),
            409: error("`insufficient_miles`: the member has already spent these miles."),
        },
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = PartnerReversalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.partner_accrual_reverse(
            partner=request.auth, transaction_reference=data.validated_data["transaction_reference"]
        )
        body = PartnerReversalSerializer(result.entry).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
