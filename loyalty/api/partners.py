"""``POST /api/v1/loyalty/partner-accruals/``: a partner credits miles its customer earned.

Authenticated with the partner's own key, never a login's token. The partner's transaction reference
makes the call safe to retry: the same reference again answers 200 with the first credit; with other
miles or another member, 409. ``POST /api/v1/loyalty/partner-reversals/`` takes a credit back (a
cancelled stay), once. ``GET /api/v1/loyalty/partner-statements/{month}/`` is the partner's own clearing
statement for a month, as the office draws it (``selectors.partner_statement``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api_support import StandardPagination
from crm.errors import NotFound
from crm.validation import validate_single_line_text
from loyalty import selectors, services
from loyalty.authentication import IsPartner, PartnerKeyAuthentication, PartnerRateThrottle
from loyalty.models import EntryKind, MilesEntry
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


# --- The month's clearing statement ----------------------------------------------------------------------

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"  # the schema's; [0-9], not \d, which takes any script's digits
_MONTH = re.compile(MONTH_PATTERN.replace("$", r"\Z"))
ISSUED, REVERSED = "issued", "reversed"
ENTRY_KINDS = [(ISSUED, "Miles issued (a credit)"), (REVERSED, "Miles taken back (a reversal)")]
MONEY = {"max_digits": 16, "decimal_places": 2}


def _statement_month(text: str) -> date:
    """The first day of the month written ``YYYY-MM`` (400 otherwise); a month not begun yet has no statement (404)."""
    if not _MONTH.match(text):
        message = _("Write the month as YYYY-MM, e.g. 2026-03.")
        raise exceptions.ValidationError({"month": [message]})
    first = date(int(text[:4]), int(text[5:]), 1)
    if first > timezone.localdate().replace(day=1):
        raise NotFound(_("There is no statement for a month that has not begun."), code="statement_not_found")
    return first


def _entry_data(entry: MilesEntry) -> dict[str, Any]:
    details = selectors.partner_entry_details(entry)
    return {
        "id": entry.pk,
        "kind": REVERSED if entry.kind == EntryKind.REVERSAL else ISSUED,
        "member_number": entry.member.number,
        "transaction_reference": details.get("reference", ""),
        "miles": entry.award_miles,
        "posted_at": entry.created_at,
        "occurred_on": details.get("occurred_on"),
        "description": details.get("description", ""),
        "reverses": entry.reverses_id,
    }


def _statement_data(statement: selectors.PartnerStatement) -> dict[str, Any]:
    totals = statement.totals
    return {
        "partner": statement.partner.code,
        "month": f"{statement.month:%Y-%m}",
        "totals": {
            "transactions": totals.transactions, "issued": totals.issued, "reversed": totals.reversed, "net": totals.net,
            "price_per_mile": totals.price_per_mile, "amount_due": totals.amount, "currency": totals.currency,
        },
    }  # fmt: skip


class PartnerStatementEntrySerializer(serializers.Serializer):
    """One credit or reversal on the statement (the office's CSV has the same columns)."""

    id = serializers.IntegerField(help_text="The ledger entry: for a credit, the `id` its accrual answered.")
    kind = serializers.ChoiceField(choices=ENTRY_KINDS, help_text="`issued`: a credit; `reversed`: a credit taken back.")
    member_number = serializers.CharField(help_text="The frequent flyer number the credit was made to.")
    transaction_reference = serializers.CharField(
        help_text="Your reference for the credit; for a reversal, the reference of the credit it takes back."
    )
    miles = serializers.IntegerField(help_text="Negative for a reversal.")
    posted_at = serializers.DateTimeField(help_text="When it was posted: this decides the month it counts in.")
    occurred_on = serializers.DateField(allow_null=True, help_text="The stay or rental's date, as you sent it.")
    description = serializers.CharField(allow_blank=True, help_text="As you sent it with the credit.")
    reverses = serializers.IntegerField(
        allow_null=True,
        help_text="For a reversal, the `id` of the credit it takes back (posted in this month or an earlier one).",
    )


class PartnerStatementTotalsSerializer(serializers.Serializer):
    transactions = serializers.IntegerField(help_text="Credits posted in the month.")
    issued = serializers.IntegerField(help_text="Miles credited in the month.")
    reversed = serializers.IntegerField(help_text="Miles taken back in the month (a positive number), whenever credited.")
    net = serializers.IntegerField(help_text="Issued less reversed.")
    price_per_mile = serializers.DecimalField(max_digits=8, decimal_places=5)
    amount_due = serializers.DecimalField(**MONEY, help_text="Net miles at the price per mile; negative: owed to you.")
    currency = serializers.CharField(help_text="ISO 4217 currency of the amounts.")


class PartnerStatementSerializer(serializers.Serializer):
    """The month's totals, and one page of its entries, oldest first, paginated as every list of the API."""

    partner = serializers.CharField(help_text="Your partner code.")
    month = serializers.CharField(help_text="YYYY-MM.")
    totals = PartnerStatementTotalsSerializer()
    count = serializers.IntegerField(help_text="Entries in the month.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PartnerStatementEntrySerializer(many=True)


MONTH_PARAM = OpenApiParameter(
    "month",
    {"type": "string", "pattern": MONTH_PATTERN},
    OpenApiParameter.PATH,
    description="The month, `YYYY-MM` (2000-01 to this month; the current month is still running).",
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="A page of entries, from 1; past the last page, 404."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Entries per page: 25 unless given, at most 200."),
]


class PartnerStatementView(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [IsPartner]
    throttle_classes = [PartnerRateThrottle]

    @extend_schema(
        operation_id="loyalty_partner_statement_retrieve",
        summary="Your monthly clearing statement (partners)",
        description="For partners, with their key. The month's totals (miles issued less miles reversed, at your price "
        "per mile: the amount due) and its entries, oldest first. An entry counts in the month it was posted: a "
        "credit reversed later is taken off the month of the reversal, so a month already settled never changes. "
        "Only your own credits and reversals.",
        parameters=[MONTH_PARAM, *PAGE_PARAMETERS],
        responses={
            200: PartnerStatementSerializer,
            400: error("`invalid`: the month is not written `YYYY-MM` (`fields.month`), or a page is not a whole number."),
            401: error("No partner key, or one that is wrong or was replaced (a login's token is not a partner key)."),
            404: error("`statement_not_found`: the month has not begun yet; or a page past the last."),
        },
    )
    def get(self, request: Request, month: str, **kwargs: Any) -> Response:
        statement = selectors.partner_statement(partner=request.auth, month=_statement_month(month))
        paginator = StandardPagination()
        page = paginator.paginate_queryset(statement.entries, request, view=self)
        body = {**_statement_data(statement), **paginator.get_paginated_response([_entry_data(e) for e in page]).data}
        return Response(PartnerStatementSerializer(body).data)
