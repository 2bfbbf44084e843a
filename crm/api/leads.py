"""Leads (back-office): prospects worked towards a booking, with notes, advances and conversion."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors, services
from crm.api.common import StrictInputSerializer, error
from crm.api.customers import _customer_number
from crm.api_support import (
    FilterBackend,
    StaffPermission,
    StandardPagination,
)
from crm.errors import NotFound
from crm.models import (
    Customer,
    Lead,
    LeadNote,
    LeadSource,
    LeadStatus,
    User,
)

# --- Leads ----------------------------------------------------------------------------------


class LeadInputSerializer(StrictInputSerializer, serializers.ModelSerializer):
    phone = PhoneNumberField(required=False, allow_blank=True)
    referred_by = serializers.SlugRelatedField(
        slug_field="customer_number",
        queryset=Customer.objects.filter(anonymized_at__isnull=True),
        required=False,
        allow_null=True,
        help_text="Customer number of the customer who referred this prospect.",
    )
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_staff=True, is_active=True),
        required=False,
        allow_null=True,
        help_text="Username of the sales owner.",
    )

    class Meta:
        model = Lead
        fields = services.LEAD_EDITABLE_FIELDS


class LeadNoteSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = LeadNote
        fields = ("from_status", "to_status", "text", "author", "created_at")
        read_only_fields = fields


class LeadSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(read_only=True)
    referred_by = serializers.SlugRelatedField(slug_field="customer_number", read_only=True, allow_null=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    converted_customer = serializers.SlugRelatedField(slug_field="customer_number", read_only=True, allow_null=True)

    class Meta:
        model = Lead
        fields = (
            "id", "given_name", "family_name", "email", "phone", "company", "source", "source_detail", "referred_by",
            "interest", "status", "owner", "created_by", "converted_customer", "converted_at", "lost_reason",
            "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class LeadDetailSerializer(LeadSerializer):
    notes = LeadNoteSerializer(many=True, read_only=True)

    class Meta(LeadSerializer.Meta):
        fields = (*LeadSerializer.Meta.fields, "notes")
        read_only_fields = fields


# `converted` is refused with its own explanation (code `use_convert`), so the field takes it; the schema
# offers only what advance accepts.
ADVANCE_STATUSES = [(value, label) for value, label in LeadStatus.choices if value != LeadStatus.CONVERTED]


@extend_schema_field(serializers.ChoiceField(choices=ADVANCE_STATUSES))
class AdvanceStatusField(serializers.ChoiceField):
    pass


class LeadAdvanceInputSerializer(StrictInputSerializer):
    status = AdvanceStatusField(choices=LeadStatus.choices, help_text="Any status but `converted` (see `/convert/`).")
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    lost_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class LeadConvertInputSerializer(StrictInputSerializer):
    customer_number = serializers.CharField(
        max_length=12, required=False, allow_blank=True, help_text="The existing customer; omit to create one from the lead."
    )


class LeadFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=LeadStatus.choices)
    source = filters.ChoiceFilter(choices=LeadSource.choices)
    owner = filters.CharFilter(field_name="owner__username", max_length=150, help_text="Username of the sales owner.")

    class Meta:
        model = Lead
        fields = ["status", "source", "owner"]


LEAD_ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(summary="Leads, newest first", responses=LeadSerializer(many=True)),
    create=extend_schema(summary="Hand a prospect to sales", request=LeadInputSerializer, responses={201: LeadDetailSerializer}),
    retrieve=extend_schema(summary="Read a lead with its notes", parameters=[LEAD_ID_PARAM], responses=LeadDetailSerializer),
    partial_update=extend_schema(
        summary="Correct a lead's details",
        parameters=[LEAD_ID_PARAM],
        request=LeadInputSerializer,
        responses=LeadDetailSerializer,
    ),
)
class LeadViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Prospects marketing hands to sales, worked through new → contacted → qualified → converted (or lost)."""

    lookup_value_regex = "[^/]+"
    queryset = Lead.objects.none()
    serializer_class = LeadSerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = LeadFilter
    ordering_fields = ["created_at", "updated_at", "status", "family_name"]
    ordering = None

    permissions_by_action = {
        None: ("crm.view_lead",),
        "list": ("crm.view_lead",),
        "retrieve": ("crm.view_lead",),
        "create": ("crm.view_lead", "crm.add_lead"),
        "partial_update": ("crm.view_lead", "crm.change_lead"),
        "advance": ("crm.view_lead", "crm.change_lead"),
        "convert": ("crm.view_lead", "crm.change_lead"),
    }

    def get_queryset(self):  # noqa: ANN201
        return selectors.lead_list().select_related("created_by")

    def get_object(self) -> Lead:
        lead = selectors.lead_get(lead_id=self.kwargs["pk"])
        self.check_object_permissions(self.request, lead)
        return lead

    def _detail(self, lead: Lead, status_code: int = status.HTTP_200_OK) -> Response:
        lead = (
            self.get_queryset()
            .prefetch_related(Prefetch("notes", queryset=LeadNote.objects.select_related("author")))
            .get(pk=lead.pk)
        )
        return Response(LeadDetailSerializer(lead).data, status=status_code)

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        return self._detail(self.get_object())

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = LeadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = services.lead_create(data=dict(data.validated_data), by=request.user)
        return self._detail(lead, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str, **kwargs: Any) -> Response:
        lead = self.get_object()
        data = LeadInputSerializer(lead, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        lead = services.lead_update(lead=lead, data=dict(data.validated_data), by=request.user)
        return self._detail(lead)

    @extend_schema(
        summary="Move a lead along the pipeline",
        description="`lost` needs a `lost_reason`; conversion is `/convert/`.",
        parameters=[LEAD_ID_PARAM],
        request=LeadAdvanceInputSerializer,
        responses={
            200: LeadDetailSerializer,
            409: error("The lead's status does not lead there (code `invalid_transition`, e.g. lost to lost)."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def advance(self, request: Request, pk: str, **kwargs: Any) -> Response:
        lead = self.get_object()
        data = LeadAdvanceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = services.lead_advance(
            lead=lead,
            to_status=data.validated_data["status"],
            note=data.validated_data.get("note", ""),
            lost_reason=data.validated_data.get("lost_reason", ""),
            by=request.user,
        )
        return self._detail(lead)

    @extend_schema(
        summary="Convert a lead into a customer",
        description="Links the lead to `customer_number` (needs crm.view_customer), or creates the customer from the "
        "lead's details (needs crm.add_customer).",
        parameters=[LEAD_ID_PARAM],
        request=LeadConvertInputSerializer,
        responses={
            200: LeadDetailSerializer,
            409: error("The lead is already converted, or lost (code `invalid_transition`: reopen it first)."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def convert(self, request: Request, pk: str, **kwargs: Any) -> Response:
        lead = self.get_object()
        data = LeadConvertInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = data.validated_data.get("customer_number", "").strip()
        services.lead_convert_check(by=request.user, to_existing_customer=bool(number))
        customer = None
        if number:
            try:
                customer = selectors.customer_get(customer_number=_customer_number(number))
            except (exceptions.NotFound, NotFound):
                raise exceptions.ValidationError({"customer_number": ["No customer with that number."]}) from None
        lead = services.lead_convert(lead=lead, customer=customer, by=request.user)
        return self._detail(lead)
