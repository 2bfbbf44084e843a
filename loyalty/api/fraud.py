"""Fraud review for the back-office's systems, with the office queue's permissions.

- ``GET /loyalty/fraud-flags/`` (``loyalty.view_fraudflag``): ``?status=open`` is the review queue,
  oldest first as at the office; reviewed flags newest reviewed first; with no status, every flag,
  newest raised first.
- ``POST /loyalty/fraud-flags/{id}/review/`` (and ``loyalty.change_fraudflag``): clear the flag or confirm
  the fraud, saying why; once (409 ``already_reviewed``). Through ``services.fraud_flag_review``, as the
  office's review, so the customer's timeline records it the same way.

Passengers get 403 on the list and 404 on a flag.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api_support import FilterBackend, StaffPermission, StandardPagination
from crm.errors import NotFound
from loyalty import selectors, services
from loyalty.models import FraudFlag, ReviewStatus
from loyalty.services.fraud import REVIEW_DECISIONS
from reservations.api.common import StrictSerializer, error

SEE = ("loyalty.view_fraudflag",)
REVIEW = (*SEE, "loyalty.change_fraudflag")
NOTE_MAX = FraudFlag._meta.get_field("review_note").max_length  # 300, as the office form takes
DECISIONS = [(decision.value, decision.label) for decision in REVIEW_DECISIONS]
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


class FraudFlagSerializer(serializers.ModelSerializer):
    member_number = serializers.CharField(source="member.number", read_only=True, help_text="Frequent flyer number.")
    customer_number = serializers.CharField(
        source="member.customer.customer_number", read_only=True, allow_null=True, default=None
    )
    details = serializers.DictField(
        read_only=True,
        help_text="The figures behind the signal: for `third_party_after_login_change` the booking (`record_locator`), "
        "the change (`login_change`, `login_changed_at`, `hours_after_change`) and `travellers`; for "
        "`partner_velocity` the `partner`, `miles_24h`, its `alert` level and the `day`.",
    )
    reviewed_by = serializers.CharField(
        source="reviewed_by.username", read_only=True, allow_null=True, default=None, help_text="Null while open."
    )

    class Meta:
        model = FraudFlag
        fields = (
            "id", "member_number", "customer_number", "signal", "details", "created_at", "status", "reviewed_by",
            "reviewed_at", "review_note",
        )  # fmt: skip
        read_only_fields = fields


class FraudReviewInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=DECISIONS, help_text="`cleared`: not fraud; `confirmed`: fraud.")
    note = serializers.CharField(max_length=NOTE_MAX, help_text="Why, for whoever looks at this member next.")


class FraudFlagFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ReviewStatus.choices, help_text="`open` is the review queue, oldest first.")

    class Meta:
        model = FraudFlag
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(
        summary="Fraud flags",
        description="`?status=open` is the review queue, oldest first (as at the office); reviewed flags come newest "
        "reviewed first; with no status, every flag, newest raised first. Needs `loyalty.view_fraudflag`.",
        responses=FraudFlagSerializer(many=True),
    ),
)
class FraudFlagViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Signs of fraud waiting for (or past) a supervisor's review."""

    permission_classes = [StaffPermission]
    serializer_class = FraudFlagSerializer
    queryset = FraudFlag.objects.none()
    pagination_class = StandardPagination
    filter_backends = [FilterBackend]
    filterset_class = FraudFlagFilter
    lookup_value_regex = "[0-9]+"
    permissions_by_action = {None: SEE, "list": SEE, "review": REVIEW}

    def get_queryset(self) -> QuerySet[FraudFlag]:
        status = self.request.query_params.get("status")
        return selectors.fraud_flags(status=status if status in ReviewStatus.values else None)

    def get_object(self) -> FraudFlag:
        raw = str(self.kwargs["pk"])
        if len(raw) > 18:  # past any id: not worth a query (nor a bigint overflow)
            raise NotFound(_("No such fraud flag."), code="not_found")
        return selectors.fraud_flag_get(flag_id=int(raw))

    @extend_schema(
        summary="Review a flag: clear it or confirm the fraud, saying why",
        description="As the office's review: noted on the customer's timeline. Needs `loyalty.change_fraudflag`.",
        parameters=[ID_PARAM],
        request=FraudReviewInputSerializer,
        responses={
            200: FraudFlagSerializer,
            400: error("`invalid`: a decision other than `cleared` or `confirmed`, or no note (see `fields`)."),
            404: error("No such fraud flag."),
            409: error("`already_reviewed`: the flag was reviewed before."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def review(self, request: Request, pk: str, **kwargs: Any) -> Response:
        flag = self.get_object()
        data = FraudReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reviewed = services.fraud_flag_review(flag=flag, by=request.user, **data.validated_data)
        return Response(FraudFlagSerializer(reviewed).data)


def register(router) -> list:  # noqa: ANN001
    router.register("loyalty/fraud-flags", FraudFlagViewSet, basename="loyalty-fraud-flag")
    return []
