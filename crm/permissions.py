"""Roles and the field-level rules that go with them."""

from __future__ import annotations

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import connection

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
    return user.is_superuser or bool(roles_of(user) & set(STAFF_ROLES))


def login_needs_verification(user) -> bool:  # noqa: ANN001
    """A passenger whose e-mail address is not verified may not log in, in the portal or the API. Staff
    accounts are created by administrators, not by signing up, so they have nothing to verify."""
    return user.email_verified_at is None and not user.is_staff


def roles_of(user) -> frozenset[str]:  # noqa: ANN001
    """The login's roles (group names), kept on the user object for the rest of the request.

    The same single query also fills ModelBackend's permission caches (the attributes it reads before
    querying), so the has_perm checks that follow a role check cost nothing: every back-office API call
    makes both, and two more queries per call were a third of a customer search's time.
    """
    cached = getattr(user, "_role_names", None)
    if cached is not None:
        return cached
    roles, own, via_roles = set(), set(), set()
    with connection.cursor() as cursor:
        cursor.execute(_ROLES_AND_PERMISSIONS_SQL, [user.pk, user.pk, user.pk])
        for kind, value in cursor.fetchall():
            {"role": roles, "own": own, "via_role": via_roles}[kind].add(value)
    user._role_names = frozenset(roles)
    if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
        user._user_perm_cache, user._group_perm_cache, user._perm_cache = own, via_roles, own | via_roles
    return user._role_names


_ROLES_AND_PERMISSIONS_SQL = """
SELECT 'role', g.name FROM crm_user_groups ug JOIN auth_group g ON g.id = ug.group_id WHERE ug.user_id = %s
UNION ALL
SELECT 'via_role', ct.app_label || '.' || p.codename
FROM crm_user_groups ug
JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
JOIN auth_permission p ON p.id = gp.permission_id
JOIN django_content_type ct ON ct.id = p.content_type_id
WHERE ug.user_id = %s
UNION ALL
SELECT 'own', ct.app_label || '.' || p.codename
FROM crm_user_user_permissions up
JOIN auth_permission p ON p.id = up.permission_id
JOIN django_content_type ct ON ct.id = p.content_type_id
WHERE up.user_id = %s
"""


def can_see_identity_documents(user) -> bool:  # noqa: ANN001
    """Marketers and analysts never receive passport or national ID numbers."""
    return bool(user and user.is_authenticated and user.has_perm("crm.view_identity_documents"))


def mask(value: str | None, *, visible: int = 2) -> str:
    """'X1234567' -> '••••••67': enough to confirm with a caller, not enough to misuse."""
    if not value:
        return ""
    keep = value[-visible:] if len(value) > visible + 2 else ""
    return "•" * (len(value) - len(keep)) + keep


class MissingPermissions(PermissionDenied):
    """Refused for want of these permissions: the 403 page names them instead of a bare "Forbidden"."""

    def __init__(self, permissions: tuple[str, ...] = ()) -> None:
        super().__init__("Missing permissions: " + ", ".join(permissions))
        self.permissions = tuple(permissions)


def missing_permissions(user, permissions: tuple[str, ...]) -> tuple[str, ...]:  # noqa: ANN001
    return tuple(p for p in permissions if not user.has_perm(p))


class StaffPermissionRequiredMixin(AccessMixin):
    """Office views: log in at the office login, be staff, and hold every listed permission."""

    permission_required: tuple[str, ...] = ()
    login_url = "office:login"

    def dispatch(self, request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not is_staff_member(request.user):
            raise PermissionDenied
        if not request.user.has_perms(self.permission_required):
            raise MissingPermissions(missing_permissions(request.user, self.permission_required))
        return super().dispatch(request, *args, **kwargs)
