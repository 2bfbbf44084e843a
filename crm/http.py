"""Who is asking: the one place that turns a request into the client's address.

Every rate limit and lockout (API throttles, the check-in lookup, django-axes, the per-address login
limit) keys on ``client_ip``, so a forged ``X-Forwarded-For`` cannot give one client many addresses.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting exactly ``TRUSTED_PROXY_COUNT`` proxies in front of the server.

    With none (the default), only the socket's address counts and ``X-Forwarded-For`` is ignored. With n,
    each proxy appends the address it saw, so the n-th entry from the right was written by the outermost
    trusted proxy; whatever the client put to the left of it is never read. A header shorter than n means
    the request did not come through every proxy: the socket's address is used then.
    """
    meta = getattr(request, "META", {})
    remote = meta.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            forwarded = _address(hops[-count])
            if forwarded:
                return forwarded
    return remote
