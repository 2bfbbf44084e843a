"""Public tracking addresses that sent messages point at: the open pixel, the click redirect, and the bounce
webhook the e-mail provider calls. None needs a login: the signed token (or the shared secret) is the proof."""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crm.errors import ApplicationError
from marketing import services

# The smallest transparent GIF: 1×1, one colour.
PIXEL = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
SECRET_HEADER = "X-Marketing-Webhook-Secret"  # noqa: S105 - the header's name, not a secret
MAX_BODY = 64 * 1024


@never_cache
@require_GET
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    """Always the pixel, so a mail client never shows a broken image; a bad token just records nothing."""
    services.open_record(token=token)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the URL the token was signed for; anything else is a 404, never an open redirect."""
    url = services.click_record(token=token)
    if url is None:
        raise Http404("Unknown link.")
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


def _error(code: str, message: str, status: int, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


# The e-mail provider's servers call this with no session and no CSRF token: the shared secret authenticates them.
@csrf_exempt
@require_POST
def bounce_webhook(request: HttpRequest) -> HttpResponse:
    """``{"message_id", "email", "type": "hard"|"soft"}``; 202 once recorded (again for a repeat)."""
    given = request.headers.get(SECRET_HEADER, "")
    expected = settings.MARKETING_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _error("permission_denied", _("The webhook secret is missing or wrong."), 403)
    if len(request.body) > MAX_BODY:
        return _error("invalid", _("The request body is too large."), 400)
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _error("invalid", _("The body must be a JSON object."), 400)
    if not isinstance(body, dict):
        return _error("invalid", _("The body must be a JSON object."), 400)
    values = {name: body.get(name, "") for name in ("message_id", "email", "type")}
    wrong = {name: [_("Must be a string.")] for name, value in values.items() if not isinstance(value, str)}
    if wrong:
        return _error("invalid", _("Some fields are not strings."), 400, wrong)
    try:
        services.bounce_record(message_id=values["message_id"], email=values["email"], kind=values["type"])
    except ApplicationError as error:
        return _error(error.code, error.message, 400, error.fields)
    return JsonResponse({"status": "accepted"}, status=202)
