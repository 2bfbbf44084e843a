"""marketing API endpoints, registered on the shared /api/v1/ router.

``/api/v1/marketing/offers/``: Marketers list and create offers; ``POST .../offers/{id}/codes/``
issues codes (to customers by customer number, or a number of codes for anyone).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import StrictInputSerializer
from crm.api_support import ErrorResponseSerializer, StaffPermission, StandardPagination
from crm.models import Cabin, Customer
from marketing import selectors, services
from marketing.models import ISSUE_MAX, Offer, OfferKind, PromoCode

# --- Offers and promo codes -----------------------------------------------------------------------

SEE = ("marketing.view_offer",)
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class MarketingOfferSerializer(serializers.ModelSerializer):
    codes_issued = serializers.IntegerField(read_only=True)
    codes_redeemed = serializers.IntegerField(read_only=True)

    class Meta:
        model = Offer
        fields = [
            "id", "name", "description", "kind", "value", "currency", "minimum_spend", "valid_from", "valid_until",
            "origins", "destinations", "routes", "cabins", "is_partner_offer", "partner_name", "partner_url",
            "created_at", "codes_issued", "codes_redeemed",
        ]  # fmt: skip
        read_only_fields = fields


class MarketingOfferInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=OfferKind.choices)
    value = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Percent off, amount off in `currency`, or whole bonus miles."
    )
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    minimum_spend = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, default=0)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    origins = serializers.ListField(child=serializers.CharField(max_length=3), required=False, default=list, max_length=50)
    destinations = serializers.ListField(child=serializers.CharField(max_length=3), required=False, default=list, max_length=50)
    routes = serializers.ListField(
        child=serializers.CharField(max_length=7), required=False, default=list, max_length=200,
        help_text='Airport pairs, e.g. `["LHR-JFK"]`; empty for every route.',
    )  # fmt: skip
    cabins = serializers.ListField(child=serializers.ChoiceField(choices=Cabin.choices), required=False, default=list)
    is_partner_offer = serializers.BooleanField(required=False, default=False)
    partner_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    partner_url = serializers.URLField(required=False, allow_blank=True, default="")


class PromoCodesIssueSerializer(StrictInputSerializer):
    count = serializers.IntegerField(required=False, min_value=1, max_value=ISSUE_MAX, help_text="Codes for anyone who has them.")
    customer_numbers = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=ISSUE_MAX,
        help_text="One code per customer; a customer who already has one gets the same code back.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("count" in attrs) == ("customer_numbers" in attrs):
            raise serializers.ValidationError("Send either `count` or `customer_numbers`.")
        return attrs


class PromoCodeSerializer(serializers.ModelSerializer):
    customer_number = serializers.CharField(source="customer.customer_number", read_only=True, default=None)

    class Meta:
        model = PromoCode
        fields = ["code", "customer_number", "status", "issued_at", "redeemed_record_locator", "redeemed_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Offers, newest first", responses=MarketingOfferSerializer(many=True)),
    retrieve=extend_schema(summary="Read an offer", parameters=[ID_PARAM], responses=MarketingOfferSerializer),
    create=extend_schema(
        summary="Create an offer",
        request=MarketingOfferInputSerializer,
        responses={201: MarketingOfferSerializer, 400: _error("`invalid_offer` or `invalid`: see `fields`.")},
    ),
    codes=extend_schema(
        summary="Issue promo codes for an offer",
        parameters=[ID_PARAM],
        request=PromoCodesIssueSerializer,
        responses={
            201: PromoCodeSerializer(many=True),
            400: _error("`invalid` or `invalid_issue`: see `fields`; unknown customer numbers under `customer_numbers`."),
            404: _error("No such offer."),
        },
    ),
)
class OfferViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Offers and their promo codes, for Marketers."""

    queryset = Offer.objects.none()
    serializer_class = MarketingOfferSerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    permissions_by_action = {
        None: SEE,
        "list": SEE,
        "retrieve": SEE,
        "create": (*SEE, "marketing.add_offer"),
        "codes": (*SEE, "marketing.add_promocode"),
    }

    def get_queryset(self):  # noqa: ANN201
        return selectors.offers()

    def get_object(self) -> Offer:
        raw = str(self.kwargs["pk"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise exceptions.NotFound()
        return selectors.offer_get(offer_id=int(raw))

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(MarketingOfferSerializer(self.get_object()).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = MarketingOfferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        offer = services.offer_create(**data.validated_data, by=request.user)
        return Response(MarketingOfferSerializer(selectors.offer_get(offer_id=offer.pk)).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="codes")
    def codes(self, request: Request, pk: str, **kwargs: Any) -> Response:
        offer = self.get_object()
        data = PromoCodesIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        numbers = data.validated_data.get("customer_numbers")
        if numbers is None:
            issued = services.promo_codes_issue(offer=offer, count=data.validated_data["count"])
        else:
            customers = list(Customer.objects.filter(customer_number__in=set(numbers)))
            unknown = sorted(set(numbers) - {c.customer_number for c in customers})
            if unknown:
                raise exceptions.ValidationError({"customer_numbers": [f"No customer has the number {n}." for n in unknown]})
            issued = services.promo_codes_issue(offer=offer, customers=customers)
        codes = PromoCode.objects.filter(pk__in=[c.pk for c in issued]).select_related("customer").order_by("pk")
        return Response(PromoCodeSerializer(codes, many=True).data, status=status.HTTP_201_CREATED)


def register(router) -> list:  # noqa: ANN001
    router.register("marketing/offers", OfferViewSet, basename="marketing-offer")
    return []
