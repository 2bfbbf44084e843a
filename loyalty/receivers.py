"""Reactions to other apps' events and this app's customer-record extension."""

from django.utils.translation import gettext_lazy

from crm import registry

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
