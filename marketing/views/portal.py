"""Portal pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from marketing import services


# Mail clients send the RFC 8058 one-click POST with no session and no CSRF token; the signed token in
# the address is what authorises it, and all it can do is withdraw consent.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST unsubscribes."""
    if services.unsubscribe_token_read(token=token) is None:
        return render(request, "portal/marketing/unsubscribe.html", {"state": "invalid"}, status=404)
    if request.method == "POST":
        services.unsubscribe(token=token)
        return render(request, "portal/marketing/unsubscribe.html", {"state": "done"})
    return render(request, "portal/marketing/unsubscribe.html", {"state": "confirm", "token": token})
