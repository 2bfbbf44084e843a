"""POST /api/v1/loyalty/upgrades/: move one flight of a booking up a cabin, paid with the booker's miles."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.errors import ApplicationError, NotFound
from crm.models import Cabin
from crm.permissions import is_staff_member
from loyalty.services.upgrades import upgrade_with_miles
from reservations import selectors as reservations_selectors
from reservations.api import PaymentSerializer, StrictSerializer, error
from reservations.models import Booking

STAFF_PERMISSIONS = ("reservations.change_booking", "reservations.add_payment")


class UpgradeInputSerializer(StrictSerializer):
    record_locator = serializers.RegexField(r"^[A-Za-z0-9]{6}$", help_text="The booking, e.g. `K7P2XQ`.")
    segment = serializers.IntegerField(min_value=1, max_value=99, help_text="Segment sequence of the flight to upgrade.")
    cabin = serializers.ChoiceField(choices=Cabin.choices, help_text="A cabin above the flight's own.")
    fare_family = serializers.CharField(
        max_length=20, required=False, help_text="Fare family code in that cabin; default: its first."
    )


class UpgradeResultSerializer(serializers.Serializer):
    record_locator = serializers.CharField(source="booking.record_locator")
    segment = serializers.IntegerField(help_text="Sequence of the flight, now in the new cabin.")
    cabin = serializers.CharField()
    miles = serializers.IntegerField(source="payment.miles", help_text="Miles debited.")
    payment = PaymentSerializer()


class UpgradeAccess(permissions.BasePermission):
    """Logged in; staff also need to change bookings and take payments. Passengers are scoped in the view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return not is_staff_member(user) or user.has_perms(STAFF_PERMISSIONS)


class UpgradeView(APIView):
    permission_classes = [UpgradeAccess]

    @extend_schema(
        operation_id="loyalty_upgrades_create",
        summary="Upgrade a flight with miles",
        description="Moves every traveller of one flight of the booking to a higher cabin on the same flight "
        "and pays all the change adds (fare difference, change fee) with the booker's miles, at the award "
        "chart's difference between the two cabins in the flight's distance zone. A household's head spends "
        "the pooled miles. All or nothing: with too few miles nothing moves. A passenger upgrades only "
        "bookings they made (404 for anyone else's, 403 `booker_only` for a co-traveller).",
        request=UpgradeInputSerializer,
        responses={
            201: UpgradeResultSerializer,
            400: error("`not_a_member`, `not_an_upgrade` (not a higher cabin), `invalid_segment`, `change_not_allowed`."),
            403: error("`booker_only`: only the person who made the booking can upgrade it."),
            404: error("No booking with this reference (or not one this login may reach)."),
            409: error("`insufficient_miles`; `sold_out` / `fare_unavailable`: no seat in that cabin."),
        },
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = UpgradeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        booking = self._booking(request, d["record_locator"])
        segment = booking.segments.filter(sequence=d["segment"]).select_related("flight").first()
        if segment is None:
            message = _("Choose a flight of this booking.")
            raise ApplicationError(message, code="invalid_segment", fields={"segment": [message]})
        with transaction.atomic():
            payment = upgrade_with_miles(
                booking=booking, segment=segment, cabin=d["cabin"], fare_family=d.get("fare_family"), by=request.user
            )
        upgraded = booking.segments.filter(flight_id=segment.flight_id, status="confirmed").order_by("-pk").first()
        body = {"booking": booking, "segment": upgraded.sequence, "cabin": upgraded.cabin, "payment": payment}
        return Response(UpgradeResultSerializer(body).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _booking(request: Request, record_locator: str) -> Booking:
        if is_staff_member(request.user):
            return reservations_selectors.booking_get(record_locator=record_locator)
        try:
            return reservations_selectors.booking_get_for_passenger(user=request.user, record_locator=record_locator)
        except NotFound:
            raise NotFound(_("No booking with this reference.")) from None


def register(router) -> list:  # noqa: ANN001
    from django.urls import re_path

    return [re_path(r"^loyalty/upgrades/$", UpgradeView.as_view(), name="api-loyalty-upgrades")]
