"""A limit on failed logins per client address, against password spraying.

django-axes locks one username tried from one address; someone trying one password on many usernames
never reaches that limit. This counts every failed login from an address (``crm.http.client_ip``),
whatever the username, and refuses further attempts from it once ``LOGIN_FAILURES_PER_IP`` is reached,
until the window (``LOGIN_FAILURES_PER_IP_WINDOW_MINUTES``) ends. The limit is high enough for an
office behind one address, far below what spraying takes.

Refusal goes through axes' own signal (``request.axes_locked_out``), so every login surface shows what
it already shows for a locked login: the portal and office their lockout page, the API a 429.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest

from crm.http import client_ip


def _key(request: HttpRequest) -> str:
    return f"crm:login-failures:{client_ip(request)}"


def client_is_locked_out(request: HttpRequest) -> bool:
    return (cache.get(_key(request)) or 0) >= settings.LOGIN_FAILURES_PER_IP


@receiver(user_login_failed, dispatch_uid="crm.login_limits.count_failure")
def count_failure(sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is None:
        return
    window = int(settings.LOGIN_FAILURES_PER_IP_WINDOW_MINUTES * 60)
    if hasattr(cache, "count"):
        cache.count(_key(request), window)
    elif not cache.add(_key(request), 1, timeout=window):
        cache.incr(_key(request))


class ClientAddressLoginLimitBackend:
    """First of the authentication backends: stops the attempt before any password is checked.

    It has no ``get_user``, like axes' backend, so it never holds a session: the backend that checked the
    password does."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if request is not None and client_is_locked_out(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            raise PermissionDenied
        return None
