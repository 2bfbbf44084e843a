"""Reactions to other apps' events and this app's customer-record extension."""

from typing import Any

from django.dispatch import receiver
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import events as crm_events
from crm import registry
from reservations import events as reservations_events

# --- Navigation: the supervisors' approvals queue ---------------------------------------------

registry.register_nav(
    registry.NavItem(
        registry.OFFICE,
        gettext_lazy("Approvals"),
        "loyalty_office:approvals",
        ("loyalty.view_adjustment", "loyalty.approve_loyalty"),
        current=("approvals",),
        order=55,
    ),
)

# --- Fraud checks: login changes and award bookings -------------------------------------------------


@receiver(crm_events.login_changed, dispatch_uid="loyalty.receivers.remember_login_change")
def remember_login_change(sender: Any, *, customer_id: int | None, what: str, **payload: Any) -> None:
    """A member's login changed: an award for someone else in the next hours gets a second look."""
    from loyalty.services import member_login_changed

    if customer_id is not None:
        member_login_changed(customer_id=customer_id, what=what)


@receiver(reservations_events.booking_ticketed, dispatch_uid="loyalty.receivers.check_award_booking")
def check_award_booking(sender: Any, *, booking_id: int, **payload: Any) -> None:
    """A ticketed booking paid with miles is checked for the take-over pattern (once: flags are keyed)."""
    from loyalty.services import fraud_check_paid_booking

    fraud_check_paid_booking(booking_id=booking_id)


# --- Office menu: partners, liability, fraud review (after Leads, before Duplicates) ------------------

registry.register_nav(
    registry.NavItem(registry.OFFICE, _("Partners"), "loyalty_office:partner_list", permissions=("loyalty.view_partner",), order=52),
    registry.NavItem(
        registry.OFFICE, _("Miles liability"), "loyalty_office:liability",
        permissions=("loyalty.view_programme", "loyalty.view_liability"), order=54,
    ),
    registry.NavItem(registry.OFFICE, _("Fraud review"), "loyalty_office:fraud_queue", permissions=("loyalty.view_fraudflag",), order=56),
)  # fmt: skip
