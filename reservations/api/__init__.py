"""Reservations API: flight search, seat maps and flight status; bookings with payments, seats,
cancellation, check-in and boarding passes.

Input serializers validate, a service in ``reservations.services`` does the work, output serializers
render. Who reaches what:

- ``/flights/search/``, ``/flights/{id}/seat-map/`` and ``/flight-status/`` are public, like the
  timetable on the airline's website: no personal data, throttled per client address.
- ``/bookings/`` needs a login. A passenger (a login that is not staff) sees, books, pays, cancels
  and checks in only their own bookings (booked by them or with them on board): **404 for anyone
  else's**. Someone who only travels on a booking another customer made (``access: traveller``)
  reaches their own travellers (and may change their own frequent flyer number), seats, tickets,
  check-in and boarding passes, and nothing of the booker's contacts or money; every other action is
  the booker's (**403** ``booker_only``).
- Staff need what the office booking page needs (``reservations.view_booking`` and
  ``view_bookingpassenger``, so not analysts) plus the permission for the action, as the office asks
  it; every staff read of one booking is recorded in the customer access log for each customer on it.
- Flight times are ISO 8601 in each airport's local time (the offset says which), as printed on
  a ticket; money is a decimal string with its ISO 4217 currency.
"""

from reservations.api.bookings import (
    BookingAccess,
    BookingCreateInputSerializer,
    BookingFilter,
    BookingPassengerSerializer,
    BookingSerializer,
    BookingSummarySerializer,
    BookingViewSet,
    CancelInputSerializer,
    CancelQuoteSerializer,
    CouponSerializer,
    PassengerInputSerializer,
    PassengerSummarySerializer,
    PaymentResultSerializer,
    PlannedRefundSerializer,
    SeatInputSerializer,
    SeatSerializer,
    SegmentActionsSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
    SegmentSummarySerializer,
    TicketSerializer,
    TripActionsSerializer,
)
from reservations.api.check_in import (
    BagsInputSerializer,
    BoardingPassSerializer,
    CheckInInputSerializer,
    CheckInSeatInputSerializer,
    CheckInSerializer,
)
from reservations.api.common import AirportTimeField, LocalTimeField, StrictSerializer, error
from reservations.api.flights import (
    AirportSerializer,
    FareFamilySerializer,
    FlightOptionSerializer,
    FlightSearchQuerySerializer,
    FlightSearchResultSerializer,
    FlightSerializer,
    FlightStatusQuerySerializer,
    FlightStatusSerializer,
    FlightStatusView,
    FlightViewSet,
    LayoverSerializer,
    LowestSerializer,
    OfferSerializer,
    PassengerPriceSerializer,
    PublicReadMixin,
    SeatMapQuerySerializer,
    SeatMapRowSerializer,
    SeatMapSeatSerializer,
    SeatMapSerializer,
    SegmentOfferSerializer,
    TaxLineSerializer,
)
from reservations.api.payments import (
    CardInputSerializer,
    ChargeSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    RefundSerializer,
)


def register(router) -> list:  # noqa: ANN001
    from django.urls import re_path
    from rest_framework.urlpatterns import format_suffix_patterns

    router.register("flights", FlightViewSet, basename="flight")
    router.register("bookings", BookingViewSet, basename="booking")
    return format_suffix_patterns([re_path(r"^flight-status/$", FlightStatusView.as_view(), name="api-flight-status")])


__all__ = [
    "AirportSerializer",
    "AirportTimeField",
    "BagsInputSerializer",
    "BoardingPassSerializer",
    "BookingAccess",
    "BookingCreateInputSerializer",
    "BookingFilter",
    "BookingPassengerSerializer",
    "BookingSerializer",
    "BookingSummarySerializer",
    "BookingViewSet",
    "CancelInputSerializer",
    "CancelQuoteSerializer",
    "CardInputSerializer",
    "ChargeSerializer",
    "CheckInInputSerializer",
    "CheckInSeatInputSerializer",
    "CheckInSerializer",
    "CouponSerializer",
    "FareFamilySerializer",
    "FlightOptionSerializer",
    "FlightSearchQuerySerializer",
    "FlightSearchResultSerializer",
    "FlightSerializer",
    "FlightStatusQuerySerializer",
    "FlightStatusSerializer",
    "FlightStatusView",
    "FlightViewSet",
    "LayoverSerializer",
    "LocalTimeField",
    "LowestSerializer",
    "OfferSerializer",
    "PassengerInputSerializer",
    "PassengerPriceSerializer",
    "PassengerSummarySerializer",
    "PaymentInputSerializer",
    "PaymentResultSerializer",
    "PaymentSerializer",
    "PlannedRefundSerializer",
    "PublicReadMixin",
    "RefundSerializer",
    "SeatInputSerializer",
    "SeatMapQuerySerializer",
    "SeatMapRowSerializer",
    "SeatMapSeatSerializer",
    "SeatMapSerializer",
    "SegmentOfferSerializer",
    "SeatSerializer",
    "SegmentActionsSerializer",
    "SegmentInputSerializer",
    "SegmentSerializer",
    "SegmentSummarySerializer",
    "StrictSerializer",
    "TaxLineSerializer",
    "TicketSerializer",
    "TripActionsSerializer",
    "error",
    "register",
]
