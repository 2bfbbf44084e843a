"""``GET /api/v1/loyalty/liability/``: what the miles members hold are worth to finance."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api_support import StaffPermission
from loyalty import selectors

SEE_LIABILITY = ("loyalty.view_programme", "loyalty.view_liability")
MONEY = {"max_digits": 16, "decimal_places": 2}


class TierLiabilitySerializer(serializers.Serializer):
    tier = serializers.CharField(source="tier.code", help_text="Tier code.")
    tier_name = serializers.CharField(source="tier.name")
    members = serializers.IntegerField(help_text="Active members of this tier holding award miles.")
    miles = serializers.IntegerField(help_text="Their outstanding award miles.")
    gross = serializers.DecimalField(**MONEY, help_text="Miles × value per mile.")
    breakage = serializers.DecimalField(**MONEY, help_text="The share expected never to be redeemed.")
    net = serializers.DecimalField(**MONEY, help_text="Gross less breakage: the liability to book.")


class BreakageHistorySerializer(serializers.Serializer):
    months = serializers.IntegerField(help_text="The trailing window looked at, in months.")
    expired_miles = serializers.IntegerField(source="expired", help_text="Award miles that expired in it.")
    redeemed_miles = serializers.IntegerField(
        source="redeemed", help_text="Award miles redeemed in it (award tickets, upgrades, household pooling), less refunds."
    )
    minimum_miles = serializers.IntegerField(
        source="minimum", help_text="Miles that must have expired or been redeemed for the history to be used."
    )
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="Expired ÷ (expired + redeemed), in %; 0 without history."
    )


class LiabilitySerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    currency = serializers.CharField(help_text="ISO 4217 currency of every amount.")
    value_per_mile = serializers.DecimalField(max_digits=8, decimal_places=5)
    breakage_percent = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="The breakage rate applied, in %.")
    breakage_basis = serializers.ChoiceField(
        choices=[("history", "history"), ("programme", "programme")],
        help_text="`history`: the share of miles that expired rather than being redeemed over the trailing window, "
        "used once enough miles left the ledger; `programme`: the programme's configured percentage.",
    )
    configured_breakage_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="The programme's configured breakage, in % (the fallback)."
    )
    breakage_history = BreakageHistorySerializer(source="history")
    members = serializers.IntegerField()
    miles = serializers.IntegerField()
    gross = serializers.DecimalField(**MONEY)
    breakage = serializers.DecimalField(**MONEY)
    net = serializers.DecimalField(**MONEY)
    tiers = TierLiabilitySerializer(many=True)


class LiabilityView(APIView):
    """Staff holding ``loyalty.view_programme`` and ``loyalty.view_liability`` (Analysts, Supervisors)."""

    permission_classes = [StaffPermission]
    permissions_by_action = {None: SEE_LIABILITY}

    @extend_schema(
        operation_id="loyalty_liability_retrieve",
        summary="Miles liability",
        description="Outstanding award miles of active members, by tier, valued at the programme's value per mile, "
        "with the expected breakage and the net liability. Breakage is estimated from the last 24 months' expired and "
        "redeemed miles when enough left the ledger, the programme's configured percentage otherwise "
        "(`breakage_basis` says which). Needs `loyalty.view_programme` and `loyalty.view_liability`.",
        responses={200: LiabilitySerializer},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(LiabilitySerializer(selectors.liability()).data)
