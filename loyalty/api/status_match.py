"""Status match API: ``/api/v1/loyalty/status-matches/`` for the back-office's systems.

Staff with ``loyalty.view_statusmatch`` list and read requests; ``loyalty.add_statusmatch`` asks for
one; ``loyalty.approve_loyalty`` approves or rejects, never their own request. Passengers get 403 on
the list and 404 on any request.
"""

from __future__ import annotations

from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import services as crm_services
from crm.api import StrictInputSerializer
from crm.api_support import ErrorResponseSerializer, FilterBackend, StaffPermission, StandardPagination
from crm.errors import NotFound
from crm.validation import validate_single_line_text
from loyalty import numbers, selectors, services
from loyalty.models import Decision, StatusMatch, Tier

SEE = ("loyalty.view_statusmatch",)
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class StatusMatchSerializer(serializers.ModelSerializer):
    member_number = serializers.CharField(source="member.number", read_only=True)
    customer_number = serializers.CharField(
        source="member.customer.customer_number", read_only=True, allow_null=True, default=None
    )
    current_tier = serializers.CharField(source="member.tier.code", read_only=True, help_text="The member's tier now.")
    tier = serializers.CharField(source="tier.code", read_only=True, help_text="The tier asked for.")
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = StatusMatch
        fields = [
            "id", "member_number", "customer_number", "current_tier", "tier", "competitor_airline", "competitor_tier",
            "competitor_number", "competitor_valid_until", "note", "status", "requested_by", "requested_at",
            "decided_by", "decided_at",
        ]  # fmt: skip
        read_only_fields = fields


class StatusMatchInputSerializer(StrictInputSerializer):
    member_number = serializers.CharField(max_length=20, help_text="The member's 10-digit frequent flyer number.")
    tier = serializers.SlugRelatedField(slug_field="code", queryset=Tier.objects.all(), help_text="Code of the tier asked for.")
    competitor_airline = serializers.CharField(max_length=60, validators=[validate_single_line_text])
    competitor_tier = serializers.CharField(max_length=40, validators=[validate_single_line_text])
    competitor_number = serializers.CharField(max_length=30, validators=[validate_single_line_text])
    competitor_valid_until = serializers.DateField(help_text="Only a card still valid today can be matched.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate_member_number(self, value: str) -> str:
        cleaned = numbers.clean(value)
        if not numbers.is_valid(cleaned):
            raise serializers.ValidationError("This is not a valid frequent flyer number.")
        return cleaned


class StatusMatchFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Decision.choices)

    class Meta:
        model = StatusMatch
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(summary="Status match requests, oldest first", responses=StatusMatchSerializer(many=True)),
    retrieve=extend_schema(summary="Read a status match request", parameters=[ID_PARAM], responses=StatusMatchSerializer),
    create=extend_schema(
        summary="Ask for a tier on the strength of another airline's card",
        request=StatusMatchInputSerializer,
        responses={
            201: StatusMatchSerializer,
            400: _error(
                "See `fields`: a member number with a wrong check digit or of no member, a tier we do not have or not "
                "above the member's (`tier_not_higher`), a card no longer valid (`card_expired`)."
            ),
            409: _error(
                "A request for this member is already waiting (code `status_match_pending`), or the membership is closed."
            ),
        },
    ),
)
class StatusMatchViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Status match: an agent asks, a supervisor (not the same person) decides."""

    queryset = StatusMatch.objects.none()
    serializer_class = StatusMatchSerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    filter_backends = [FilterBackend]
    filterset_class = StatusMatchFilter
    permissions_by_action = {
        None: SEE,
        "list": SEE,
        "retrieve": SEE,
        "create": (*SEE, "loyalty.view_member", "loyalty.add_statusmatch"),
        "approve": (*SEE, "loyalty.approve_loyalty"),
        "reject": (*SEE, "loyalty.approve_loyalty"),
    }

    def get_queryset(self):  # noqa: ANN201
        return selectors.status_matches()

    def get_object(self) -> StatusMatch:
        raw = str(self.kwargs["pk"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise exceptions.NotFound()
        match = selectors.status_match_get(status_match_id=int(raw))
        self.check_object_permissions(self.request, match)
        return match

    def _audit(self, request: Request, match: StatusMatch) -> None:
        if match.member.customer_id is not None:
            crm_services.customer_access_record(
                customer=match.member.customer, user=request.user, surface="api", path=request.path,
                view_name=f"loyalty-status-match-{self.action}", method=request.method,
            )  # fmt: skip

    def _answer(self, match: StatusMatch, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.status_match_get(status_match_id=match.pk)
        return Response(StatusMatchSerializer(fresh).data, status=status_code)

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        match = self.get_object()
        self._audit(request, match)
        return Response(StatusMatchSerializer(match).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = StatusMatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        try:
            member = selectors.member_get_by_number(number=values.pop("member_number"))
        except NotFound:
            raise exceptions.ValidationError({"member_number": ["No member has this frequent flyer number."]}) from None
        match = services.status_match_request(member=member, by=request.user, **values)
        self._audit(request, match)
        return self._answer(match, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve: grant the tier until the end of the next qualification period",
        description="Never lowers the member's tier. Not by the person who asked (403 `own_request`).",
        parameters=[ID_PARAM],
        request=None,
        responses={
            200: StatusMatchSerializer,
            409: _error("Already decided (`already_decided`), or the competitor's card has expired since (`card_expired`)."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        match = self.get_object()
        self._audit(request, match)
        return self._answer(services.status_match_approve(status_match=match, by=request.user))

    @extend_schema(
        summary="Reject: close the request without changing the member's tier",
        description="Not by the person who asked (403 `own_request`).",
        parameters=[ID_PARAM],
        request=None,
        responses={200: StatusMatchSerializer, 409: _error("Already decided (`already_decided`).")},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request: Request, pk: str, **kwargs: Any) -> Response:
        match = self.get_object()
        self._audit(request, match)
        return self._answer(services.status_match_reject(status_match=match, by=request.user))


def register(router) -> list:  # noqa: ANN001
    router.register("loyalty/status-matches", StatusMatchViewSet, basename="loyalty-status-match")
    return []
