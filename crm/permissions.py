"""Roles and the field-level rules that go with them."""

from __future__ import annotations

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied

AGENT = "Agent"
SUPERVISOR = "Supervisor"
MARKETER = "Marketer"
ANALYST = "Analyst"
ADMINISTRATOR = "Administrator"
PASSENGER = "Passenger"
STAFF_ROLES = (AGENT, SUPERVISOR, MARKETER, ANALYST, ADMINISTRATOR)


def is_staff_member(user) -> bool:  # noqa: ANN001
    """Back-office access: an active staff account in one of the staff roles (or superuser)."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or user.groups.filter(name__in=STAFF_ROLES).exists()


def can_see_identity_documents(user) -> bool:  # noqa: ANN001
    """Marketers and analysts never receive passport or national ID numbers."""
    return bool(user and user.is_authenticated and user.has_perm("crm.view_identity_documents"))


def mask(value: str | None, *, visible: int = 2) -> str:
    """'X1234567' -> '••••••67': enough to confirm with a caller, not enough to misuse."""
    if not value:
        return ""
    keep = value[-visible:] if len(value) > visible + 2 else ""
    return "•" * (len(value) - len(keep)) + keep


class StaffPermissionRequiredMixin(AccessMixin):
    """Office views: log in at the office login, be staff, and hold every listed permission."""

    permission_required: tuple[str, ...] = ()
    login_url = "office:login"

    def dispatch(self, request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not is_staff_member(request.user) or not request.user.has_perms(self.permission_required):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)
