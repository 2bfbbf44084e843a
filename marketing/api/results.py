"""``GET /api/v1/marketing/campaign-results/{id}/``: a campaign's results, for Marketers and Analysts.

Money is a decimal string with its currency; rates and the uplift are proportions between 0 and 1 (null
when there is nothing to divide by).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api_support import ErrorResponseSerializer, StaffPermission
from marketing import selectors, services
from marketing.models import Campaign
from marketing.services.results import CampaignResults, Figures, Uplift

SEE = ("marketing.view_campaign",)


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


class FiguresSerializer(serializers.Serializer):
    audience = serializers.IntegerField(help_text="Every delivery, held-out ones included (for a variant: not held out).")
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField(help_text="Sent less bounced.")
    bounced = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField(), help_text="Skip reason code → count.")
    holdout = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    holdout_converted = serializers.IntegerField()
    open_rate = serializers.FloatField(allow_null=True, help_text="Opened ÷ delivered.")
    click_rate = serializers.FloatField(allow_null=True, help_text="Clicked ÷ delivered.")
    conversion_rate = serializers.FloatField(allow_null=True, help_text="Converted ÷ sent.")
    revenue = MoneySerializer(many=True, help_text="Of the sent deliveries that converted, one line per currency.")
    holdout_revenue = MoneySerializer(many=True)


class UpliftSerializer(serializers.Serializer):
    treated = serializers.IntegerField()
    treated_converted = serializers.IntegerField()
    control = serializers.IntegerField()
    control_converted = serializers.IntegerField()
    treated_rate = serializers.FloatField()
    control_rate = serializers.FloatField()
    difference = serializers.FloatField(help_text="Treated rate − control rate.")
    standard_error = serializers.FloatField()
    low = serializers.FloatField(help_text="95% confidence interval (Wald), lower end.")
    high = serializers.FloatField(help_text="95% confidence interval (Wald), upper end.")
    significant = serializers.BooleanField(help_text="The interval leaves out zero.")


class DaySerializer(serializers.Serializer):
    day = serializers.DateField()
    sends = serializers.IntegerField()
    opens = serializers.IntegerField()
    clicks = serializers.IntegerField()
    conversions = serializers.IntegerField()


class VariantSerializer(FiguresSerializer):
    variant = serializers.CharField()
    uplift = UpliftSerializer(allow_null=True)


class CampaignResultsSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField(source="campaign.pk")
    name = serializers.CharField(source="campaign.name")
    status = serializers.CharField(source="campaign.status")
    totals = FiguresSerializer()
    variants = serializers.SerializerMethodField()
    uplift = UpliftSerializer(allow_null=True)
    cost = MoneySerializer()
    roi = serializers.DecimalField(
        max_digits=14, decimal_places=4, allow_null=True,
        help_text="(revenue − cost) ÷ cost; null when nothing was spent or the revenue is in another currency.",
    )  # fmt: skip
    daily = DaySerializer(many=True)

    @extend_schema_field(VariantSerializer(many=True))
    def get_variants(self, results: CampaignResults) -> list[dict[str, Any]]:
        uplifts = results.variant_uplifts
        return [VariantSerializer(_variant(name, f, uplifts[name])).data for name, f in results.variants.items()]


def _variant(name: str, figures: Figures, uplift: Uplift | None) -> dict[str, Any]:
    return {**{attr: getattr(figures, attr) for attr in FiguresSerializer().fields}, "variant": name, "uplift": uplift}


@extend_schema_view(
    retrieve=extend_schema(
        summary="A campaign's results: funnel, A/B variants, uplift over the holdout, cost, ROI, daily series",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: CampaignResultsSerializer,
            403: OpenApiResponse(ErrorResponseSerializer, description="Not a Marketer or Analyst."),
            404: OpenApiResponse(ErrorResponseSerializer, description="No such campaign."),
        },
    ),
)
class CampaignResultsViewSet(viewsets.GenericViewSet):
    """Campaign results, read-only."""

    queryset = Campaign.objects.none()
    serializer_class = CampaignResultsSerializer
    permission_classes = [StaffPermission]
    permissions_by_action = {None: SEE, "retrieve": SEE}

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        raw = str(pk)
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise exceptions.NotFound()
        campaign = selectors.campaign_for_results(campaign_id=int(raw))
        return Response(CampaignResultsSerializer(services.campaign_results(campaign=campaign)).data)


def register(router) -> list:  # noqa: ANN001
    router.register("marketing/campaign-results", CampaignResultsViewSet, basename="marketing-campaign-result")
    return []
