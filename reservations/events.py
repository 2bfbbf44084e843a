"""What happened to bookings and flights, for apps downstream (loyalty, support, marketing, analytics).

Each event is a Django signal; connect a receiver in your app's ``receivers.py``. The sender is the
model class named below, and every payload is JSON: ids and codes, never text a person reads and never
model instances (load what you need, fresh). Events go out through ``crm.events.send_after_commit``:
only once the change is committed, each receiver through ``send_robust``, so a rolled-back change never
reaches a receiver and a receiver that raises is logged and never fails the booking, the check-in or the
arrival. Receivers run outside the sender's transaction; slow work belongs in a task they queue. A quote
(``booking_cancel_quote``, ``booking_change_quote``, ``baggage_quote``) or a preview sends nothing.

booking_created (sender ``Booking``)
    ``booking_id: int, record_locator: str, channel: str, customer_id: int | None``. Seats are held and
    the booking is priced (``booking_create``); it is not paid yet. ``channel`` is a ``Channel`` code;
    ``customer_id`` is the booker's record, None for a guest booking.
booking_ticketed (sender ``Booking``)
    ``booking_id: int, record_locator: str, ticket_ids: list[int]``. The booking is fully paid and its
    first e-tickets are issued (``booking_ticket``), once per booking. Tickets reissued by a change come
    with ``booking_changed`` instead.
booking_changed (sender ``Booking``)
    ``booking_id: int, record_locator: str, reason: str, old_segment_id: int, new_segment_id: int,
    from_flight_id: int, to_flight_id: int``. One flight of the booking moved to another (or to another
    fare on the same flight). ``reason`` is ``"voluntary"`` (``booking_change_flight``, by the fare's
    rules) or ``"involuntary"`` (``booking_rebook``, off a disrupted flight, free of charge).
booking_cancelled (sender ``Booking``)
    ``booking_id: int, record_locator: str, reason: str``. The booking's unflown flights are cancelled
    and their seats released. ``reason`` is ``"voluntary"`` (asked for by the passenger or an agent on
    their behalf), ``"involuntary"`` (cancelled by the airline) or ``"expired"`` (an unpaid hold ran
    out). Money owed back follows as ``refund_completed``.
refund_completed (sender ``Refund``)
    ``refund_id: int, booking_id: int, record_locator: str, payment_id: int, method: str``. The money is
    back with the payer: a voucher or miles credited at once, or a card or counter refund confirmed
    (``refund_complete``). ``method`` is the ``PaymentMethod`` code. A failed refund sends nothing.
passenger_checked_in (sender ``CheckIn``)
    ``booking_id: int, record_locator: str, flight_id: int, segment_id: int, channel: str,
    passenger_ids: list[int], coupon_ids: list[int], check_in_ids: list[int]``. One per ``check_in``
    call: the travellers of one booking accepted together for one flight (an infant with its adult).
    ``channel`` is a ``Channel`` code.
no_show (sender ``Flight``)
    ``flight_id: int, coupon_ids: list[int]``. The flight left (``flight_status_update`` to departed, or
    ``flight_arrive`` for a flight whose departure was never recorded) and these ticketed travellers
    never checked in: their coupons were still open and are now ``no_show``. One per flight, with every
    such coupon; none when everybody checked in.
flight_arrived (sender ``Flight``)
    ``flight_id: int, coupon_ids: list[int]``. The flight landed (``flight_arrive``) and these coupons,
    checked in or boarded, are now flown. One per flight, with every flown coupon (it replaces the old
    per-coupon ``segment_flown``); sent once, even when the arrival is recorded twice. A landing with
    nobody checked in sends it with an empty list.
flight_disrupted (sender ``Flight``)
    ``flight_id: int, reason: str, booking_ids: list[int]``. The flight was cancelled or its delay went
    past ``DISRUPTION_DELAY_MINUTES`` (``flight_status_update``); sent again only when it gets worse
    (a long delay, then a cancellation). ``reason`` is ``"cancelled"`` or ``"delayed"``; the free-text
    explanation operations typed stays on the flight (``Flight.status_reason``). ``booking_ids`` are the
    active bookings on the flight, now flagged as disrupted; each contact has been e-mailed.
"""

from crm.events import Event

booking_created = Event("booking_created")
booking_ticketed = Event("booking_ticketed")
booking_changed = Event("booking_changed")
booking_cancelled = Event("booking_cancelled")
refund_completed = Event("refund_completed")
passenger_checked_in = Event("passenger_checked_in")
no_show = Event("no_show")
flight_arrived = Event("flight_arrived")
flight_disrupted = Event("flight_disrupted")
