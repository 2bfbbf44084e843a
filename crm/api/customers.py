"""Customers (back-office): search and filters, the record, consent, timeline, export, merge."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.text import capfirst
from django_countries.serializers import CountryFieldMixin
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
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crm import registry, selectors, services
from crm.api.common import StrictInputSerializer, error
from crm.api_support import (
    FilterBackend,
    RankedRows,
    StaffPermission,
    StandardPagination,
    country_choices,
    error_response,
    language_choices,
    portal_language_choices,
)
from crm.errors import NotFound
from crm.models import (
    Cabin,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    Customer,
    CustomerMerge,
    Gender,
    TimelineEntry,
    Title,
)
from crm.permissions import can_see_identity_documents, mask

IDENTITY_FIELDS = ("national_id_number", "passport_number")
# Passengers change their login e-mail in the portal, where the new address is verified first.
PASSENGER_EDITABLE_FIELDS = tuple(f for f in services.EDITABLE_FIELDS if f != "email")
SEARCH_LIMIT = 200  # a search finds people; browsing everyone is what the filters are for
PLAIN_SEARCH_PARAMS = {"search", "page", "page_size"}

# --- Customers: serializers -----------------------------------------------------------------


class CustomerInputSerializer(CountryFieldMixin, StrictInputSerializer, serializers.ModelSerializer):
    """The fields a person may set (``crm.services.EDITABLE_FIELDS``); the service validates the rest."""

    phone = PhoneNumberField(required=False, allow_blank=True, help_text="E.164, e.g. +442079460958")
    emergency_contact_phone = PhoneNumberField(required=False, allow_blank=True)
    # The model's validate_language_code as the list it checks against, so the schema states it.
    preferred_language = serializers.ChoiceField(choices=language_choices(), required=False, allow_blank=True)
    special_assistance = serializers.ListField(
        child=serializers.ChoiceField(choices=Customer._meta.get_field("special_assistance").base_field.choices),
        required=False,
        max_length=20,
    )
    travel_purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=Customer._meta.get_field("travel_purposes").base_field.choices),
        required=False,
        max_length=10,
    )

    class Meta:
        model = Customer
        fields = services.EDITABLE_FIELDS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        user = self.context["request"].user
        if self.context.get("own_record"):
            return attrs
        if set(IDENTITY_FIELDS) & set(attrs) and not can_see_identity_documents(user):
            raise exceptions.PermissionDenied("You may not set passport or national ID numbers.")
        return attrs


class PassengerProfileInputSerializer(CustomerInputSerializer):
    # As the portal's profile form: the languages the portal and its e-mails are in.
    preferred_language = serializers.ChoiceField(choices=portal_language_choices(), required=False)

    class Meta(CustomerInputSerializer.Meta):
        fields = PASSENGER_EDITABLE_FIELDS


def code_field(choices: list[tuple[str, Any]]) -> serializers.Field:
    """A read-only code from a fixed set (a country, a cabin...), documented as that set's enum, without
    building a ChoiceField of all its choices for every response (for 250 countries, about a millisecond)."""

    @extend_schema_field(serializers.ChoiceField(choices=choices, allow_blank=True))
    class CodeField(serializers.Field):
        def to_representation(self, value: Any) -> str:
            return (value if isinstance(value, str) else getattr(value, "code", None)) or ""

    return CodeField(read_only=True)


# Declared field by field rather than a ModelSerializer: the list is the most called endpoint, and
# building model-derived fields for every response cost more than the search behind it. It serializes a
# Customer or a row of selectors.customer_list_rows alike.
class CustomerSummarySerializer(serializers.Serializer):
    """One row of a customer list: enough to pick the right person, never identity documents."""

    customer_number = serializers.CharField(read_only=True)
    title = code_field(Title.choices)
    given_name = serializers.CharField(read_only=True)
    family_name = serializers.CharField(read_only=True)
    gender = code_field(Gender.choices)
    date_of_birth = serializers.DateField(read_only=True, allow_null=True)
    email = serializers.EmailField(
        read_only=True, allow_blank=True, label=capfirst(Customer._meta.get_field("email").verbose_name)
    )
    phone = serializers.CharField(read_only=True)
    nationality = code_field(country_choices())
    country = code_field(country_choices())
    home_airport = serializers.CharField(read_only=True, help_text=Customer._meta.get_field("home_airport").help_text)
    preferred_cabin = code_field(Cabin.choices)
    created_at = serializers.DateTimeField(read_only=True)


class CustomerSerializer(CountryFieldMixin, serializers.ModelSerializer):
    """The whole customer record; passport and ID numbers are masked for logins without crm.view_identity_documents."""

    phone = serializers.CharField(read_only=True)
    emergency_contact_phone = serializers.CharField(read_only=True)
    national_id_number = serializers.CharField(
        read_only=True, allow_null=True, help_text="Masked (e.g. `••••••21`) without crm.view_identity_documents."
    )
    passport_number = serializers.CharField(
        read_only=True, allow_null=True, help_text="Masked (e.g. `••••••21`) without crm.view_identity_documents."
    )
    has_portal_login = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ("customer_number", *services.EDITABLE_FIELDS, "has_portal_login", "created_at", "updated_at")
        read_only_fields = fields

    def get_has_portal_login(self, customer: Customer) -> bool:
        return customer.user_id is not None

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        data = super().to_representation(customer)
        if not self.context.get("show_documents", False):
            for field in IDENTITY_FIELDS:
                if data.get(field):
                    data[field] = mask(data[field])
        return data


NO_RECORD = error("This login has no customer record.")


def _customer_context(request: Request, *, own: bool = False) -> dict[str, Any]:
    return {"request": request, "show_documents": own or can_see_identity_documents(request.user)}


class ConsentInputSerializer(StrictInputSerializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    granted = serializers.BooleanField()
    method = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="e.g. phone call, app settings")


class ConsentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ("channel", "purpose", "granted", "recorded_at", "source", "method")
        read_only_fields = fields


class StaffConsentEventSerializer(ConsentEventSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta(ConsentEventSerializer.Meta):
        fields = (*ConsentEventSerializer.Meta.fields, "recorded_by")
        read_only_fields = fields


class ConsentCurrentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    granted = serializers.BooleanField(help_text="False when the customer never answered: no answer is no consent.")
    recorded_at = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=ConsentSource.choices, allow_null=True)


class ConsentStateSerializer(serializers.Serializer):
    current = ConsentCurrentSerializer(many=True)
    history = ConsentEventSerializer(many=True, help_text="Every grant and withdrawal, newest first.")


class StaffConsentStateSerializer(ConsentStateSerializer):
    history = StaffConsentEventSerializer(many=True, help_text="Every grant and withdrawal, newest first.")


def _consent_state(customer: Customer) -> dict[str, Any]:
    current = [
        {
            "channel": channel,
            "purpose": purpose,
            "granted": bool(event and event.granted),
            "recorded_at": event.recorded_at if event else None,
            "source": event.source if event else None,
        }
        for (channel, purpose), event in selectors.consent_current(customer=customer).items()
    ]
    return {"current": current, "history": list(selectors.consent_history(customer=customer))}


def _record_consent(request: Request, customer: Customer) -> ConsentEvent:
    data = ConsentInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return services.consent_record(
        customer=customer,
        channel=data.validated_data["channel"],
        purpose=data.validated_data["purpose"],
        granted=data.validated_data["granted"],
        method=data.validated_data.get("method") or "API request",
        source=ConsentSource.API,
        by=request.user,
    )


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    summary = serializers.CharField(source="text", read_only=True, help_text="The line in the request's language.")

    class Meta:
        model = TimelineEntry
        fields = ("occurred_at", "kind", "summary", "data", "link", "actor")
        read_only_fields = fields


class Customer360SectionsSerializer(serializers.Serializer):
    """One key per app that registered an API section (``crm.registry``); a section the login may not see,
    or one that failed, is absent."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            ext.label: ext.api_serializer(required=False) if ext.api_serializer else serializers.DictField(required=False)
            for ext in registry.extensions()
            if ext.api_section is not None
        }


