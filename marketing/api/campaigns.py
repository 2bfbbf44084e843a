"""Marketing API, registered on the shared /api/v1/ router: ``/api/v1/marketing/campaigns/``.

Marketers create, edit (a draft or paused campaign), delete (a draft), schedule, pause, resume and complete
campaigns, approve or reject a colleague's large one, preview one and send themselves a test. Analysts read.
Every refusal answers 400 (403 for a right the caller lacks) in the project's error shape; passengers get 403
on the collection and 404 on a campaign.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import StrictInputSerializer
from crm.api_support import ErrorResponseSerializer, FilterBackend, StaffPermission, StandardPagination
from crm.models import Customer
from marketing import selectors, services
from marketing.models import (
    Campaign,
    CampaignKind,
    CampaignRepeat,
    CampaignStatus,
    CampaignTrigger,
    MarketingChannel,
    Offer,
    Segment,
)

SEE = ("marketing.view_campaign",)
CHANGE = (*SEE, "marketing.change_campaign")
APPROVE = (*SEE, "marketing.approve_campaign")
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
MAX_ID = 2**31 - 1
TEMPLATE_HELP = "A template: `{{ name }}`, `{{ family_name }}`, `{{ tier }}`, `{{ miles }}`, `{{ offer_code }}`..."
LANGUAGES = [("en", "English"), ("zh-hans", "Simplified Chinese")]


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", "example": "09:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time with no offset (``09:00``): it is read in each customer's own time zone."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class MarketingCampaignSerializer(serializers.ModelSerializer):
    segment = serializers.IntegerField(source="segment_id", read_only=True)
    segment_name = serializers.CharField(source="segment.name", read_only=True)
    audience = serializers.IntegerField(
        source="segment.last_count", read_only=True, allow_null=True, help_text="The segment's size when last counted."
    )
    offer = serializers.IntegerField(source="offer_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, allow_null=True, default=None)
    send_time = LocalTimeField(read_only=True, allow_null=True, help_text="Local time in each customer's zone.")

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "segment", "segment_name", "audience", "channel", "kind", "status",
            "subject_en", "text_en", "html_en", "subject_zh", "text_zh", "html_zh",
            "subject_en_b", "text_en_b", "html_en_b", "subject_zh_b", "text_zh_b", "html_zh_b",
            "variant_b_percent", "holdout_percent", "offer", "send_at", "send_time", "repeat", "trigger",
            "trigger_days", "starts_on", "ends_on", "cost_per_message", "fixed_cost", "cost_currency",
            "approved_by", "approved_at", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


def _subject(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=200, allow_blank=True, help_text=TEMPLATE_HELP, **kwargs)


def _body(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=100_000, allow_blank=True, trim_whitespace=False, help_text=TEMPLATE_HELP, **kwargs)


class MarketingCampaignInputSerializer(StrictInputSerializer):
    """On create, ``name``, ``segment`` and ``text_en`` are required (and ``subject_en`` but for SMS); the
    schedule fields each kind needs: ``send_at`` (one-off, in the future), ``send_time`` (birthday, recurring;
    09:00 if left out) and ``repeat`` (recurring), ``trigger`` and for some ``trigger_days`` (triggered)."""

    name = serializers.CharField(max_length=120)
    segment = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="A segment's id.")
    channel = serializers.ChoiceField(choices=MarketingChannel.choices, required=False)
    kind = serializers.ChoiceField(choices=CampaignKind.choices, required=False)
    subject_en = _subject(required=False)
    text_en = _body()
    html_en = _body(required=False)
    subject_zh = _subject(required=False)
    text_zh = _body(required=False)
    html_zh = _body(required=False)
    subject_en_b = _subject(required=False)
    text_en_b = _body(required=False)
    html_en_b = _body(required=False)
    subject_zh_b = _subject(required=False)
    text_zh_b = _body(required=False)
    html_zh_b = _body(required=False)
    variant_b_percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
    holdout_percent = serializers.IntegerField(min_value=0, max_value=50, required=False)
    offer = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="An offer's id.")
    send_at = serializers.DateTimeField(required=False, allow_null=True)
    send_time = LocalTimeField(required=False, allow_null=True, help_text="Local time in each customer's zone.")
    repeat = serializers.ChoiceField(choices=CampaignRepeat.choices, required=False, allow_blank=True)
    trigger = serializers.ChoiceField(choices=CampaignTrigger.choices, required=False, allow_blank=True)
    trigger_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    cost_per_message = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=Decimal(0), required=False)
    fixed_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False)
    cost_currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3, required=False, help_text="ISO 4217, e.g. EUR.")


class CampaignRejectSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=500, help_text="Why, for the campaign's author.")


class CampaignPreviewInputSerializer(StrictInputSerializer):
    customer_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="Render for this customer (the look is audited); else sample values.",
    )
    language = serializers.ChoiceField(choices=LANGUAGES, required=False, default="en")
    variant = serializers.ChoiceField(choices=[("a", "A"), ("b", "B")], required=False, default="a")


class CampaignPreviewSerializer(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()


class CampaignFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=CampaignStatus.choices)
    kind = filters.ChoiceFilter(choices=CampaignKind.choices)

    class Meta:
        model = Campaign
        fields = ["status", "kind"]


REFUSED = _error("A field or the campaign's status refused it: see `code` (`invalid`, `invalid_campaign`, "
                 "`invalid_status`, `render_error`, ...) and `fields`.")  # fmt: skip
NOT_FOUND = _error("No such campaign.")
LIFECYCLE = {200: MarketingCampaignSerializer, 400: REFUSED, 404: NOT_FOUND}


@extend_schema_view(
    list=extend_schema(summary="Campaigns, newest first", responses=MarketingCampaignSerializer(many=True)),
    retrieve=extend_schema(summary="Read a campaign", parameters=[ID_PARAM], responses={200: MarketingCampaignSerializer, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Create a campaign (a draft)", request=MarketingCampaignInputSerializer,
        responses={201: MarketingCampaignSerializer, 400: REFUSED},
    ),
    partial_update=extend_schema(
        summary="Change a draft or paused campaign", parameters=[ID_PARAM], request=MarketingCampaignInputSerializer,
        responses=LIFECYCLE,
    ),
    destroy=extend_schema(
        summary="Delete a draft campaign", parameters=[ID_PARAM], responses={204: None, 400: REFUSED, 404: NOT_FOUND}
    ),
    schedule=extend_schema(
        summary="Schedule a draft (it awaits approval if its audience is above the limit)", parameters=[ID_PARAM],
        request=None, responses=LIFECYCLE,
    ),
    approve=extend_schema(
        summary="Approve a colleague's campaign awaiting approval", parameters=[ID_PARAM], request=None,
        responses={**LIFECYCLE, 403: _error("`four_eyes`: the campaign's author cannot approve it.")},
    ),
    reject=extend_schema(
        summary="Send a campaign awaiting approval back to draft", parameters=[ID_PARAM], request=CampaignRejectSerializer,
        responses=LIFECYCLE,
    ),
    pause=extend_schema(summary="Pause a scheduled or running campaign", parameters=[ID_PARAM], request=None, responses=LIFECYCLE),
    resume=extend_schema(summary="Resume a paused campaign", parameters=[ID_PARAM], request=None, responses=LIFECYCLE),
    complete=extend_schema(summary="Complete a campaign for good", parameters=[ID_PARAM], request=None, responses=LIFECYCLE),
    preview=extend_schema(
        summary="Render a campaign for a customer or sample values (nothing is sent, no code issued)",
        parameters=[ID_PARAM], request=CampaignPreviewInputSerializer,
        responses={200: CampaignPreviewSerializer, 400: REFUSED, 404: NOT_FOUND},
    ),
    test_send=extend_schema(
        summary="E-mail the rendered campaign to yourself, marked as a test", parameters=[ID_PARAM],
        request=CampaignPreviewInputSerializer, responses={204: None, 400: REFUSED, 404: NOT_FOUND},
    ),
)  # fmt: skip
class CampaignViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Campaigns: their content, schedule and life from draft to completed."""

    queryset = Campaign.objects.none()
    serializer_class = MarketingCampaignSerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    filter_backends = [FilterBackend]
    filterset_class = CampaignFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permissions_by_action = {
        None: SEE,
        "list": SEE,
        "retrieve": SEE,
        "preview": SEE,
        "create": (*SEE, "marketing.add_campaign"),
        "partial_update": CHANGE,
        "destroy": (*SEE, "marketing.delete_campaign"),
        "schedule": CHANGE,
        "pause": CHANGE,
        "resume": CHANGE,
        "complete": CHANGE,
        "test_send": CHANGE,
        "approve": APPROVE,
        "reject": APPROVE,
    }

    def get_queryset(self):  # noqa: ANN201
        return selectors.campaigns_for_api()

    def get_object(self) -> Campaign:
        raw = str(self.kwargs["pk"])
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise exceptions.NotFound()
        campaign = selectors.campaign_for_api(campaign_id=int(raw))
        self.check_object_permissions(self.request, campaign)
        return campaign

    @staticmethod
    def _answer(campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        return Response(MarketingCampaignSerializer(selectors.campaign_for_api(campaign_id=campaign.pk)).data, status=code)

    @staticmethod
    def _fields(data: dict[str, Any]) -> dict[str, Any]:
        """Ids to the rows they name; an unknown one is a 400 on its field."""
        fields = dict(data)
        if "segment" in fields:
            segment = Segment.objects.filter(pk=fields["segment"]).first()
            if segment is None:
                raise exceptions.ValidationError({"segment": ["No segment has this id."]})
            fields["segment"] = segment
        if fields.get("offer") is not None:
            offer = Offer.objects.filter(pk=fields["offer"]).first()
            if offer is None:
                raise exceptions.ValidationError({"offer": ["No offer has this id."]})
            fields["offer"] = offer
        return fields

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return Response(MarketingCampaignSerializer(self.get_object()).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = MarketingCampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = self._fields(data.validated_data)
        fields.setdefault("subject_en", "")
        campaign = services.campaign_create(**fields, by=request.user)
        return self._answer(campaign, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str, **kwargs: Any) -> Response:
        campaign = self.get_object()
        data = MarketingCampaignInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.campaign_update(campaign=campaign, by=request.user, **self._fields(data.validated_data))
        return self._answer(campaign)

    def destroy(self, request: Request, pk: str, **kwargs: Any) -> Response:
        services.campaign_delete(campaign=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._answer(services.campaign_schedule(campaign=self.get_object(), by=request.user))

    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._answer(services.campaign_approve(campaign=self.get_object(), by=request.user))

    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str, **kwargs: Any) -> Response:
        campaign = self.get_object()
        data = CampaignRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(services.campaign_reject(campaign=campaign, by=request.user, reason=data.validated_data["reason"]))

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._answer(services.campaign_pause(campaign=self.get_object(), by=request.user))

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._answer(services.campaign_resume(campaign=self.get_object(), by=request.user))

    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._answer(services.campaign_complete(campaign=self.get_object(), by=request.user))

    def _preview_input(self, request: Request) -> dict[str, Any]:
        data = CampaignPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        number = "".join(str(values.pop("customer_number", "") or "").split()).upper()
        values["customer"] = None
        if number:
            if not request.user.has_perm("crm.view_customer"):
                raise exceptions.PermissionDenied()
            values["customer"] = Customer.objects.filter(customer_number=number, anonymized_at__isnull=True).first()
            if values["customer"] is None:
                raise exceptions.ValidationError({"customer_number": ["No customer has this number."]})
        return values

    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str, **kwargs: Any) -> Response:
        campaign = self.get_object()
        values = self._preview_input(request)
        rendered = services.campaign_preview(campaign=campaign, by=request.user, surface="api", path=request.path, **values)
        return Response(CampaignPreviewSerializer(rendered).data)

    @action(detail=True, methods=["post"], url_path="test-send")
    def test_send(self, request: Request, pk: str, **kwargs: Any) -> Response:
        campaign = self.get_object()
        values = self._preview_input(request)
        services.campaign_test_send(campaign=campaign, by=request.user, surface="api", path=request.path, **values)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router) -> list:  # noqa: ANN001
    router.register("marketing/campaigns", CampaignViewSet, basename="marketing-campaign")
    return []
