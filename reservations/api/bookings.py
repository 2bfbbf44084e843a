"""Bookings: create, read, pay, cancel, change seats and check in; passengers reach only their own."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache, cached_property
from typing import Any

from django.urls import reverse
from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_countries.serializer_fields import CountryField
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.api_support import FilterBackend, JSONParser, StandardPagination
from crm.errors import ApplicationError, NotFound
from crm.models import AssistanceCode, Cabin, Customer, MealCode, TravelPurpose
from crm.permissions import can_see_identity_documents, is_staff_member, mask
from crm.validation import validate_date_of_birth, validate_national_id_number, validate_single_line_text
from reservations import hooks, selectors, services
from reservations.api.check_in import (
    FREQUENT_FLYER_HELP,
    BoardingPassSerializer,
    CheckInInputSerializer,
    CheckInSerializer,
    _check_in_fields,
)
from reservations.api.common import FieldsBuiltOnce, StrictSerializer, _in_api_terms, error, represent, validated
from reservations.api.flights import FareFamilySerializer, FlightSerializer
from reservations.api.payments import (
    IDEMPOTENCY_KEY,
    PAYMENT_INPUT_SCHEMA,
    ChargeSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    RefundSerializer,
)
from reservations.models import (
    Booking,
    BookingPassenger,
    BookingStatus,
    DocumentType,
    PassengerType,
    PaymentMethod,
    Segment,
    Ticket,
)


class BookingPassengerSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    document_number = serializers.SerializerMethodField(
        help_text="Masked (e.g. `••••••21`) unless the login may see identity documents."
    )
    nationality = serializers.CharField(read_only=True)
    document_country = serializers.CharField(read_only=True)
    # Blank when not given: the schema says so (a read-only model field would be documented as the bare enum).
    document_type = serializers.ChoiceField(choices=DocumentType.choices, allow_blank=True, read_only=True)
    meal = serializers.ChoiceField(choices=MealCode.choices, allow_blank=True, read_only=True)
    infant_of = serializers.SerializerMethodField(help_text="For an infant: the sequence of the adult whose lap it is on.")

    class Meta:
        model = BookingPassenger
        fields = (
            "sequence", "passenger_type", "title", "given_name", "family_name", "date_of_birth", "nationality",
            "document_type", "document_number", "document_expiry", "document_country", "meal", "assistance",
            "frequent_flyer_number", "infant_of",
        )  # fmt: skip
        read_only_fields = fields

    def get_document_number(self, passenger: BookingPassenger) -> str:
        number = passenger.document_number or ""
        if not number:
            return ""  # nothing to show or mask: the login's permissions need not be read
        show = self.context.get("show_documents")
        return number if (show() if callable(show) else show) else mask(number)

    def get_infant_of(self, passenger: BookingPassenger) -> int | None:
        if passenger.travelling_with_id is None:
            return None
        by_id = {p.pk: p.sequence for p in passenger.booking.passengers.all()}
        return by_id.get(passenger.travelling_with_id)


class PassengerSummarySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = BookingPassenger
        fields = ("sequence", "passenger_type", "given_name", "family_name")
        read_only_fields = fields


class SegmentSummarySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    flight = FlightSerializer(read_only=True)
    booking_class = serializers.CharField(source="booking_class.code", read_only=True)
    fare_family = serializers.CharField(source="fare_family.code", read_only=True)

    class Meta:
        model = Segment
        fields = ("sequence", "status", "flight", "cabin", "booking_class", "fare_family")
        read_only_fields = fields


class SeatSerializer(serializers.Serializer):
    passenger = serializers.IntegerField(help_text="Passenger sequence.")
    seat = serializers.CharField()


class SegmentSerializer(SegmentSummarySerializer):
    fare_family = FareFamilySerializer(read_only=True)
    seats = serializers.SerializerMethodField()

    class Meta(SegmentSummarySerializer.Meta):
        fields = (*SegmentSummarySerializer.Meta.fields, "seats")
        read_only_fields = fields

    @extend_schema_field(SeatSerializer(many=True))
    def get_seats(self, segment: Segment) -> list[dict[str, Any]]:
        sequences = {p.pk: p.sequence for p in segment.booking.passengers.all()}
        return [
            {"passenger": sequences.get(a.passenger_id), "seat": a.seat}
            for a in sorted(segment.seat_assignments.all(), key=lambda a: sequences.get(a.passenger_id, 0))
        ]


class CouponSerializer(FieldsBuiltOnce, serializers.Serializer):
    number = serializers.IntegerField()
    segment = serializers.IntegerField(source="segment.sequence")
    status = serializers.CharField()


class TicketSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    passenger = serializers.IntegerField(source="passenger.sequence", read_only=True)
    coupons = CouponSerializer(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = ("number", "passenger", "status", "issued_at", "coupons")
        read_only_fields = fields


ACCESS_CHOICES = [("staff", "staff"), (selectors.BOOKER, selectors.BOOKER), (selectors.TRAVELLER, selectors.TRAVELLER)]
_MONEY = "Null for a co-traveller: the booker's money is not theirs to see."


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True, allow_null=True, help_text=_MONEY)


def _reach(context: dict[str, Any], booking: Booking) -> selectors.PassengerBooking | None:
    """None: the whole booking (staff). Otherwise what the passenger in the context may reach of it."""
    customer = context.get("customer")
    return None if customer is None else selectors.booking_reach(booking=booking, customer=customer)


def _own_part(data: dict[str, Any], reach: selectors.PassengerBooking) -> dict[str, Any]:
    """A co-traveller's view: their own travellers, seats and tickets; nothing of the booker's or the others'."""
    own = {p.sequence for p in reach.passengers}
    data["passengers"] = [p for p in data["passengers"] if p["sequence"] in own]
    for segment in data["segments"]:
        if "seats" in segment:
            segment["seats"] = [s for s in segment["seats"] if s["passenger"] in own]
    if "tickets" in data:
        data["tickets"] = [t for t in data["tickets"] if t["passenger"] in own]
    for name in ("charges", "payments", "refunds"):
        if name in data:
            data[name] = []
    for name in ("total_amount", "paid_amount", "refunded_amount", "balance_due", "customer"):
        if name in data:
            data[name] = None
    data["contact_email"] = data["contact_phone"] = None
    return data


class BookingSummarySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """One row of a booking list."""

    contact_email = serializers.EmailField(read_only=True, allow_null=True, help_text="The booker's; null for a co-traveller.")
    contact_phone = serializers.CharField(read_only=True, allow_null=True, help_text="The booker's; null for a co-traveller.")
    purpose = serializers.ChoiceField(choices=TravelPurpose.choices, allow_blank=True, read_only=True)
    total_amount = _money()
    paid_amount = _money()
    refunded_amount = _money()
    balance_due = _money()
    passengers = PassengerSummarySerializer(many=True, read_only=True)
    segments = SegmentSummarySerializer(many=True, read_only=True)
    access = serializers.SerializerMethodField(
        help_text="How this login reaches the booking: `staff`; `booker` (all of it); `traveller` (travels on "
        "someone else's booking: only their own travellers, seats, tickets, check-in and boarding passes; no "
        "contact details, charges, payments or refunds of the booker, and no pay, cancel or change)."
    )

    class Meta:
        model = Booking
        fields = (
            "record_locator", "status", "trip_type", "channel", "purpose", "contact_email", "contact_phone",
            "adults", "children", "infants", "currency", "total_amount", "paid_amount", "refunded_amount",
            "balance_due", "hold_expires_at", "created_at", "cancelled_at", "passengers", "segments", "access",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ACCESS_CHOICES))
    def get_access(self, booking: Booking) -> str:
        reach = _reach(self.context, booking)
        return "staff" if reach is None else reach.role

    def to_representation(self, booking: Booking) -> dict[str, Any]:
        data = super().to_representation(booking)
        reach = _reach(self.context, booking)
        if reach is not None and not reach.is_booker:
            data = _own_part(data, reach)
        return data


class SegmentActionsSerializer(FieldsBuiltOnce, serializers.Serializer):
    segment = serializers.IntegerField(source="segment.sequence", help_text="Segment sequence.")
    check_in = serializers.BooleanField(help_text="Someone on the booking can check in for this flight now.")
    check_in_opens = serializers.DateTimeField(help_text="When check-in for this flight opens.")
    seats = serializers.BooleanField(help_text="Seats on this flight can be chosen now.")
    change = serializers.BooleanField(help_text="This flight can be moved to another now (by the fare's rules).")


class TripActionsSerializer(FieldsBuiltOnce, serializers.Serializer):
    """What this login may do with the booking now; the actions themselves still check every rule."""

    pay = serializers.BooleanField(help_text="Something is due and the booking can still be paid.")
    cancel = serializers.BooleanField(help_text="The booking can be cancelled now; see `/cancel-quote/` for the refund.")
    documents = serializers.BooleanField(help_text="The e-ticket receipt and boarding passes exist (the booking is ticketed).")
    segments = SegmentActionsSerializer(many=True)