class Customer360Serializer(serializers.Serializer):
    customer = CustomerSerializer()
    sections = Customer360SectionsSerializer()


class MergeInputSerializer(StrictInputSerializer):
    loser = serializers.CharField(max_length=12, help_text="Customer number of the duplicate to fold into this customer.")


class MergeOutputSerializer(serializers.ModelSerializer):
    survivor = serializers.SlugRelatedField(slug_field="customer_number", read_only=True)
    merged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    moved = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()), read_only=True)
    filled_fields = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = CustomerMerge
        fields = ("survivor", "loser_customer_number", "loser_name", "moved", "filled_fields", "merged_by", "merged_at")
        read_only_fields = fields


class CustomerSearchSerializer(serializers.Serializer):
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CustomerFilter(filters.FilterSet):
    nationality = filters.CharFilter(method="filter_country_code", max_length=2)
    country = filters.CharFilter(method="filter_country_code", max_length=2)
    home_airport = filters.CharFilter(method="filter_upper", max_length=3, help_text="IATA code")
    preferred_cabin = filters.ChoiceFilter(choices=Cabin.choices)
    gender = filters.ChoiceFilter(choices=Gender.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ["nationality", "country", "home_airport", "preferred_cabin", "gender"]

    def filter_country_code(self, queryset, name, value):  # noqa: ANN001, ANN201
        return queryset.filter(**{name: value.upper()})

    def filter_upper(self, queryset, name, value):  # noqa: ANN001, ANN201
        return queryset.filter(**{name: value.upper()})


class CustomerMergedAway(Exception):
    """The customer number in the path was merged into ``survivor``."""

    def __init__(self, customer_number: str, survivor: Customer) -> None:
        super().__init__(customer_number)
        self.customer_number, self.survivor = customer_number, survivor


def _customer_number(value: str) -> str:
    """A customer number as typed (any case, stray spaces); junk is simply 'not found'."""
    number = "".join(str(value).split()).upper()
    if not number.isalnum() or not number.isascii() or len(number) > 12:
        raise exceptions.NotFound("No customer with that number.")
    return number


# --- Customers: the viewset -----------------------------------------------------------------

CUSTOMER_NUMBER_PARAM = OpenApiParameter(
    "customer_number", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. `K7P2XQ9M`"
)


@extend_schema_view(
    list=extend_schema(
        summary="Find customers",
        description="`?search=` takes a name (typo-tolerant), e-mail, phone, customer number, any app's reference, "
        "or (with crm.view_identity_documents) a passport or national ID number; "
        f"results come best match first (at most {SEARCH_LIMIT}) unless `ordering` is given. "
        "Staff with crm.view_customer; passengers get 403.",
        parameters=[OpenApiParameter("search", OpenApiTypes.STR, description="One search box, as in the back-office.")],
        responses=CustomerSummarySerializer(many=True),
    ),
    create=extend_schema(summary="Create a customer", request=CustomerInputSerializer, responses={201: CustomerSerializer}),
    retrieve=extend_schema(summary="Read a customer (audited)", parameters=[CUSTOMER_NUMBER_PARAM], responses=CustomerSerializer),
    partial_update=extend_schema(
        summary="Change a customer",
        parameters=[CUSTOMER_NUMBER_PARAM],
        request=CustomerInputSerializer,
        responses=CustomerSerializer,
    ),
)
class CustomerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The centralized customer record, for the back-office and other systems."""

    lookup_field = "customer_number"
    lookup_value_regex = "[^/]+"
    redirects_merged_customers = True  # a merged-away number answers 301/308 to its survivor (handle_exception)
    queryset = Customer.objects.none()  # for introspection; get_queryset() is what runs
    serializer_class = CustomerSummarySerializer
    permission_classes = [StaffPermission]
    pagination_class = StandardPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = CustomerFilter
    ordering_fields = ["family_name", "given_name", "customer_number", "date_of_birth", "created_at", "updated_at"]
    ordering = None  # the queryset's own order: best match for a search, by name otherwise

    permissions_by_action = {
        None: ("crm.view_customer",),
        "list": ("crm.view_customer",),
        "retrieve": ("crm.view_customer",),
        "create": ("crm.view_customer", "crm.add_customer"),
        "partial_update": ("crm.view_customer", "crm.change_customer"),
        "timeline": ("crm.view_customer", "crm.view_timelineentry"),
        "export": ("crm.view_customer", "crm.view_identity_documents"),
        "merge": ("crm.view_customer", "crm.merge_customer"),
        "overview": ("crm.view_customer",),
    }

    def required_permissions(self) -> tuple[str, ...]:
        if self.action == "consents":
            write = self.request.method == "POST"
            return ("crm.view_customer", "crm.add_consentevent" if write else "crm.view_consentevent")
        return self.permissions_by_action.get(self.action, self.permissions_by_action[None])

    def get_queryset(self):  # noqa: ANN201
        queryset = selectors.customer_queryset()
        if getattr(self, "swagger_fake_view", False) or self.action != "list":
            return queryset
        # The list shows neither documents nor the login: don't load (and decrypt) them.
        queryset = queryset.select_related(None).defer(*IDENTITY_FIELDS)
        ids = self._search_ids()
        if ids is None:
            return queryset
        return queryset.filter(pk__in=ids).order_by(selectors.customer_ids_ordered(ids)) if ids else queryset.none()

    def _search_ids(self) -> list[int] | None:
        """The ids the search box finds, best first; None when nothing was searched for."""
        if not hasattr(self, "_ranked_ids"):
            params = CustomerSearchSerializer(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            query = params.validated_data.get("search", "").strip()
            self._ranked_ids = (
                selectors.customer_search_ids(
                    query=query, limit=SEARCH_LIMIT, by_documents=can_see_identity_documents(self.request.user)
                )
                if query
                else None
            )
        return self._ranked_ids

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ids = self._search_ids()
        if not ids or set(request.query_params) - PLAIN_SEARCH_PARAMS:
            return super().list(request, *args, **kwargs)
        # A plain search: the ranking is the answer; load only this page's rows, in rank order.
        page = self.paginate_queryset(RankedRows(ids, lambda page_ids: selectors.customer_list_rows(ids=page_ids)))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_object(self) -> Customer:
        number = _customer_number(self.kwargs[self.lookup_field])
        try:
            customer = selectors.customer_get(customer_number=number)
        except NotFound:
            survivor = selectors.customer_merged_into(customer_number=number)
            if survivor is None:
                raise
            raise CustomerMergedAway(number, survivor) from None
        self.check_object_permissions(self.request, customer)
        return customer

    def handle_exception(self, exc: Exception) -> Response:
        """A merged-away customer number answers a permanent redirect to the same endpoint of the record it
        was merged into: 301 for reads, 308 for writes (the client repeats the same method and body there).
        The body says so in the error shape, with the survivor's number in ``fields.customer_number``."""
        if not isinstance(exc, CustomerMergedAway):
            return super().handle_exception(exc)
        match = self.request.resolver_match
        url = reverse(match.view_name, kwargs={**self.kwargs, self.lookup_field: exc.survivor.customer_number})
        query = self.request.META.get("QUERY_STRING", "")
        location = self.request.build_absolute_uri(f"{url}?{query}" if query else url)
        permanent = status.HTTP_301_MOVED_PERMANENTLY if self.request.method in ("GET", "HEAD") else 308
        message = f"Customer {exc.customer_number} was merged into {exc.survivor.customer_number}."
        response = error_response(
            code="customer_merged",
            message=message,
            fields={"customer_number": [exc.survivor.customer_number]},
            status_code=permanent,
            headers={"Location": location},
        )
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response

    def _audit(self, customer: Customer) -> None:
        match = self.request.resolver_match
        services.customer_access_record(
            customer=customer,
            user=self.request.user,
            surface="api",
            path=self.request.get_full_path(),
            view_name=match.view_name if match else "",
            method=self.request.method,
        )

    def retrieve(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        self._audit(customer)
        return Response(CustomerSerializer(customer, context=_customer_context(request)).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        data = CustomerInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        customer = services.customer_create(data=dict(data.validated_data), by=request.user)
        location = reverse("customer-detail", kwargs={"customer_number": customer.customer_number})
        return Response(
            CustomerSerializer(customer, context=_customer_context(request)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )

    def partial_update(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        data = CustomerInputSerializer(customer, data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer=customer, data=dict(data.validated_data), by=request.user)
        self._audit(customer)
        return Response(CustomerSerializer(customer, context=_customer_context(request)).data)

    @extend_schema(
        methods=["GET"],
        summary="Consent: current state and history (audited)",
        parameters=[CUSTOMER_NUMBER_PARAM],
        responses=StaffConsentStateSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a grant or withdrawal (source `api`)",
        parameters=[CUSTOMER_NUMBER_PARAM],
        request=ConsentInputSerializer,
        responses={201: StaffConsentEventSerializer},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def consents(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        if request.method == "POST":
            event = _record_consent(request, customer)
            return Response(StaffConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)
        self._audit(customer)
        return Response(StaffConsentStateSerializer(_consent_state(customer)).data)

    @extend_schema(
        summary="Timeline, newest first (audited)",
        parameters=[CUSTOMER_NUMBER_PARAM],
        responses=TimelineEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        self._audit(customer)
        page = self.paginate_queryset(selectors.timeline_for_customer(customer=customer))
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)

    @extend_schema(
        summary="The customer 360: the record and every app's section (audited)",
        description="`sections` has one key per app that contributes to the 360 (`crm`, `reservations`, ...); "
        "each app decides what this login may see, and leaves its key out otherwise.",
        parameters=[CUSTOMER_NUMBER_PARAM],
        responses=Customer360Serializer,
    )
    @action(detail=True, methods=["get"], url_path="360", url_name="360", filter_backends=[], pagination_class=None)
    def overview(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        self._audit(customer)
        return Response(
            {
                "customer": CustomerSerializer(customer, context=_customer_context(request)).data,
                "sections": registry.api_sections(customer, request.user),
            }
        )

    @extend_schema(
        summary="Everything every app holds about the customer (audited)",
        description="Needs crm.view_identity_documents as well: the export carries passport and ID numbers in clear. "
        "One key per registered app (`crm`, `reservations`, ...).",
        parameters=[CUSTOMER_NUMBER_PARAM],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def export(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = self.get_object()
        self._audit(customer)
        return Response(services.customer_export(customer=customer))

    @extend_schema(
        summary="Fold a duplicate into this customer",
        description="Everything that points at `loser`, in every app, moves to this customer; blanks are filled "
        "from the loser; the loser is deleted. One transaction, audited.",
        parameters=[CUSTOMER_NUMBER_PARAM],
        request=MergeInputSerializer,
        responses={
            200: MergeOutputSerializer,
            409: error(
                "Already merged, or both have a portal login, or `merge_incomplete`: a row in some table still "
                "points at the loser after every app moved its own; nothing was changed."
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def merge(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        survivor = self.get_object()
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            loser = selectors.customer_get(customer_number=_customer_number(data.validated_data["loser"]))
        except (exceptions.NotFound, NotFound):
            raise exceptions.ValidationError({"loser": ["No customer with that number."]}) from None
        record = services.customer_merge(survivor=survivor, loser=loser, by=request.user)
        return Response(MergeOutputSerializer(record).data)
