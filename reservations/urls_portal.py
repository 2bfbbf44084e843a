"""The passengers' trips in the portal: flights, booking, my trips, check-in, flight status."""

from django.urls import path

from reservations.views import portal

app_name = "reservations_portal"
urlpatterns = [
    path("flights/", portal.search, name="search"),
    path("book/", portal.book, name="book"),
    path("trips/", portal.trips, name="trips"),
    path("trips/<str:record_locator>/", portal.trip, name="trip"),
    path("trips/<str:record_locator>/pay/", portal.pay, name="pay"),
    path("trips/<str:record_locator>/confirmation/", portal.confirmation, name="confirmation"),
    path("trips/<str:record_locator>/receipt.pdf", portal.receipt_pdf, name="receipt_pdf"),
    path("trips/<str:record_locator>/trip.ics", portal.trip_ics, name="trip_ics"),
    path("trips/<str:record_locator>/cancel/", portal.cancel, name="cancel"),
    path("trips/<str:record_locator>/frequent-flyer/", portal.trip_frequent_flyer, name="trip_frequent_flyer"),
    path("trips/<str:record_locator>/disruption/", portal.disruption, name="disruption"),
    path("trips/<str:record_locator>/disruption/choice/", portal.disruption_choice, name="disruption_choice"),
    path("trips/<str:record_locator>/flights/<int:sequence>/change/", portal.change, name="change"),
    path("trips/<str:record_locator>/flights/<int:sequence>/seats/", portal.seats, name="seats"),
    path("check-in/", portal.check_in_lookup, name="check_in_lookup"),
    path("check-in/<str:record_locator>/", portal.check_in, name="check_in"),
    path("check-in/<str:record_locator>/flights/<int:sequence>/", portal.check_in_flight, name="check_in_flight"),
    path("check-in/<str:record_locator>/flights/<int:sequence>/pay/", portal.check_in_pay, name="check_in_pay"),
    path("check-in/<str:record_locator>/flights/<int:sequence>/seats/", portal.check_in_seats, name="check_in_seats"),
    path(
        "check-in/<str:record_locator>/boarding-pass/<int:check_in_id>/",
        portal.boarding_pass,
        name="boarding_pass",
    ),
    path(
        "check-in/<str:record_locator>/boarding-pass/<int:check_in_id>/boarding-pass.pdf",
        portal.boarding_pass_pdf,
        name="boarding_pass_pdf",
    ),
    path(
        "check-in/<str:record_locator>/boarding-pass/<int:check_in_id>/barcode.png",
        portal.boarding_pass_barcode,
        name="boarding_pass_barcode",
    ),
    path("flight-status/", portal.flight_status, name="flight_status"),
]
