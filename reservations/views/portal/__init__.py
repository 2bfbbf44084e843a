"""The passengers' trips in the portal: search, book, pay, my trips, manage, check in, boarding pass,
flight status.

Every booking page finds the booking by record locator through a passenger-scoped selector, so someone
else's booking is a 404. Checking in without logging in is allowed once the reference and a traveller's
family name match, for that one booking and for a short while (a signed, time-limited marker).
"""

from reservations.views.portal.booking import book, confirmation, pay
from reservations.views.portal.check_in import (
    boarding_pass,
    boarding_pass_barcode,
    boarding_pass_pdf,
    check_in,
    check_in_flight,
    check_in_lookup,
    check_in_pay,
    check_in_seats,
    seats,
)
from reservations.views.portal.disruption import disruption, disruption_choice
from reservations.views.portal.search import search
from reservations.views.portal.status import flight_status
from reservations.views.portal.trips import cancel, change, receipt_pdf, trip, trip_frequent_flyer, trip_ics, trips

__all__ = [
    "boarding_pass",
    "boarding_pass_barcode",
    "boarding_pass_pdf",
    "book",
    "cancel",
    "change",
    "check_in",
    "check_in_flight",
    "check_in_lookup",
    "check_in_pay",
    "check_in_seats",
    "confirmation",
    "disruption",
    "disruption_choice",
    "flight_status",
    "pay",
    "receipt_pdf",
    "search",
    "seats",
    "trip",
    "trip_frequent_flyer",
    "trip_ics",
    "trips",
]
