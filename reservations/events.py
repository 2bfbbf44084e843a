"""Signals reservations sends so downstream apps (loyalty, support, marketing) can react.

Receivers run inside the sender's transaction; anything slow belongs in a task they queue.
"""

from django.dispatch import Signal

# booking: Booking. Sent when a booking is fully paid and its e-tickets are issued.
booking_ticketed = Signal()
# booking: Booking, reason: str. Sent when a booking is cancelled (by the passenger, an agent or expiry).
booking_cancelled = Signal()
# flight: Flight, bookings: list[Booking], reason: str. Cancellation or a delay over the threshold.
flight_disrupted = Signal()
# coupon: Coupon. Sent once per coupon when its flight arrives and the coupon is marked flown.
segment_flown = Signal()
