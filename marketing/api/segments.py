"""Marketing API, registered on the shared /api/v1/ router: ``/api/v1/marketing/segments/``.

Staff with ``marketing.view_segment`` list, read and preview segments; ``add_segment`` creates and
``change_segment`` replaces one. A bad rule answers 400 in the project's error shape with the rule's
path as the field (``rules.all.2.value``). Passengers get 403 on the collection and 404 on a segment.
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
from marketing import selectors, services
from marketing.models import MarketingChannel, Segment

SEE = ("marketing.view_segment",)
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
RULES_HELP = (
    'A tree: {"all": [...]} or {"any": [...]} of conditions {"attribute": key, "lookup": "gte", "value": ..., '
    '"params": {...}}, nested groups, or {"list": <static list id>}. Attributes and their lookups: the customer '
    "attributes registry (crm.registry.LOOKUPS per type)."
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class MarketingSegmentSerializer(serializers.ModelSerializer):
    rules = serializers.JSONField(help_text=RULES_HELP)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "consent_channel",
            "rules",
            "last_count",
            "counted_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MarketingSegmentInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    consent_channel = serializers.ChoiceField(choices=MarketingChannel.choices, required=False, default=MarketingChannel.EMAIL)
    rules = serializers.JSONField(help_text=RULES_HELP)


class SegmentPreviewInputSerializer(StrictInputSerializer):
    consent_channel = serializers.ChoiceField(choices=MarketingChannel.choices, required=False, default=MarketingChannel.EMAIL)
    rules = serializers.JSONField(help_text=RULES_HELP)


class SegmentPreviewCustomerSerializer(serializers.Serializer):
    customer_number = serializers.CharField()
    name = serializers.CharField(source="full_name")


class SegmentPreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Customers the rules reach now (consent and erasure applied).")
    sample = SegmentPreviewCustomerSerializer(many=True, help_text="The first ten, by name.")


BAD_RULES = _error(
    "See `fields`: the path of the refused rule (`rules.all.2.value`) and why (`invalid_rules`, `unknown_attribute`)."
)


@extend_schema_view(
    list=extend_schema(summary="Segments, by name", responses=MarketingSegmentSerializer(many=True)),
    retrieve=extend_schema(summary="Read a segment", parameters=[ID_PARAM], responses=MarketingSegmentSerializer),
    create=extend_schema(
        summary="Create a segment", request=MarketingSegmentInputSerializer,
        responses={201: MarketingSegmentSerializer, 400: BAD_RULES},
    ),
    update=extend_schema(
        summary="Replace a segment's name, channel and rules", parameters=[ID_PARAM], request=MarketingSegmentInputSerializer,
        responses={200: MarketingSegmentSerializer, 400: BAD_RULES},
    ),
)  # fmt: skip
class SegmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Segments: rule trees over the customer attributes, with consent applied."""

    queryset = Segment.objects.none()
    serializer_class = MarketingSegmentSerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    http_method_names = ["get", "post", "put", "head", "options"]
    permissions_by_action = {
        None: SEE,
        "list": SEE,
        "retrieve": SEE,
        "preview": SEE,
        "create": (*SEE, "marketing.add_segment"),
        "update": (*SEE, "marketing.change_segment"),
    }

    def get_queryset(self):  # noqa: ANN201
        return selectors.segments()

    def get_object(self) -> Segment:
        raw = str(self.kwargs["pk"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise exceptions.NotFound()
        segment = selectors.segment_get(segment_id=int(raw))
        self.check_object_permissions(self.request, segment)
        return segment

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(MarketingSegmentSerializer(self.get_object()).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = MarketingSegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_create(**data.validated_data, by=request.user)
        return Response(
            MarketingSegmentSerializer(selectors.segment_get(segment_id=segment.pk)).data, status=status.HTTP_201_CREATED
        )

    def update(self, request: Request, pk: str, **kwargs: Any) -> Response:
        segment = self.get_object()
        data = MarketingSegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.segment_update(segment=segment, **data.validated_data)
        return Response(MarketingSegmentSerializer(selectors.segment_get(segment_id=segment.pk)).data)

    @extend_schema(
        summary="Count the customers some rules reach now, with the first ten (nothing is saved)",
        request=SegmentPreviewInputSerializer,
        responses={200: SegmentPreviewSerializer, 400: BAD_RULES},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request, **kwargs: Any) -> Response:
        data = SegmentPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = services.segment_preview(rules=data.validated_data["rules"], channel=data.validated_data["consent_channel"])
        return Response(SegmentPreviewSerializer({"count": preview.count, "sample": preview.sample}).data)


def register(router) -> list:  # noqa: ANN001
    router.register("marketing/segments", SegmentViewSet, basename="marketing-segment")
    return []