class BookingSerializer(BookingSummarySerializer):
    """A whole booking: travellers, flights with seats, itemised charges, payments, refunds, e-tickets."""

    customer = serializers.CharField(
        source="customer.customer_number", read_only=True, allow_null=True, help_text="The booker; null for a co-traveller."
    )
    passengers = BookingPassengerSerializer(many=True, read_only=True)
    segments = SegmentSerializer(many=True, read_only=True)
    charges = ChargeSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    refunds = RefundSerializer(many=True, read_only=True)
    tickets = TicketSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(BookingSummarySerializer.Meta):
        fields = (
            *BookingSummarySerializer.Meta.fields, "customer", "language", "disrupted_at", "disruption_reason",
            "charges", "payments", "refunds", "tickets", "actions",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(TripActionsSerializer)
    def get_actions(self, booking: Booking) -> dict[str, Any]:
        request = self.context.get("request")
        actions = selectors.trip_actions(booking=booking, user=request.user if request is not None else None)
        return represent(TripActionsSerializer, actions, context={})


class PlannedRefundSerializer(serializers.Serializer):
    payment = serializers.IntegerField(source="payment.pk", help_text="The payment the money goes back to.")
    method = serializers.CharField(source="payment.method")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    miles = serializers.IntegerField(
        allow_null=True, help_text="For a payment made with miles: how many miles go back to the member's account."
    )
    summary = serializers.CharField(
        help_text="What the payer gets back, in their language, when the payment method says (e.g. the miles); empty otherwise."
    )


class CancelQuoteSerializer(serializers.Serializer):
    """What cancelling now would keep and refund, by the rules the cancellation applies."""

    currency = serializers.CharField()
    fees = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Cancellation fees kept.")
    waived = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Fees a supervisor would waive.")
    refund_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    redeposit = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Fares of the cancelled flights paid with miles: they go back in full (the miles are redeposited); "
        "any cancellation fee is kept from the cash refund instead.",
    )
    refunds = PlannedRefundSerializer(many=True)


class PaymentResultSerializer(serializers.Serializer):
    payment = PaymentSerializer()
    booking = BookingSerializer()


class SegmentInputSerializer(FieldsBuiltOnce, StrictSerializer):
    flight_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    cabin = serializers.ChoiceField(choices=Cabin.choices)
    fare_family = serializers.CharField(max_length=20, help_text="Fare family code from the search offers, e.g. `ECO_STANDARD`.")


class PassengerInputSerializer(FieldsBuiltOnce, StrictSerializer):
    passenger_type = serializers.ChoiceField(choices=PassengerType.choices)
    title = serializers.CharField(max_length=4, required=False, allow_blank=True)
    given_name = serializers.CharField(
        max_length=100, validators=[validate_single_line_text], help_text="As in the travel document."
    )
    family_name = serializers.CharField(
        max_length=100, validators=[validate_single_line_text], help_text="As in the travel document."
    )
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, validators=[validate_date_of_birth], help_text="Required for children and infants."
    )
    nationality = CountryField(required=False, allow_blank=True)
    document_type = serializers.ChoiceField(choices=DocumentType.choices, required=False, allow_blank=True)
    document_number = serializers.CharField(
        max_length=40, required=False, allow_blank=True, validators=[validate_national_id_number]
    )
    document_expiry = serializers.DateField(required=False, allow_null=True)
    document_country = CountryField(required=False, allow_blank=True)
    meal = serializers.ChoiceField(choices=MealCode.choices, required=False, allow_blank=True)
    assistance = serializers.ListField(
        child=serializers.ChoiceField(choices=AssistanceCode.choices), required=False, max_length=10
    )
    frequent_flyer_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    customer_number = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="Link this traveller to a customer record (blank preferences and documents are filled from it). "
        "A passenger may give only their own number.",
    )


