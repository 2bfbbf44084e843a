"""What happened in the frequent flyer programme, for apps downstream (support, marketing, analytics).

Sent after commit through ``crm.events.send_after_commit``; payloads are ids and codes.

member_enrolled (sender ``Member``)
    ``member_id: int, customer_id: int | None, channel: str``. A customer joined the programme.
tier_changed (sender ``Member``)
    ``member_id: int, customer_id: int | None, old_tier: str, new_tier: str, reason: str``. ``reason`` is
    ``"qualified"`` (a threshold reached), ``"requalification"`` (period end, soft landing),
    ``"status_match"``.
miles_expiring (sender ``Member``)
    ``member_id: int, customer_id: int | None, miles: int, expires_on: str``. The member was warned that
    these award miles expire on that day unless there is activity before.
miles_expired (sender ``Member``)
    ``member_id: int, customer_id: int | None, miles: int``. Award miles were taken off for inactivity.
"""

from crm.events import Event

member_enrolled = Event("member_enrolled")
tier_changed = Event("tier_changed")
miles_expiring = Event("miles_expiring")
miles_expired = Event("miles_expired")
