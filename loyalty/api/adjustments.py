"""Miles adjustments for the back-office: agents ask, supervisors approve or reject what is above the threshold.

- ``POST /loyalty/members/{number}/adjustments/`` (``loyalty.adjust_miles``): posted at once up to the
  programme's threshold (``status: approved``), else ``pending``.
- ``GET /loyalty/adjustments/?status=pending`` (``loyalty.view_adjustment``): pending ones oldest first,
  the others newest first; ``GET /loyalty/adjustments/{id}/``.
- ``POST /loyalty/adjustments/{id}/approve/`` and ``/reject/`` (``loyalty.approve_loyalty``): never by
  the requester (403 ``own_adjustment``), once (409 ``already_decided``).

Each read or decision of one adjustment is recorded in the customer access log.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import services as crm_services
from crm.api_support import FilterBackend, StaffPermission, StandardPagination
from crm.errors import NotFound
from loyalty import selectors, services
from loyalty.models import Adjustment, AdjustmentKind, Decision, Member
from loyalty.services.adjustments import MAX_ADJUSTMENT_MILES, REASON_MAX
from reservations.api.common import StrictSerializer, error

VIEW = ("loyalty.view_member", "loyalty.view_adjustment")
ADJUST = (*VIEW, "loyalty.adjust_miles")
APPROVE = (*VIEW, "loyalty.approve_loyalty")


class AdjustmentSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.number", read_only=True, help_text="The member's frequent flyer number.")
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username",
        read_only=True,
        allow_null=True,
        help_text="Null when posted at once (within the threshold) or still pending.",
    )
    entry = serializers.IntegerField(
        source="entry_id", read_only=True, allow_null=True, help_text="The ledger entry, once posted."
    )

    class Meta:
        model = Adjustment
        fields = (
            "id", "member", "kind", "award_miles", "qualifying_miles", "reason", "status",
            "requested_by", "requested_at", "decided_by", "decided_at", "decision_note", "entry",
        )  # fmt: skip
        read_only_fields = fields


class AdjustmentInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=AdjustmentKind.choices)
    award_miles = serializers.IntegerField(
        min_value=-MAX_ADJUSTMENT_MILES, max_value=MAX_ADJUSTMENT_MILES, help_text="Negative to debit. Not both zero."
    )
    qualifying_miles = serializers.IntegerField(
        min_value=-MAX_ADJUSTMENT_MILES, max_value=MAX_ADJUSTMENT_MILES, required=False, default=0
    )
    reason = serializers.CharField(max_length=REASON_MAX, help_text="Why: shown on the statement as the entry's note.")


class DecisionInputSerializer(StrictSerializer):
    note = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")


class RejectInputSerializer(StrictSerializer):
    note = serializers.CharField(max_length=REASON_MAX, help_text="Why the adjustment is rejected.")


def _record_access(request: Request, adjustment_or_member: Adjustment | Member) -> None:
    member = adjustment_or_member.member if isinstance(adjustment_or_member, Adjustment) else adjustment_or_member
    if member.customer_id is not None:
        match = request.resolver_match
        crm_services.customer_access_record(
            customer=member.customer,
            user=request.user,
            surface="api",
            path=request.path,
            view_name=match.view_name if match else "",
            method=request.method,
        )


NUMBER_PARAM = OpenApiParameter(
    "number", OpenApiTypes.STR, OpenApiParameter.PATH, description="Frequent flyer number (10 digits)."
)
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
# drf-spectacular leaves a filter's validators out of the schema: state the one the filter enforces (400).
MEMBER_FILTER_PARAM = OpenApiParameter(
    "member",
    {"type": "string", "pattern": "^([0-9]{10})?$"},
    OpenApiParameter.QUERY,
    description="Frequent flyer number (10 digits); empty: every member.",
)
INSUFFICIENT = error("A debit would overdraw the member (code `insufficient_miles`); for an approval it stays pending.")


class MemberAdjustmentView(APIView):
    """Ask for an adjustment of one member's miles."""

    permission_classes = [StaffPermission]

    def required_permissions(self) -> tuple[str, ...]:
        return ADJUST

    @extend_schema(
        operation_id="loyalty_member_adjustment_create",
        summary="Adjust a member's miles (goodwill or correction)",
        description="Up to the programme's threshold it is posted at once; above it, it waits for a supervisor.",
        parameters=[NUMBER_PARAM],
        request=AdjustmentInputSerializer,
        responses={
            201: AdjustmentSerializer,
            400: error("See `fields`: no miles changed (`adjustment_empty`), or a kind, number or reason out of bounds."),
            404: error("No member has this frequent flyer number."),
            409: INSUFFICIENT,
        },
    )
    def post(self, request: Request, number: str, **kwargs: Any) -> Response:
        member = selectors.member_get_by_number(number=number)
        data = AdjustmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        adjustment = services.adjustment_request(member=member, by=request.user, **data.validated_data)
        _record_access(request, member)
        return Response(
            AdjustmentSerializer(selectors.adjustment_get(adjustment_id=adjustment.pk)).data, status=status.HTTP_201_CREATED
        )


class AdjustmentFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Decision.choices)
    member = filters.CharFilter(
        field_name="member__number",
        validators=[RegexValidator(r"^[0-9]{10}\Z", message=_("Enter a 10-digit frequent flyer number."))],
        help_text="Frequent flyer number.",
    )

    class Meta:
        model = Adjustment
        fields = ["status", "member"]


@extend_schema_view(
    list=extend_schema(
        summary="Miles adjustments",
        description="`?status=pending` is the approvals queue, oldest first; otherwise newest first.",
        parameters=[MEMBER_FILTER_PARAM],
        responses=AdjustmentSerializer(many=True),
    ),
    retrieve=extend_schema(summary="One miles adjustment", parameters=[ID_PARAM], responses=AdjustmentSerializer),
)
class AdjustmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [StaffPermission]
    serializer_class = AdjustmentSerializer
    queryset = Adjustment.objects.none()
    pagination_class = StandardPagination
    filter_backends = [FilterBackend]
    filterset_class = AdjustmentFilter
    lookup_value_regex = "[0-9]+"
    permissions_by_action = {None: VIEW, "list": VIEW, "retrieve": VIEW, "approve": APPROVE, "reject": APPROVE}

    def get_queryset(self) -> QuerySet[Adjustment]:
        if self.request.query_params.get("status") == Decision.PENDING:
            return selectors.adjustments_pending()
        return selectors.adjustments_list().order_by("-requested_at", "-pk")

    def get_object(self) -> Adjustment:
        try:
            return selectors.adjustment_get(adjustment_id=int(self.kwargs["pk"]))
        except (NotFound, ValueError):
            raise NotFound("No such adjustment.", code="adjustment_not_found") from None

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        adjustment = self.get_object()
        _record_access(request, adjustment)
        return Response(AdjustmentSerializer(adjustment).data)

    @extend_schema(
        summary="Approve a pending adjustment (posts it)",
        parameters=[ID_PARAM],
        request=DecisionInputSerializer,
        responses={200: AdjustmentSerializer, 409: error("Already decided (`already_decided`) or `insufficient_miles`.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        adjustment = self.get_object()
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.adjustment_approve(adjustment=adjustment, by=request.user, note=data.validated_data["note"])
        _record_access(request, adjustment)
        return Response(AdjustmentSerializer(self.get_object()).data)

    @extend_schema(
        summary="Reject a pending adjustment, saying why",
        parameters=[ID_PARAM],
        request=RejectInputSerializer,
        responses={200: AdjustmentSerializer, 409: error("Already decided (`already_decided`).")},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request: Request, pk: str, **kwargs: Any) -> Response:
        adjustment = self.get_object()
        data = RejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.adjustment_reject(adjustment=adjustment, by=request.user, note=data.validated_data["note"])
        _record_access(request, adjustment)
        return Response(AdjustmentSerializer(self.get_object()).data)


def register(router) -> list:  # noqa: ANN001
    from django.urls import re_path

    router.register("loyalty/adjustments", AdjustmentViewSet, basename="loyalty-adjustment")
    return [
        re_path(
            r"^loyalty/members/(?P<number>[0-9]{10})/adjustments/$",
            MemberAdjustmentView.as_view(),
            name="api-loyalty-member-adjustments",
        )
    ]