class BookingOptionsField(serializers.DictField):
    """Booking options by name, each a JSON boolean: ``{"loyalty_enrol": true}``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.BooleanField(), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, bool]:
        if isinstance(data, Mapping):
            wrong = {str(k): [_("Enter true or false (a JSON boolean).")] for k, v in data.items() if not isinstance(v, bool)}
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


def _options_help() -> str:
    return (
        "The tick boxes of the portal's booking form, by name: `true` ticks one. An option not offered to this "
        "booker is ignored; a name that is no option is 400 `unknown_booking_option` under `options.<name>`. "
        f"Options: {hooks.booking_options_documented()}."
    )


class BookingCreateInputSerializer(FieldsBuiltOnce, StrictSerializer):
    segments = SegmentInputSerializer(many=True, allow_empty=False, max_length=6, help_text="The flights, in order.")
    passengers = PassengerInputSerializer(
        many=True, allow_empty=False, max_length=18, help_text="Adults first; each infant sits on an adult's lap."
    )
    contact_email = serializers.EmailField(max_length=254)
    contact_phone = PhoneNumberField(required=False, allow_blank=True, help_text="E.164, e.g. +442079460958")
    purpose = serializers.ChoiceField(choices=TravelPurpose.choices, required=False, allow_blank=True)
    customer = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="Staff: the customer number of whoever books. A passenger's bookings are always their own.",
    )
    discount_code = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="A discount (e.g. promo) code; its value shows as `discount` charges. An unknown or unusable code "
        "is 400 (`unknown_discount_code`, or the code owner's reason) under `discount_code`.",
    )
    options = BookingOptionsField(required=False, help_text=lazy(_options_help, str)())


class CancelInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)
    waive_reason = serializers.CharField(
        max_length=300, required=False, allow_blank=True, help_text="Staff with reservations.waive_fees: waive the fee, audited."
    )


class SeatInputSerializer(StrictSerializer):
    segment = serializers.IntegerField(min_value=1, max_value=99, help_text="Segment sequence.")
    passenger = serializers.IntegerField(min_value=1, max_value=99, help_text="Passenger sequence.")
    seat = serializers.RegexField(r"^[0-9]{1,3}[A-Za-z]$", max_length=4, help_text="e.g. `12C`.")


class PassengerChangeInputSerializer(StrictSerializer):
    """What may change on a traveller of an existing booking; a field left out stays as it is."""

    frequent_flyer_number = serializers.CharField(max_length=20, required=False, allow_blank=True, help_text=FREQUENT_FLYER_HELP)


class BookingAccess(permissions.BasePermission):
    """Logged in; staff also need the permissions of the action. Passengers are scoped in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not is_staff_member(user):
            return True
        return user.has_perms(view.permissions_by_action.get(view.action, ("reservations.view_booking",)))


class BookingFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=BookingStatus.choices)

    def is_valid(self) -> bool:
        """``?status=`` names no status: a 400 like any other value not in the list, not every booking."""
        valid = super().is_valid()
        if self.data.get("status") == "":
            self.form.add_error("status", _("Choose a status from the list."))
            return False
        return valid

    class Meta:
        model = Booking
        fields = ["status"]


RECORD_LOCATOR_PARAM = OpenApiParameter(
    "record_locator", OpenApiTypes.STR, OpenApiParameter.PATH, description="Six characters, e.g. `K7P2XQ`."
)
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="1-64 visible ASCII characters; repeat it to retry safely (or send `idempotency_key` in the body).",
)
NOT_YOURS = "No booking with this reference (or not one this login may reach)."


@extend_schema_view(
    list=extend_schema(
        summary="Bookings, newest first",
        description="A passenger's own bookings (booked by them or with them on board); every booking for staff.",
        responses=BookingSummarySerializer(many=True),
    ),
    retrieve=extend_schema(summary="Read a booking", parameters=[RECORD_LOCATOR_PARAM], responses={200: BookingSerializer}),
    create=extend_schema(
        summary="Book flights",
        description="Holds seats for the whole party on every flight at once, prices the fares and taxes, and "
        "returns the booking held until `hold_expires_at`; pay it with `/payments/`. All or nothing: when a flight "
        "has too few seats left the answer is 409 `sold_out` and nothing is held.",
        request=BookingCreateInputSerializer,
        responses={
            201: BookingSerializer,
            409: error("`sold_out`: too few seats left; `fare_unavailable`: that fare family has closed."),
        },
    ),
)
class BookingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Bookings (PNRs) by record locator."""

    lookup_field = "record_locator"
    lookup_value_regex = "[^/]+"
    queryset = Booking.objects.none()
    serializer_class = BookingSummarySerializer
    permission_classes = [BookingAccess]
    # Bookings nest lists of objects, which a form body cannot carry: JSON only (415 otherwise).
    parser_classes = [JSONParser]
    pagination_class = StandardPagination
    filter_backends = [FilterBackend]
    filterset_class = BookingFilter

    # The same permissions as the office pages that do the same (reservations.views.office).
    permissions_by_action = {
        "list": selectors.SEE_BOOKINGS,
        "retrieve": selectors.SEE_BOOKINGS,
        "create": ("crm.view_customer", "reservations.add_booking", *selectors.SEE_BOOKINGS),
        "payments": (*selectors.SEE_BOOKINGS, "reservations.add_payment"),
        "cancel": (*selectors.SEE_BOOKINGS, "reservations.change_booking", "reservations.add_refund"),
        "cancel_quote": selectors.SEE_BOOKINGS,
        "seats": (*selectors.SEE_BOOKINGS, "reservations.add_seatassignment"),
        "check_in": (*selectors.SEE_BOOKINGS, "reservations.add_checkin"),
        "boarding_passes": (*selectors.SEE_BOOKINGS, "reservations.view_checkin"),
        "passenger": (*selectors.SEE_BOOKINGS, "reservations.change_booking"),
    }
    # What a co-traveller (on a booking someone else made) may do, for their own travellers only. Any
    # other action on a booking, present or future, is the booker's alone (403 `booker_only`).
    traveller_actions = frozenset({"retrieve", "seats", "check_in", "boarding_passes", "passenger"})
    reach: selectors.PassengerBooking | None = None

    @cached_property
    def is_staff(self) -> bool:
        """Asked a few times per request; the view lives for one request."""
        return is_staff_member(self.request.user)

    def _own_customer(self) -> Customer | None:
        return crm_selectors.customer_of_login(user=self.request.user)

    def get_queryset(self):  # noqa: ANN201
        if getattr(self, "swagger_fake_view", False):
            return Booking.objects.none()
        if self.is_staff:
            return selectors.booking_queryset()
        customer = self._own_customer()
        if customer is None:
            return Booking.objects.none()
        return selectors.bookings_for_customer(customer=customer)

    def get_object(self) -> Booking:
        """The booking with everything the detail shows; someone else's is 404 for a passenger.

        Staff opening it is audited for every customer on it, as the office booking page does.
        """
        locator = self.kwargs[self.lookup_field]
        if self.is_staff:
            booking = selectors.booking_get_for_office(record_locator=locator)
            self._audit(booking)
            return booking
        reach = selectors.booking_reach_for_passenger(user=self.request.user, record_locator=locator)
        if self.action not in self.traveller_actions:
            reach.require_booker()
        self.reach = reach
        return selectors.booking_office_queryset().get(pk=reach.booking.pk)

    def _audit(self, booking: Booking) -> None:
        match = self.request.resolver_match
        customers = {c.pk: c for c in (booking.customer, *(p.customer for p in booking.passengers.all())) if c is not None}
        for customer in customers.values():
            crm_services.customer_access_record(
                customer=customer,
                user=self.request.user,
                surface="api",
                path=self.request.get_full_path(),
                view_name=match.view_name if match else "",
                method=self.request.method,
            )

    def _context(self) -> dict[str, Any]:
        user = self.request.user
        return {
            "request": self.request,
            # Asked only when a traveller has a document number to show (most bookings have none).
            "show_documents": cache(lambda: can_see_identity_documents(user)),
            "customer": None if self.is_staff else self._own_customer(),
        }

    def _detail(self, booking: Booking, status_code: int = status.HTTP_200_OK, *, audit: bool = False, **extra: Any) -> Response:
        if not services.booking_as_written(booking):  # a booking just made carries what was written: no read
            booking = selectors.booking_office_queryset().get(pk=booking.pk)
        if audit and self.is_staff:
            self._audit(booking)
        return Response(represent(BookingSerializer, booking, context=self._context()), status=status_code, **extra)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(BookingSummarySerializer(page, many=True, context=self._context()).data)

    def retrieve(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        return Response(BookingSerializer(self.get_object(), context=self._context()).data)

    def _linked_customer(self, number: str, field: str) -> Customer | None:
        number = "".join(number.split()).upper()
        if not number:
            return None
        if not self.is_staff:
            own = self._own_customer()
            if own is None or own.customer_number != number:
                raise exceptions.ValidationError({field: [_("You can only give your own customer number.")]})
            return own
        try:
            return crm_selectors.customer_get(customer_number=number)
        except NotFound:
            raise exceptions.ValidationError({field: [_("No customer with that number.")]}) from None

    def create(self, request: Request, **kwargs: Any) -> Response:
        d = validated(BookingCreateInputSerializer, request.data)
        if self.is_staff:
            booker = self._linked_customer(d.get("customer", ""), "customer")
        else:
            booker = self._own_customer()
            if booker is None:
                raise exceptions.PermissionDenied(_("This login has no customer record to book for."))
            if d.get("customer") and self._linked_customer(d["customer"], "customer") != booker:
                raise exceptions.ValidationError({"customer": [_("You can only book for yourself.")]})
        passengers = []
        for i, p in enumerate(d["passengers"]):
            p = dict(p)
            customer = self._linked_customer(p.pop("customer_number", ""), f"passengers.{i}.customer_number")
            p["nationality"] = str(p.get("nationality") or "")
            p["document_country"] = str(p.get("document_country") or "")
            passengers.append(services.PassengerRequest(**p, customer=customer))
        if not self.is_staff:
            passengers = services.passengers_link_booker(passengers=passengers, booker=booker)
        try:
            booking = services.booking_create(
                segments=[services.SegmentRequest(**s) for s in d["segments"]],
                passengers=passengers,
                contact_email=d["contact_email"],
                contact_phone=str(d.get("contact_phone") or ""),
                purpose=d.get("purpose", ""),
                channel="api",
                customer=booker,
                by=request.user,
                language=get_language() or "en",
                discount_code=d.get("discount_code", ""),
                options=d.get("options") or {},
            )
        except ApplicationError as refused:
            raise _in_api_terms(refused) from None
        location = reverse("booking-detail", kwargs={"record_locator": booking.record_locator})
        return self._detail(booking, status.HTTP_201_CREATED, audit=True, headers={"Location": location})

    # --- Payments ---

    @extend_schema(
        summary="Pay for a booking",
        description="Charges the card (or voucher, miles; `counter` for staff) and, once the balance is paid, "
        "issues the e-tickets. Send an `Idempotency-Key` header (or `idempotency_key`): repeating a request with "
        "the same key returns the first result (200) instead of charging again; keys belong to the login that "
        "sends them. Card details go to the gateway and are never stored or echoed; the answer carries brand and "
        "last four digits only. A declined card is **402** `payment_declined` (and so is a replay of it); a booking "
        "that can no longer be paid or owes nothing is 400 (`booking_not_payable`, `nothing_due`). A method may pay "
        "only part of a booking: `miles` pay the fares of an award ticket (409 `insufficient_miles` when the balance "
        "is short, 400 `not_a_member`), and the taxes stay due for the card.",
        parameters=[RECORD_LOCATOR_PARAM, IDEMPOTENCY_HEADER],
        request=PAYMENT_INPUT_SCHEMA,
        responses={
            201: PaymentResultSerializer,
            200: OpenApiResponse(PaymentResultSerializer, description="A repeat of an earlier request with the same key."),
            402: error("`payment_declined`: the gateway refused the card; nothing was charged."),
            409: error(
                "`request_in_progress`: the first request with this key is still at the gateway; repeat it shortly "
                "for its result. `idempotency_key_reused`: this key already paid for another booking. "
                "`payment_in_progress`: another payment is being processed for the balance."
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def payments(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        key = self._idempotency_key(request, d.get("idempotency_key"))
        card = None
        if d["method"] == PaymentMethod.CARD:
            c = d["card"]
            card = services.CardDetails(
                number="".join(c["number"].split()),
                expiry_month=c["expiry_month"],
                expiry_year=c["expiry_year"],
                cvv=c["cvv"],
                holder=c["holder"],
            )
        payment = services.payment_take(
            booking=booking,
            method=d["method"],
            idempotency_key=key,
            amount=d.get("amount"),
            card=card,
            voucher_code=d.get("voucher_code", ""),
            by=request.user,
        )
        booking = selectors.booking_office_queryset().get(pk=booking.pk)
        body = PaymentResultSerializer({"payment": payment, "booking": booking}, context=self._context()).data
        return Response(body, status=status.HTTP_200_OK if payment.replayed else status.HTTP_201_CREATED)

    @staticmethod
    def _idempotency_key(request: Request, in_body: str | None) -> str:
        header = request.headers.get("Idempotency-Key")
        if header is not None and not IDEMPOTENCY_KEY.match(header):
            raise exceptions.ValidationError({"Idempotency-Key": [_("Use 1-64 visible ASCII characters.")]})
        if header and in_body and header != in_body:
            raise exceptions.ValidationError({"idempotency_key": [_("Differs from the Idempotency-Key header.")]})
        key = header or in_body
        if not key:
            raise exceptions.ValidationError(
                {"idempotency_key": [_("Send an Idempotency-Key header (or this field), new for each payment you mean.")]}
            )
        return key

    # --- Cancellation ---

    @extend_schema(
        summary="Cancel a booking",
        description="Releases the seats and refunds what the fare rules allow to the original payment method. "
        "Staff with reservations.waive_fees may waive the cancellation fee with a reason (audited).",
        parameters=[RECORD_LOCATOR_PARAM],
        request=CancelInputSerializer,
        responses={
            200: BookingSerializer,
            400: error(
                "`already_cancelled`: cancelled or expired already; `cancel_not_allowed`: someone is checked in, or "
                "every flight has been flown."
            ),
            409: error("`booking_changed`: the booking was changed meanwhile; read it again and retry."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        data = CancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = services.booking_cancel(
            booking=booking,
            by=request.user,
            reason=data.validated_data.get("reason", ""),
            waive_reason=data.validated_data.get("waive_reason", ""),
        )
        return self._detail(booking)

    @extend_schema(
        summary="What cancelling would refund",
        description="The cancellation fees and the refund to each payment that `POST /cancel/` would give now, "
        "computed by the same rules. Changes nothing: no seat, charge or refund is touched and no event is sent. "
        "Staff with reservations.waive_fees may pass `waive_reason` to see the fee waived.",
        parameters=[
            RECORD_LOCATOR_PARAM,
            OpenApiParameter("waive_reason", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: CancelQuoteSerializer, 400: error("`already_cancelled` or `cancel_not_allowed`.")},
    )
    @action(detail=True, methods=["get"], url_path="cancel-quote", filter_backends=[], pagination_class=None)
    def cancel_quote(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        waive_reason = request.query_params.get("waive_reason", "")[:300]
        quote = services.booking_cancel_quote(booking=booking, by=request.user, waive_reason=waive_reason)
        return Response(CancelQuoteSerializer(quote).data)

    # --- Seats ---

    @extend_schema(
        summary="Choose a seat",
        description="Assigns one passenger a seat on one segment (replacing their previous seat there). "
        "A seat is held by one passenger per flight: 409 `seat_taken` when someone else has it.",
        parameters=[RECORD_LOCATOR_PARAM],
        request=SeatInputSerializer,
        responses={200: BookingSerializer, 409: error("`seat_taken`: another passenger holds that seat.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def seats(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        data = SeatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = _segment_of(booking, data.validated_data["segment"], "segment")
        passenger = _passenger_of(booking, data.validated_data["passenger"], "passenger", self.reach)
        services.seat_assign(segment=segment, passenger=passenger, seat=data.validated_data["seat"].upper(), by=request.user)
        return self._detail(booking)

    # --- Check-in and boarding passes ---

    @extend_schema(
        summary="Check in",
        description="Checks in passengers of one segment, from 24 h to 1 h before departure: seats (optional) and "
        "bags (weights per bag, hand-carry count); excess over the fare's allowance is priced. Frequent flyer "
        "numbers sent in `frequent_flyer_numbers` are checked and saved first (as `PATCH "
        "/passengers/{sequence}/` does); a refused one is 400 and checks nobody in.",
        parameters=[RECORD_LOCATOR_PARAM],
        request=CheckInInputSerializer,
        responses={
            201: CheckInSerializer(many=True),
            402: error("`payment_required`: the check-in has fees and no `payment` was sent; `payment_declined`."),
            409: error("`check_in_closed`: outside the check-in window; or the booking is not ticketed."),
        },
    )
    @action(detail=True, methods=["post"], url_path="check-in", filter_backends=[], pagination_class=None)
    def check_in(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        data = CheckInInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        segment = _segment_of(booking, d["segment"], "segment")
        chosen = [_passenger_of(booking, n, f"passengers.{i}", self.reach) for i, n in enumerate(d["passengers"])]
        seats = {
            _passenger_of(booking, s["passenger"], f"seats.{i}.passenger", self.reach).pk: s["seat"].upper()
            for i, s in enumerate(d.get("seats", []))
        }
        bags: dict[int, list[Decimal]] = {}
        hand_carry: dict[int, int] = {}
        bag_entry: dict[int, int] = {}
        for i, b in enumerate(d.get("bags", [])):
            pk = _passenger_of(booking, b["passenger"], f"bags.{i}.passenger", self.reach).pk
            bags[pk], hand_carry[pk], bag_entry[pk] = list(b["weights_kg"]), b["hand_carry"], i
        numbers: dict[int, str] = {}
        number_entry: dict[int, int] = {}
        for i, n in enumerate(d.get("frequent_flyer_numbers", [])):
            pk = _passenger_of(booking, n["passenger"], f"frequent_flyer_numbers.{i}.passenger", self.reach).pk
            numbers[pk], number_entry[pk] = n["frequent_flyer_number"], i
        args = {
            "booking": booking,
            "segment": segment,
            "passengers": chosen,
            "seats": seats or None,
            "bags": bags or None,
            "hand_carry": hand_carry or None,
            "channel": "api",
            "by": request.user,
        }
        payment = d.get("payment")
        try:
            if numbers:
                # Saved first: a refused number checks nobody in, and a good one's tier counts in the fees.
                services.passengers_frequent_flyer_set(booking=booking, numbers=numbers, by=request.user, channel="api")
            if payment is None:
                check_ins = services.check_in(**args)
            else:
                card = payment.get("card")
                check_ins = services.check_in_with_payment(
                    **args,
                    method=payment["method"],
                    idempotency_key=payment["idempotency_key"],
                    card=services.CardDetails(**card) if card else None,
                    expected_total=payment.get("expected_total"),
                )
        except ApplicationError as refused:
            refused.fields = _check_in_fields(
                refused.fields, chosen=[p.pk for p in chosen], bag_entry=bag_entry, number_entry=number_entry
            )
            raise
        return Response(CheckInSerializer(check_ins, many=True).data, status=status.HTTP_201_CREATED)

    # --- Travellers ---

    @extend_schema(
        summary="Change a traveller's frequent flyer number",
        description="Adds, corrects or removes (empty string) one traveller's frequent flyer number on an existing "
        "booking, checked as at booking: its check digit, an active member, the traveller's family name. The "
        "booker may change any traveller's; a co-traveller only their own (403 `booker_only` otherwise); staff need "
        "reservations.change_booking. Recorded on the booker's and the traveller's timelines.",
        parameters=[
            RECORD_LOCATOR_PARAM,
            OpenApiParameter("sequence", OpenApiTypes.INT, OpenApiParameter.PATH, description="Passenger sequence."),
        ],
        request=PassengerChangeInputSerializer,
        responses={
            200: BookingPassengerSerializer,
            400: error(
                "`invalid_frequent_flyer_number` (check digit, or too long), `unknown_frequent_flyer_number` (no active "
                "member), `frequent_flyer_name_mismatch` (another family name), under `frequent_flyer_number`; "
                "`booking_inactive` (cancelled or expired), `traveller_on_board`, `traveller_flown` (no flight left "
                "to take): nothing is changed."
            ),
            403: error(
                "`booker_only`: a co-traveller asked about someone else's traveller; `forbidden`: staff without the permission."
            ),
            404: error("No booking with this reference, or no such passenger on it."),
        },
    )
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"passengers/(?P<sequence>[0-9]+)",
        url_name="passenger",
        filter_backends=[],
        pagination_class=None,
    )
    def passenger(self, request: Request, record_locator: str, sequence: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        data = PassengerChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        traveller = next((p for p in booking.passengers.all() if str(p.sequence) == sequence.lstrip("0")), None)
        if traveller is None:
            raise NotFound(_("The booking has no such passenger."))
        saved = services.passenger_frequent_flyer_set(
            passenger=traveller,
            number=data.validated_data.get("frequent_flyer_number", traveller.frequent_flyer_number),
            by=request.user,
            channel="api",
        )
        saved.booking = booking
        return Response(BookingPassengerSerializer(saved, context=self._context()).data)

    @extend_schema(
        summary="Boarding passes",
        description="One per checked-in passenger and flight, with the IATA BCBP string its PDF417 barcode encodes.",
        parameters=[RECORD_LOCATOR_PARAM],
        responses={200: BoardingPassSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="boarding-passes", filter_backends=[], pagination_class=None)
    def boarding_passes(self, request: Request, record_locator: str, **kwargs: Any) -> Response:
        booking = self.get_object()
        passengers = None if self.reach is None else self.reach.passenger_ids
        return Response(
            BoardingPassSerializer(selectors.boarding_passes(booking=booking, passenger_ids=passengers), many=True).data
        )


def _segment_of(booking: Booking, sequence: int, field: str) -> Segment:
    found = next((s for s in booking.segments.all() if s.sequence == sequence), None)
    if found is None:
        raise exceptions.ValidationError({field: [_("The booking has no such segment.")]})
    return found


def _passenger_of(
    booking: Booking, sequence: int, field: str, reach: selectors.PassengerBooking | None = None
) -> BookingPassenger:
    """A traveller of the booking by sequence; for a co-traveller, only one of their own."""
    found = next((p for p in booking.passengers.all() if p.sequence == sequence), None)
    if found is None or (reach is not None and not reach.shows(found.pk)):
        raise exceptions.ValidationError({field: [_("The booking has no such passenger.")]})
    return found
